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

// PushStale pushes addr onto the stack for size-byte blocks of the
// current P (every slot's, under the portable pin, which picks a slot at
// random), as a racing double free's second copy would be left there: the
// tests of what a pop does with it. It reports false if a stack is full.
func PushStale(size int, addr uintptr) bool {
	c := sizeClass(uintptr(size))
	push := func(pc *pcache) bool {
		l := &pc.lists[c]
		if l.n >= l.max {
			return false
		}
		storeWord(l.slots+uintptr(l.n)*8, addr)
		l.n++
		pc.moved[c].in.inc() // it came from nowhere: keep cached = in + frees - allocs - out
		return true
	}
	return eachPinnable(push)
}

// OSProtectSupported: the OS layer can make pages inaccessible (checked
// mode's guard pages; not the portable layer).
const OSProtectSupported = osProtectSupported

// OSRemapSupported reports an OS layer that resizes large blocks with
// mremap (Buffer's growth above 1 MiB).
const OSRemapSupported = osRemapSupported && !osMapsGoHeap
