package hakmem

import (
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Segments and the page heap. A segment is 2 MiB of address space, aligned
// to 2 MiB, cut into 128 pages of 16 KiB. A slab is a run of pages serving
// one size class. A pointer finds its segment with one shift (the registry)
// and its slab with one more: seg.pages[(p>>14)&127]. All metadata lives out of
// band, in headers off the Go heap (meta.go); hakmem memory holds only blocks.
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
	// maxSlabBlocks bounds classInfo.nblocks (the 16 B class: one page of
	// 16-byte blocks), and so the slab's free bitmap.
	maxSlabBlocks = pageSize / 16
)

// segment kinds
const (
	kindSmall = iota // pages carved into slabs
	kindLarge        // one large block (large.go)
	kindFreed        // the registry tombstone
)

// Temperatures of a cached segment or large block (scavenger.go): how much
// of it the OS has been told it may take back.
const (
	tempHot  = iota // mapped and resident, as it was freed
	tempWarm        // madvise(MADV_FREE): the OS may drop the pages lazily
	tempCold        // madvise(MADV_DONTNEED): the pages are gone, reads see zeros
)

// segment is the metadata of one mapping: a 2 MiB segment of slabs, or one
// large block. The registry maps every 2 MiB chunk of the mapping to it.
type segment struct {
	base uintptr // first byte; immutable
	kind uint8   // immutable

	// For kindLarge: the block's mapped length in bytes, and the site whose
	// BigCache takes the block back when it is freed. Immutable (a Realloc
	// that resizes the mapping makes a new segment).
	largeSize uintptr
	site      int32
	// learnAt is when the learning layer sampled the large block, ns on the
	// learner clock plus one, for its lifetime; 0 when it was not sampled.
	// Set by the allocating goroutine, swapped out by the free (learn_profile.go).
	learnAt atomic.Int64

	// The rest is guarded by heap.mu.
	cached  bool                   // kindSmall: empty and in heap.cache; kindLarge: free, in the BigCache
	temp    uint8                  // while cached: tempHot, tempWarm or tempCold
	freedAt int64                  // while cached: when it was cached, ns on the hakmem clock (now())
	dirtyAt int64                  // kindSmall, live: when dirty gained its first page, ns; 0 when dirty is empty
	q       [2]segLink             // queue links: qPrimary (heap.cache, a site's BigCache list), qLRU (the BigCache LRU)
	used    pageSet                // pages given to slabs
	dirty   pageSet                // free pages that may still be resident (freed by a slab since the last purge)
	purged  pageSet                // free pages dropped by purgeDirty and not handed to a slab since (Stats.DroppedBytes)
	maxRun  uint8                  // longest run of free pages, the bucket index
	next    *segment               // in heap.buckets[maxRun]
	prev    *segment               //
	pages   [pagesPerSegment]*slab // page -> its slab, nil when free; read by Free without lock
	slabs   *[pagesPerSegment]slab // slab descriptors, slabs[i] for a run starting at page i; set by mapSegment, nil for kindLarge
}

// span is the number of bytes the segment maps.
func (s *segment) span() uintptr {
	if s.kind == kindLarge {
		return s.largeSize
	}
	return segmentSize
}

// slab is a run of pages cut into blocks of one class.
//
// The fields above the line are set by the page heap before the slab is
// published to a central list and do not change while it is in use; Free
// reads them without a lock (the program's own synchronisation orders its
// Free after the Alloc that published them). The rest is guarded by the
// class's central.mu.
type slab struct {
	base   uintptr // address of block 0
	size   uintptr // block size, bytes
	divMul uint64  // see classInfo
	// blockInv and blockRot are the boundary test's (classInfo): the hot
	// free paths take the block index from them, and isBlock.
	blockInv uint64
	nblocks  uint32
	class    uint8
	npages   uint8
	blockRot uint8
	seg      *segment
	// heap is the address of the heapRec of the Heap that owns the slab,
	// orphanHeap for a detached heap's slab waiting to be adopted
	// (heap_orphan.go), 0 for a slab of the central lists (heap.go). Set
	// before the slab's first block is handed out, changed when a heap
	// adopts or leaves the slab, cleared when it goes to the page heap or
	// the central lists; Free reads it on the line it loaded for base and
	// size, and a non-zero value sends the block to its owner's remote map.
	heap atomic.Uintptr
	// ----
	owner atomic.Int32 // P that last refilled from this slab (stats only; read by Free)
	// inh marks the blocks a heap inherited with the slab when it adopted
	// it (live blocks of an ended heap, heap_orphan.go): a bitmap off the
	// Go heap (inhPool), nil when there are none; ninh counts its bits.
	// The owning heap's alone.
	inh  *[maxSlabBlocks / 64]uint64
	ninh uint32
	// orphanAt is when the slab became an orphan, ns on the hakmem clock
	// (now()); under central.mu while it is one.
	orphanAt int64
	freeMap  [maxSlabBlocks / 64]uint64 // bit i set: block i is free on the slab (central.go); for a heap's slab, owned by the heap's goroutine instead of central.mu
	nfree    uint32                     // bits set in freeMap
	next     *slab                      // in central.partial or orphans, or in its heap's avail or full list
	prev     *slab                      //
	// remote has bit i set when block i of a heap's slab was freed by
	// another goroutine (a remote free, heap.go): one atomic OR by the
	// freer, taken back by the heap's goroutine with an atomic swap.
	remote [maxSlabBlocks / 64]atomic.Uint64
}

// The block validator: every free path (Free, TryFree, the slow free,
// Heap.Free, UsableSize, the central lists taking blocks back) finds the
// block it was given with these three steps, then claims it with the
// cookie (claimBlock, mem.go) where it frees:
//   - registry: p lies in a segment of small blocks (regLookup(p).smallBlock);
//   - page: p's page belongs to a slab (slabAt);
//   - boundary: p is the start of one of the slab's blocks, not an interior
//     pointer nor in the slab's tail (isBlock).
// Each step is a leaf the compiler inlines, so the fast paths carry them
// as if written out.

// smallBlock returns the slab of which p starts a block, nil when seg (p's
// segment in the registry, possibly nil) is not a small-block segment, p's
// page holds no slab or p is not at a block boundary.
func (seg *segment) smallBlock(p uintptr) *slab {
	if seg == nil || seg.kind != kindSmall {
		return nil
	}
	if s := seg.slabAt(p); s != nil && s.isBlock(p) {
		return s
	}
	return nil
}

// slabAt returns the slab on p's page of the small-block segment seg, nil
// when the page is free.
func (seg *segment) slabAt(p uintptr) *slab {
	return seg.pages[(p>>pageShift)&(pagesPerSegment-1)]
}

// isBlock reports whether p starts one of s's blocks: the boundary test
// (classInfo) fails an interior pointer, one into the tail past the last
// block and one below the slab.
func (s *slab) isBlock(p uintptr) bool {
	return blockAt(p-s.base, s.blockInv, s.blockRot) < uint64(s.nblocks)
}

// blockAt is the boundary test (classInfo) of offset off for a block size
// of odd part inverse inv and power of two rot: the index of the block off
// starts, or a number above any block count when off starts none.
func blockAt(off uintptr, inv uint64, rot uint8) uint64 {
	return bits.RotateLeft64(uint64(off)*inv, -int(rot))
}

// blockIndex is the index of the block of s that p lies in: the offset
// times the reciprocal of the size (divMul).
func (s *slab) blockIndex(p uintptr) uintptr {
	return uintptr(uint64(p-s.base) * s.divMul >> divShift)
}

// swapSnapshot installs configuration snapshot p and applies at once
// what its caches cannot wait for: a BigCache turned off is emptied, and a
// segment cache over its new bound is trimmed. It returns the snapshot it
// replaced. The swap is under h.mu, so no slow path caches a block under
// the old bounds after the trim.
func (h *pageHeap) swapSnapshot(p *snapshot) *snapshot {
	h.mu.Lock()
	old := storeSnapshot(p)
	var unmap []*segment
	if !p.bigCacheOn() {
		for s := h.big.lru.tail; s != nil; s = h.big.lru.tail {
			h.big.evict(s)
			h.dropLarge(s)
			unmap = append(unmap, s)
		}
	}
	for h.cache.n > p.segmentCache {
		s := h.cache.tail
		h.cache.remove(s)
		h.unmapSegment(s)
		h.segEvicted++
	}
	for _, s := range unmap {
		osUnmap(s.base, s.largeSize)
		freeSegment(s)
	}
	h.mu.Unlock()
	return old
}

// pageHeap is the single owner of segments and large blocks.
type pageHeap struct {
	mu sync.Mutex
	// buckets[k] lists live segments whose longest free run is k pages, so
	// a slab of n pages goes into the fullest segment that fits (best fit).
	buckets [pagesPerSegment + 1]*segment
	// cache holds empty segments kept mapped, newest first: an LRU bounded
	// by HAKMEM_SEGMENT_CACHE (count) and HAKMEM_DECAY_MS (age).
	cache segQueue

	nsegments int      // segments mapped, cached included
	freePages uint64   // unused pages in mapped segments, cached included
	nslabs    int      // slabs in use
	large     int      // large blocks held by the program
	largeSize uint64   // their bytes
	reserved  uint64   // bytes being mapped right now outside the lock (large.go), for the memory limit
	big       bigCache // freed large blocks kept for reuse (bigcache.go)

	dirtySegs  int    // live segments with dirty pages (dirtyAt != 0)
	segEvicted uint64 // cached segments unmapped because the cache was full or the memory limit needed room
	segDecayed uint64 // cached segments unmapped by the scavenger or Release

	pagesPurged uint64 // free slab pages of live segments dropped by the scavenger or Release (Stats.PagesPurged)

	// retired lists empty segments tombstoned in the registry and waiting
	// for a pin barrier before they are unmapped (retire.go); reaping holds
	// the batch a reaper took, until it has unmapped it. Both are still
	// counted in nsegments and freePages. nretired mirrors retired.n for a
	// lock-free look.
	retired  segQueue
	reaping  []*segment
	nretired atomic.Int32

	// spare lists the address ranges of reaped segments, kept mapped with
	// their pages dropped (retire.go), newest first, linked through
	// spareNode.next; nspare counts them. Not counted in nsegments.
	spare  *spareNode
	nspare int
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
		if seg = h.cache.head; seg != nil {
			h.cache.remove(seg)
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
	seg.purged.set(first, n, false)
	if seg.dirtyAt != 0 {
		if seg.dirty.set(first, n, false); seg.dirty.empty() {
			h.setClean(seg)
		}
	}
	h.freePages -= uint64(n)
	h.nslabs++
	s = &seg.slabs[first]
	ci := &classes[c]
	s.base = seg.base + uintptr(first)<<pageShift
	s.size = uintptr(ci.size)
	s.divMul = ci.divMul
	s.blockInv, s.blockRot = ci.blockInv, ci.blockRot
	s.nblocks = ci.nblocks
	s.class = c
	s.npages = uint8(n)
	s.seg = seg
	s.owner.Store(-1)
	s.heap.Store(0) // the caller that takes the slab for a heap sets it
	for i := range s.remote {
		s.remote[i].Store(0) // a stale remote free of the slab's last life (heap.go)
	}
	s.freeMap, s.nfree, s.next, s.prev = [maxSlabBlocks / 64]uint64{}, 0, nil, nil
	s.inh, s.ninh = nil, 0 // given back by whoever let the slab go (heap_orphan.go)
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
	config := cfg() // under heap.mu: publish trims the segment cache under it too
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
		// The pages stay resident until the scavenger or Release purges
		// them (purgeDirty): not on every slab free.
		if seg.dirtyAt == 0 {
			seg.dirtyAt = max(now(), 1)
			h.dirtySegs++
			scavengerKick(seg.dirtyAt + config.decayNs)
		}
		seg.dirty.set(first, int(s.npages), true)
		h.bucket(seg)
		return
	}
	h.setClean(seg)
	if config.segmentCache == 0 {
		h.unmapSegment(seg)
		return
	}
	seg.cached, seg.temp, seg.freedAt = true, tempHot, now()
	h.cache.pushFront(seg)
	for h.cache.n > config.segmentCache { // evict the coldest
		old := h.cache.tail
		h.cache.remove(old)
		h.unmapSegment(old)
		h.segEvicted++
	}
	scavengerKick(seg.freedAt + min(config.warmNs, config.coldNs, config.decayNs))
}

func (h *pageHeap) mapSegment() (*segment, error) {
	if err := h.checkLimit(segmentSize); err != nil {
		return nil, err
	}
	base, reused, err := h.takeSpare()
	if err != nil {
		return nil, err
	}
	if !reused {
		if base, err = osMap(segmentSize, segmentSize); err != nil {
			return nil, err
		}
	}
	config := cfg()
	config.logAttrs(debugVerbose, "map segment", slog.String("addr", hexAddr(base)), slog.Bool("spare", reused))
	if config.thp == thpOn {
		osHugepage(base, segmentSize)
	}
	if err = regEnsure(base, segmentSize); err != nil {
		osUnmap(base, segmentSize)
		return nil, err
	}
	seg, err := newSegment(true)
	if err != nil {
		osUnmap(base, segmentSize)
		return nil, err
	}
	seg.base, seg.kind = base, kindSmall
	h.nsegments++
	h.freePages += pagesPerSegment
	regSet(base, segmentSize, seg)
	return seg, nil
}

// unmapSegment returns an empty, unlisted segment to the OS: the registry
// gets the tombstone now, so a stale Free sees "freed", and the memory goes
// once a pin barrier has passed (retire.go). Caller holds heap.mu.
func (h *pageHeap) unmapSegment(seg *segment) { h.retire(seg) }

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
// slab (or, for segment.dirty, free and maybe resident). Its searches run
// on the slow path only; whole words are skipped at once, so a large slab
// (the 1 MiB class spans 64 pages) costs a few word operations, not a loop
// per page.
type pageSet [pagesPerSegment / 64]uint64

func (ps *pageSet) get(i int) bool { return ps[i/64]&(1<<(i%64)) != 0 }

func (ps *pageSet) set(first, n int, on bool) {
	for n > 0 {
		w, b := first/64, first%64
		k := min(n, 64-b)
		m := (^uint64(0) >> (64 - k)) << b
		if on {
			ps[w] |= m
		} else {
			ps[w] &^= m
		}
		first += k
		n -= k
	}
}

// count is the number of pages in the set.
func (ps *pageSet) count() int {
	n := 0
	for _, w := range ps {
		n += bits.OnesCount64(w)
	}
	return n
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
	for i := 0; i < pagesPerSegment; {
		if w := ps[i/64]; i%64 == 0 && (w == 0 || w == ^uint64(0)) {
			if w == 0 {
				run += 64
				best = max(best, run)
			} else {
				run = 0
			}
			i += 64
			continue
		}
		if ps.get(i) {
			run = 0
		} else {
			run++
			best = max(best, run)
		}
		i++
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

// Queue link indexes in segment.q.
const (
	qPrimary = 0 // heap.cache, or the block's site list in the BigCache
	qLRU     = 1 // the BigCache's global LRU
)

// segLink links a segment into a segQueue.
type segLink struct{ next, prev *segment }

// segQueue is an intrusive doubly linked list of segments through
// segment.q[link], newest at head. Guarded by heap.mu.
type segQueue struct {
	head, tail *segment // newest, oldest
	n          int      // segments listed
	bytes      uint64   // their span() total
	link       uint8    // qPrimary or qLRU
}

func (q *segQueue) pushFront(s *segment) {
	l := &s.q[q.link]
	l.prev, l.next = nil, q.head
	if q.head != nil {
		q.head.q[q.link].prev = s
	} else {
		q.tail = s
	}
	q.head = s
	q.n++
	q.bytes += uint64(s.span())
}

func (q *segQueue) remove(s *segment) {
	l := &s.q[q.link]
	if l.prev != nil {
		l.prev.q[q.link].next = l.next
	} else {
		q.head = l.next
	}
	if l.next != nil {
		l.next.q[q.link].prev = l.prev
	} else {
		q.tail = l.prev
	}
	l.next, l.prev = nil, nil
	q.n--
	q.bytes -= uint64(s.span())
}
