package hakmem

import (
	"sync"
	"sync/atomic"
)

// Segments and the page heap. A segment is 2 MiB of address space, aligned
// to 2 MiB, cut into 128 pages of 16 KiB. A slab is a run of pages serving
// one size class. A pointer finds its segment with one shift (the registry)
// and its slab with one more: seg.pages[(p>>14)&127]. All metadata lives out of
// band in the segment struct on the Go heap; hakmem memory holds only blocks.
//
// The page heap owns every segment. It hands out page runs to the central
// lists (central.go) and takes them back when a slab is empty; an empty
// segment goes to a small cache, then back to the OS.

const (
	segmentShift = 21
	segmentSize  = 1 << segmentShift // 2 MiB: huge-page sized and aligned
	// pageShift: 16 KiB pages. A tiny class's slab is one page, so a class
	// that is barely used holds 16 KiB, not 64: with 33 tiny classes this is
	// the difference between 0.5 and 2 MiB of partly used slabs.
	pageShift       = 14
	pageSize        = 1 << pageShift
	pagesPerSegment = segmentSize / pageSize
)

// segment kinds
const (
	kindSmall = iota // pages carved into slabs
	kindLarge        // one large block (large.go)
	kindFreed        // the registry tombstone
)

type segment struct {
	base uintptr // first byte; immutable
	kind uint8   // immutable

	// For kindLarge: the block's mapped length in bytes. Immutable.
	largeSize uintptr

	// The rest is guarded by heap.mu.
	used   pageSet                // pages given to slabs
	maxRun uint8                  // longest run of free pages, the bucket index
	cached bool                   // empty and in heap.cache
	next   *segment               // in heap.buckets[maxRun] or heap.cache
	prev   *segment               //
	pages  [pagesPerSegment]*slab // page -> its slab, nil when free; read by Free without lock
	slabs  [pagesPerSegment]slab  // slab descriptors, slabs[i] for a run starting at page i
}

// slab is a run of pages cut into blocks of one class.
//
// The fields above the line are set by the page heap before the slab is
// published to a central list and do not change while it is in use; Free
// reads them without a lock (the program's own synchronisation orders its
// Free after the Alloc that published them). The rest is guarded by the
// class's central.mu.
type slab struct {
	base    uintptr // address of block 0
	size    uintptr // block size, bytes
	divMul  uint64  // see classInfo
	nblocks uint32
	class   uint8
	npages  uint8
	seg     *segment
	// ----
	owner atomic.Int32 // P that last refilled from this slab (stats only; read by Free)
	free  uintptr      // free list of blocks, linked through word 0
	nfree uint32       // blocks on free
	next  *slab        // in central.partial
	prev  *slab        //
}

// pageHeap is the single owner of segments.
type pageHeap struct {
	mu sync.Mutex
	// buckets[k] lists live segments whose longest free run is k pages, so
	// a slab of n pages goes into the fullest segment that fits (best fit).
	buckets [pagesPerSegment + 1]*segment
	cache   *segment // empty segments kept mapped, newest first
	ncache  int      // segments in cache

	nsegments int    // segments mapped, cached included
	freePages uint64 // unused pages in mapped segments, cached included
	nslabs    int    // slabs in use
	large     int    // large blocks mapped
	largeSize uint64 // their bytes

}

var heap pageHeap

// allocSlab returns a slab of class c with its pages reserved, mapping a new
// segment if none has room. newSeg reports that it had to.
func (h *pageHeap) allocSlab(c uint8) (s *slab, newSeg bool, err error) {
	n := int(classes[c].pages)
	h.mu.Lock()
	defer h.mu.Unlock()
	var seg *segment
	for k := n; k <= pagesPerSegment; k++ {
		if seg = h.buckets[k]; seg != nil {
			break
		}
	}
	if seg == nil {
		if seg = h.cache; seg != nil {
			h.cache = seg.next
			h.ncache--
			seg.cached = false
		} else {
			if seg, err = h.mapSegment(); err != nil {
				return nil, false, err
			}
			newSeg = true
		}
	} else {
		h.unbucket(seg)
	}
	first := seg.used.firstFreeRun(n)
	seg.used.set(first, n, true)
	h.freePages -= uint64(n)
	h.nslabs++
	s = &seg.slabs[first]
	ci := &classes[c]
	s.base = seg.base + uintptr(first)<<pageShift
	s.size = uintptr(ci.size)
	s.divMul = ci.divMul
	s.nblocks = ci.nblocks
	s.class = c
	s.npages = uint8(n)
	s.seg = seg
	s.owner.Store(-1)
	s.free, s.nfree, s.next, s.prev = 0, 0, nil, nil
	for i := first; i < first+n; i++ {
		seg.pages[i] = s
	}
	h.bucket(seg)
	return s, newSeg, nil
}

// freeSlab gives an empty slab's pages back to its segment.
func (h *pageHeap) freeSlab(s *slab) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seg := s.seg
	first := int((s.base - seg.base) >> pageShift)
	for i := first; i < first+int(s.npages); i++ {
		seg.pages[i] = nil
	}
	seg.used.set(first, int(s.npages), false)
	h.freePages += uint64(s.npages)
	h.nslabs--
	h.unbucket(seg)
	if !seg.used.empty() {
		h.bucket(seg)
		return
	}
	if h.ncache < config.segmentCache {
		seg.cached = true
		seg.next = h.cache
		h.cache = seg
		h.ncache++
		return
	}
	h.unmapSegment(seg)
}

// releaseCache unmaps every cached empty segment.
func (h *pageHeap) releaseCache() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for seg := h.cache; seg != nil; {
		next := seg.next
		h.unmapSegment(seg)
		seg = next
	}
	h.cache, h.ncache = nil, 0
}

func (h *pageHeap) mapSegment() (*segment, error) {
	base, err := osMap(segmentSize, segmentSize)
	if err != nil {
		return nil, err
	}
	seg := &segment{base: base, kind: kindSmall}
	h.nsegments++
	h.freePages += pagesPerSegment
	regSet(base, segmentSize, seg)
	return seg, nil
}

// unmapSegment returns an empty, unlisted segment to the OS. The registry
// gets the tombstone before the memory goes, so a stale Free sees "freed".
func (h *pageHeap) unmapSegment(seg *segment) {
	regSet(seg.base, segmentSize, freedChunk)
	osUnmap(seg.base, segmentSize)
	h.nsegments--
	h.freePages -= pagesPerSegment
}

// bucket files seg under its longest free run; unbucket takes it out.
func (h *pageHeap) bucket(seg *segment) {
	seg.maxRun = uint8(seg.used.longestFreeRun())
	seg.prev = nil
	seg.next = h.buckets[seg.maxRun]
	if seg.next != nil {
		seg.next.prev = seg
	}
	h.buckets[seg.maxRun] = seg
}

func (h *pageHeap) unbucket(seg *segment) {
	if seg.prev != nil {
		seg.prev.next = seg.next
	} else {
		h.buckets[seg.maxRun] = seg.next
	}
	if seg.next != nil {
		seg.next.prev = seg.prev
	}
	seg.next, seg.prev = nil, nil
}

// pageSet is a bitmap of a segment's pages, bit i set when page i is in a
// slab. Its searches are plain loops: they run on the slow path only.
type pageSet [pagesPerSegment / 64]uint64

func (ps *pageSet) get(i int) bool { return ps[i/64]&(1<<(i%64)) != 0 }

func (ps *pageSet) set(first, n int, on bool) {
	for i := first; i < first+n; i++ {
		if on {
			ps[i/64] |= 1 << (i % 64)
		} else {
			ps[i/64] &^= 1 << (i % 64)
		}
	}
}

func (ps *pageSet) empty() bool {
	for _, w := range ps {
		if w != 0 {
			return false
		}
	}
	return true
}

// longestFreeRun is the length of the longest run of free pages.
func (ps *pageSet) longestFreeRun() int {
	best, run := 0, 0
	for i := 0; i < pagesPerSegment; i++ {
		if ps.get(i) {
			run = 0
			continue
		}
		run++
		best = max(best, run)
	}
	return best
}

// firstFreeRun is the first page of the first run of n free pages; the
// caller knows one exists.
func (ps *pageSet) firstFreeRun(n int) int {
	run := 0
	for i := 0; i < pagesPerSegment; i++ {
		if ps.get(i) {
			run = 0
			continue
		}
		if run++; run == n {
			return i - n + 1
		}
	}
	panic("hakmem: no free page run where the bucket promised one")
}

// forEachSegment calls f for every mapped segment, under heap.mu.
func (h *pageHeap) forEachSegment(f func(*segment)) {
	for _, s := range h.buckets {
		for ; s != nil; s = s.next {
			f(s)
		}
	}
	for s := h.cache; s != nil; s = s.next {
		f(s)
	}
}
