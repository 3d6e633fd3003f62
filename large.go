package hakmem

// The large path: requests above maxSmall (1 MiB) get a mapping of their
// own, rounded up to the OS page and aligned to 2 MiB so that the registry
// (one entry per 2 MiB) can name the block. The alignment costs address
// space only: osMap trims what the block does not use. Issue #4 adds a
// cache and a free policy in front of this.

const (
	osPageSize = 4096 // rounding unit of large blocks
	// MaxAlloc is the largest size hakmem accepts (32 TiB). Bigger requests
	// fail with ErrSizeTooLarge before any system call; smaller ones the OS
	// cannot back fail with ErrOutOfMemory.
	MaxAlloc = 1 << 45
)

// allocLarge maps a block of at least size bytes (size > maxSmall).
func allocLarge(size uintptr) (p, usable uintptr, err error) {
	usable = (size + osPageSize - 1) &^ (osPageSize - 1)
	base, err := osMap(usable, segmentSize)
	if err != nil {
		return 0, 0, err
	}
	seg := &segment{base: base, kind: kindLarge, largeSize: usable}
	heap.mu.Lock()
	regSet(base, usable, seg)
	heap.large++
	heap.largeSize += uint64(usable)
	heap.mu.Unlock()
	return base, usable, nil
}

// freeLarge unmaps the large block of seg. It reports false if another
// Free of the same block won the race to it.
func freeLarge(seg *segment) bool {
	heap.mu.Lock()
	if regLookup(seg.base) != seg {
		heap.mu.Unlock()
		return false
	}
	regSet(seg.base, seg.largeSize, freedChunk)
	heap.large--
	heap.largeSize -= uint64(seg.largeSize)
	// Unmap under the lock: a racing Free that finds the tombstone asks the
	// OS whether the range is mapped, and must not see it still mapped.
	osUnmap(seg.base, seg.largeSize)
	heap.mu.Unlock()
	return true
}
