package hakmem

import "log/slog"

// The large path: requests above a site's routing threshold (by default
// maxSmall, 1 MiB) get a mapping of their own, rounded up to the OS page and
// aligned to 2 MiB so that the registry (one entry per 2 MiB) can name the
// block. The alignment costs address space only: osMap trims what the block
// does not use. A freed block goes to its site's BigCache (bigcache.go) when
// the limits allow, and is unmapped otherwise. Everything that touches the
// heap's state runs under heap.mu; mmap and munmap run outside it.

const (
	osPageSize = 4096 // rounding unit of large blocks
	// MaxAlloc is the largest size hakmem accepts (32 TiB). Bigger requests
	// fail with ErrSizeTooLarge before any system call; smaller ones the OS
	// cannot back fail with ErrOutOfMemory. It is far below the point where
	// rounding to pages or to 2 MiB could overflow a uintptr.
	MaxAlloc = 1 << 45
)

// roundLarge is the mapped length of a large block of size bytes
// (0 < size <= MaxAlloc, so the addition cannot overflow).
func roundLarge(size uintptr) uintptr { return (size + osPageSize - 1) &^ (osPageSize - 1) }

// allocLarge returns a large block of at least size bytes for site sid:
// from the site's BigCache, else a new mapping. zeroed reports that every
// byte of the block is known to be zero (a fresh mapping, or a cached block
// whose pages were dropped with MADV_DONTNEED).
func allocLarge(size uintptr, sid int32) (p, usable uintptr, zeroed bool, err error) {
	ensureInit() // a large allocation may be the process's first call
	usable = roundLarge(size)
	heap.mu.Lock()
	if seg := heap.big.take(sid, usable); seg != nil {
		heap.large++
		heap.largeSize += uint64(seg.largeSize)
		zeroed = seg.temp == tempCold && !osMapsGoHeap
		heap.mu.Unlock()
		return seg.base, seg.largeSize, zeroed, nil
	}
	if err = heap.checkLimit(usable); err != nil {
		// Over the limit even with the heap's caches empty: empty the
		// other caches too (releaseAll) and look again, once.
		heap.mu.Unlock()
		releaseAll()
		heap.mu.Lock()
		if err = heap.checkLimit(usable); err != nil {
			heap.mu.Unlock()
			return 0, 0, false, err
		}
	}
	heap.reserved += uint64(usable) // counted against the limit while mapping
	heap.mu.Unlock()

	base, err := osMap(usable, segmentSize)
	config := cfg()
	if err == nil && config.thp != thpOff && usable >= segmentSize {
		// The whole block, tail included: advising part of a mapping
		// would split it in two, and mremap (Realloc) moves only one.
		osHugepage(base, usable)
	}

	heap.mu.Lock()
	heap.reserved -= uint64(usable)
	if err != nil {
		heap.mu.Unlock()
		return 0, 0, false, err
	}
	var seg *segment
	if err = regEnsure(base, usable); err == nil {
		seg, err = newSegment(false)
	}
	if err != nil { // no leaf or header could be mapped: give the block back
		heap.mu.Unlock()
		osUnmap(base, usable)
		return 0, 0, false, err
	}
	seg.base, seg.kind, seg.largeSize, seg.site = base, kindLarge, usable, sid
	regSet(base, usable, seg)
	heap.large++
	heap.largeSize += uint64(usable)
	heap.mu.Unlock()
	config.logAttrs(debugVerbose, "map large block", slog.String("addr", hexAddr(base)), slog.Uint64("bytes", uint64(usable)), slog.Int("site", int(sid)))
	learnMapped(sid, usable) // learn: fresh pages per site (learn_profile.go)
	return base, usable, true, nil
}

// freeLarge frees the large block at p, whose header the caller found in
// the registry as seg: into its site's BigCache, or back to the OS. It
// reports false if the block is not allocated (a double free, or another
// Free of the same block won the race to it). The header is checked again
// under heap.mu against p: a racing Free may have read it before it was
// released and reused for another block (meta.go).
func freeLarge(p uintptr, seg *segment) bool {
	heap.mu.Lock()
	if !heap.isLargeBlock(p, seg) || seg.cached {
		heap.mu.Unlock()
		return false
	}
	heap.large--
	heap.largeSize -= uint64(seg.largeSize)
	config := cfg()
	evicted, cached := heap.big.put(seg, now(), nil)
	for _, s := range evicted {
		heap.dropLarge(s)
	}
	if !cached {
		heap.dropLarge(seg)
	} else {
		warm, cold, decay := stageTimes(config, seg.site)
		scavengerKick(seg.freedAt + min(warm, cold, decay))
	}
	learnAt, sid := seg.learnAt.Swap(0), seg.site // for the learning layer, before the header can go
	// Unmap under the lock: a racing Free that finds the tombstone asks the
	// OS whether the range is mapped (tombstoneError), and must not see it
	// still mapped.
	size := seg.largeSize
	for _, s := range evicted {
		osUnmap(s.base, s.largeSize)
		freeSegment(s)
	}
	if !cached {
		osUnmap(seg.base, seg.largeSize)
		freeSegment(seg)
	}
	heap.mu.Unlock()
	if len(evicted) > 0 || !cached {
		config.logAttrs(debugVerbose, "unmap large block", slog.String("addr", hexAddr(p)), slog.Uint64("bytes", uint64(size)),
			slog.Bool("cached", cached), slog.Int("evicted", len(evicted)))
	}
	learnFreedLarge(learnAt, sid, size) // learn: lifetime of a sampled block (learn_profile.go)
	profileFreedLarge(p)                // hook: heap profile (heapprof.go)
	return true
}

// isLargeBlock reports whether seg is, now, the header of the large block
// that starts at p. Caller holds heap.mu.
func (h *pageHeap) isLargeBlock(p uintptr, seg *segment) bool {
	return seg.kind == kindLarge && seg.base == p && regLookup(p) == seg
}

// dropLarge puts the tombstone on a large block that is leaving (neither
// held nor cached any more); the caller unmaps it before unlocking, so a
// stale Free sees "freed" and no new mapping can take the addresses before
// the registry says so. Caller holds heap.mu.
func (h *pageHeap) dropLarge(seg *segment) {
	regSet(seg.base, seg.largeSize, freedChunk)
}

// largeUsable is the usable size of the large block at p (header seg), or
// 0 when the block is free (cached) or gone.
func largeUsable(p uintptr, seg *segment) uintptr {
	heap.mu.Lock()
	defer heap.mu.Unlock()
	if seg.cached || !heap.isLargeBlock(p, seg) {
		return 0
	}
	return seg.largeSize
}

// reallocLarge resizes the large block of seg (validated by the caller) to
// hold size > maxSmall bytes without copying, and reports whether it could
// (the portable build and a refused mremap make Realloc copy instead). It
// shrinks in place; it grows in place when the addresses after the block
// are free, and otherwise moves the pages (mremap MREMAP_FIXED) onto a
// fresh 2 MiB-aligned mapping, so the registry can still name the block.
// The block keeps its site and its header, which moves with it.
func reallocLarge(base uintptr, seg *segment, size uintptr) (p, usable uintptr, ok bool) {
	if !osRemapSupported {
		return 0, 0, false
	}
	heap.mu.Lock()
	if seg.cached || !heap.isLargeBlock(base, seg) {
		heap.mu.Unlock()
		return 0, 0, false
	}
	nu, old := roundLarge(size), seg.largeSize
	if nu == old {
		heap.mu.Unlock()
		return base, old, true
	}
	if regEnsure(base, nu) != nil {
		heap.mu.Unlock()
		return 0, 0, false // the copying path reports the error
	}
	if nu > old {
		if heap.checkLimit(nu-old) != nil {
			heap.mu.Unlock()
			return 0, 0, false // the copying path reports the error
		}
		heap.reserved += uint64(nu - old)
	}
	heap.mu.Unlock()

	var to uintptr
	err := osRemap(base, old, nu, 0) // shrinking never fails this way
	if err != nil && nu > old {
		if to, err = osMap(nu, segmentSize); err == nil {
			if err = regEnsure(to, nu); err != nil {
				osUnmap(to, nu)
				to = 0
			} else if err = osRemap(base, old, nu, to); err != nil {
				osUnmap(to, nu)
				to = 0
			}
		}
	}
	nb := base
	if to != 0 {
		nb = to
	}
	if err == nil && nu > old && cfg().thp != thpOff && nu >= segmentSize {
		osHugepage(nb, nu)
	}

	heap.mu.Lock()
	defer heap.mu.Unlock()
	if nu > old {
		heap.reserved -= uint64(nu - old)
	}
	if err != nil {
		return 0, 0, false
	}
	if to != 0 || nu < old {
		// The kernel has already released what the block gave up, so
		// another block may be mapped and registered there by now: only
		// the chunks still naming seg get the tombstone.
		regReplace(base, old, seg, freedChunk)
	}
	learnResizedLarge(seg, nu) // learn: a sampled block's lifetime goes on (learn_profile.go)
	seg.base, seg.largeSize = nb, nu
	regSet(nb, nu, seg)
	heap.largeSize = heap.largeSize - uint64(old) + uint64(nu)
	return nb, nu, true
}
