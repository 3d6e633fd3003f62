package hakmem

// Internals exported to the external test package (benchmarks).

// SetBigCacheOn turns the BigCache on or off for a benchmark and returns a
// function that restores the previous limits. Only while nothing else
// allocates.
func SetBigCacheOn(on bool) (restore func()) {
	ensureInit()
	heap.mu.Lock()
	defer heap.mu.Unlock()
	saved := config.bigCacheBytes
	if !on {
		config.bigCacheBytes = 0
		heap.dropCaches()
	}
	return func() {
		heap.mu.Lock()
		config.bigCacheBytes = saved
		heap.mu.Unlock()
	}
}
