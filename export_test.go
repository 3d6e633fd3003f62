package hakmem

// Internals exported to the external test package (benchmarks).

// SetBigCacheOn turns the BigCache on or off for a benchmark and returns a
// function that restores the previous limits. Only while nothing else
// allocates.
func SetBigCacheOn(on bool) (restore func()) {
	ensureInit()
	saved := cfg()
	if !on {
		p := *saved
		p.bigCacheBytes = 0
		publish(&p)
	}
	return func() { publish(saved) }
}

// MappedBytes is ReadStats().MappedBytes without the rest of the snapshot
// (one lock, no allocation), for benchmarks that sample it while they run.
func MappedBytes() uint64 {
	heap.mu.Lock()
	defer heap.mu.Unlock()
	return uint64(heap.nsegments)*segmentSize + heap.largeSize + heap.big.lru.bytes
}

// OSMapsGoHeap reports the portable OS layer, whose "mappings" are Go-heap
// byte slices (never scanned, but counted in the live heap).
const OSMapsGoHeap = osMapsGoHeap

// OSProtectSupported: the OS layer can make pages inaccessible (checked
// mode's guard pages; not the portable layer).
const OSProtectSupported = osProtectSupported
