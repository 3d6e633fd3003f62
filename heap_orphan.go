package hakmem

import (
	"math/bits"
	"unsafe"
)

// Orphans: the slabs of ended heaps, waiting for a new heap to adopt them.
//
// A worker goroutine that ends with Detach leaves its live blocks to
// others, and its successor is usually a new goroutine with a new Heap,
// as a native successor thread gets a new thread-local heap. Were the
// detached slabs handed to the central lists, the successor would take
// fresh slabs for its own blocks while the predecessor's free space went
// to the global API, and every inherited block it freed would be a
// remote free. So, as mimalloc reclaims the segments of threads that
// ended, a detached slab becomes an orphan: it keeps slab.heap set, to
// orphanHeap, so that a block freed into it still goes to its remote map
// (freeRemote), and it waits on its class's orphan list (central.orphans,
// under central.mu). A heap that needs a slab adopts the newest orphan of
// the class before it takes a fresh one (heapRec.adopt): it names itself
// in slab.heap, sweeps the remote map, and from then on frees of the
// slab's blocks through it are the owner's frees.
//
// Slab ownership passes from one heap (or the orphan list) to another
// with the remote map left as it is: whoever owns the slab next sweeps it
// (adoption sweeps at once). Only a slab that goes to the central lists
// follows the Detach protocol of heap.go (slab.heap cleared, then the map
// swept), since only there does a freer take its bit back.
//
// Inherited blocks. Close frees every block of the heap, but a heap that
// adopted slabs holds blocks it did not allocate: its predecessor's,
// still live elsewhere. At adoption the heap records them in a bitmap
// (slab.inh, off the Go heap, only while the slab has such blocks); a
// block leaves it when it is freed (the owner's free, or a remote free
// swept back). Close frees the rest of an adopted slab's blocks and turns
// the slab back into an orphan, with its inherited blocks live, their free
// marker written into every block it freed, so that a later Free of one of
// the closed heap's blocks reports ErrDoubleFree. The owner's hot-slab
// free (Heap.Free) never serves a slab with inherited blocks, so that its
// fast path carries no bitmap.
//
// What no heap adopts joins the central lists (settleOrphan): when the
// class's central list needs a slab and has none partly free, when an
// orphan is older than the decay (HAKMEM_DECAY_MS, by the scavenger), and
// on Release. Free space is never stranded: it is reused by the next heap,
// or by the global API.

// maxAdoptPerRefill bounds the orphans a heap adopts in one refill while
// they give it no free block (full ones: their blocks are all live): the
// refill then takes a fresh slab, and later refills adopt the rest. It
// keeps one allocation's latency bounded however many full orphans wait.
const maxAdoptPerRefill = 8

// orphanHeap is slab.heap of an orphan. Its record is never a live heap's:
// a remote free into an orphan raises a pending flag nobody reads.
var (
	orphanRec  heapRec
	orphanHeap = uintptr(unsafe.Pointer(&orphanRec))
)

// inhPool holds the inherited-block bitmaps of adopted slabs.
var inhPool = metaPool{size: (maxSlabBlocks/8 + 63) &^ 63}

// takeRemote moves the blocks of s's remote map onto its bitmap, checking
// each one: a block of the slab, carrying its cookie, not free on the
// bitmap already; anything else (a stale bit of a Free that raced a
// Close, a stray write) is dropped and counted (Stats.Corrupted). It
// returns how many blocks it took. Caller owns the slab's bitmap: its
// heap's goroutine, or central.mu for an orphan.
func (s *slab) takeRemote() uint64 {
	var n uint64
	for w := range s.remote[:(s.nblocks+63)/64] {
		if s.remote[w].Load() == 0 {
			continue
		}
		for m := s.remote[w].Swap(0); m != 0; m &= m - 1 {
			i := uintptr(w*64 + bits.TrailingZeros64(m))
			p := s.base + i*s.size
			if i >= uintptr(s.nblocks) || s.isFree(p) || loadWord(p+8) != p^cookieKey {
				corrupted.Add(1)
				continue
			}
			s.putFree(p)
			if s.inh != nil {
				s.uninherit(i)
			}
			n++
		}
	}
	return n
}

// inherit records every block of s not free now as inherited, in a bitmap
// from inh (inhPool's), which it gives back if there is none.
func (s *slab) inherit(inh uintptr) {
	live := s.nblocks - s.nfree
	if live == 0 {
		inhPool.put(inh)
		return
	}
	s.inh = (*[maxSlabBlocks / 64]uint64)(ptr(inh))
	n := int(s.nblocks)
	for w := range s.inh {
		mask := ^uint64(0)
		if n < 64 {
			mask = 1<<max(n, 0) - 1
		}
		s.inh[w] = ^s.freeMap[w] & mask
		n -= 64
	}
	s.ninh = live
}

// uninherit takes block i off s's inherited blocks, if it is one, and
// gives the bitmap back with the last one. Caller owns the slab.
func (s *slab) uninherit(i uintptr) {
	w, bit := &s.inh[i/64], uint64(1)<<(i%64)
	if *w&bit == 0 {
		return
	}
	*w &^= bit
	if s.ninh--; s.ninh == 0 {
		s.dropInherit()
	}
}

// dropInherit forgets s's inherited blocks (its owner lets it go).
func (s *slab) dropInherit() {
	if s.inh != nil {
		inhPool.put(uintptr(unsafe.Pointer(s.inh)))
		s.inh, s.ninh = nil, 0
	}
}

// addOrphan puts s, owned by nobody now (slab.heap = orphanHeap, no
// inherited blocks), on the orphan list at time t. Caller holds ct.mu.
func (ct *central) addOrphan(s *slab, t int64) {
	s.orphanAt = t
	pushSlab(&ct.orphans, s)
	ct.norphans.Add(1)
	ct.orphanFree += uint64(s.nfree)
}

// settleOrphan hands orphan s to the central lists: its remote map is
// swept (the frees count as remote frees of heaps) and it becomes a
// central slab, freed at once when empty. Caller holds ct.mu.
func (ct *central) settleOrphan(s *slab) {
	removeSlab(&ct.orphans, s)
	ct.norphans.Add(-1)
	ct.orphanFree -= uint64(s.nfree)
	s.heap.Store(0) // before the sweep: see freeRemote
	ct.orphanSwept += s.takeRemote()
	s.owner.Store(-1)
	switch {
	case s.nfree == s.nblocks:
		ct.slabs--
		heap.freeSlab(s)
	case s.nfree > 0:
		ct.list(s)
		ct.slabFree += uint64(s.nfree)
	}
	// Full: like a central slab whose blocks are all out, it is listed
	// again when one comes back (toSlabs).
}

// sweepOrphans takes the remote frees of the class's orphans onto their
// bitmaps, so that ReadStats counts a block freed into an orphan as free,
// not in use until a heap adopts its slab. Caller holds ct.mu.
func (ct *central) sweepOrphans() {
	for s := ct.orphans; s != nil; s = s.next {
		n := s.takeRemote()
		ct.orphanFree += n
		ct.orphanSwept += n
	}
}

// settleOrphans hands the orphans of every class older than decay at time
// t (all of them with all) to the central lists, and returns the time
// until the next one falls due, -1 if none waits. The scavenger's part.
func settleOrphans(t, decay int64, all bool) (next int64) {
	next = -1
	for c := range centrals {
		ct := &centrals[c]
		if ct.norphans.Load() == 0 {
			continue
		}
		ct.mu.Lock()
		for s := ct.orphans; s != nil; {
			nx := s.next
			if d := s.orphanAt + decay - t; all || d <= 0 {
				ct.settleOrphan(s)
			} else if next < 0 || d < next {
				next = d
			}
			s = nx
		}
		ct.mu.Unlock()
	}
	return next
}

// adopt makes the newest orphan of class c the heap's, and reports
// whether there was one. The slab goes on the avail or the full list, its
// remote frees swept, its live blocks recorded as inherited.
func (r *heapRec) adopt(c uint8) bool {
	ct := &centrals[c]
	if ct.norphans.Load() == 0 {
		return false
	}
	inh, err := inhPool.get() // before the lock: it may map
	if err != nil {
		return false // a fresh slab instead; the orphans wait
	}
	ct.mu.Lock()
	s := ct.orphans
	if s == nil {
		ct.mu.Unlock()
		inhPool.put(inh)
		return false
	}
	removeSlab(&ct.orphans, s)
	ct.norphans.Add(-1)
	ct.orphanFree -= uint64(s.nfree)
	s.heap.Store(uintptr(unsafe.Pointer(r)))
	ct.mu.Unlock()
	m := &r.moved[c]
	m.in.add(uint64(s.nfree))
	m.slabs.inc()
	m.remote.add(s.takeRemote())
	s.inherit(inh)
	if s.nfree > 0 {
		pushSlab(&r.avail[c], s)
	} else {
		pushSlab(&r.full[c], s)
	}
	return true
}

// orphanClosed turns s, a slab of closing heap r that has inherited blocks
// still live, back into an orphan: every other block is freed (the
// closed heap's own, in use or on its stacks) with its free marker
// written, and only the inherited ones stay live. Its remote map was
// swept by Close; a bit set since stays for the next owner.
func (r *heapRec) orphanClosed(s *slab, t int64) {
	s.heap.Store(orphanHeap)
	for w := range s.inh[:(s.nblocks+63)/64] {
		for m := ^(s.inh[w] | s.freeMap[w]); m != 0; m &= m - 1 {
			i := uintptr(w*64 + bits.TrailingZeros64(m))
			if i >= uintptr(s.nblocks) {
				break
			}
			p := s.base + i*s.size
			storeWord(p+8, p^cookieKey)
			s.putFree(p)
		}
	}
	s.dropInherit()
	ct := &centrals[s.class]
	ct.mu.Lock()
	ct.addOrphan(s, t)
	ct.mu.Unlock()
}
