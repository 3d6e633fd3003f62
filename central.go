package hakmem

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// The central lists: one per size class, each behind its own mutex. They
// sit between the per-P caches (pcache.go) and the page heap (segment.go).
//
// A refill asks for one batch of blocks and is satisfied, in order, by
//  1. the transfer cache: whole batches that another P flushed, O(1);
//  2. the free lists of partially used slabs;
//  3. the slabs of ended heaps that no heap adopted (heap_orphan.go);
//  4. a fresh slab from the page heap, which may map a new segment.
//
// A flush hands back one batch: into the transfer cache if it is a full
// batch and there is room, otherwise block by block onto the blocks' slabs.
// A slab whose blocks are all back is returned to the page heap at once.
//
// Lock order: central.mu, then heap.mu. Never held while pinned.

type central struct {
	mu      sync.Mutex
	class   uint8
	partial *slab // slabs with free blocks, linked through slab.next/prev

	// The transfer cache: nxfer whole batches that Ps flushed, stored
	// back to back in xfer (classes[class].transfers batches of
	// classes[class].batch addresses; a bounded, pointer-free array).
	xfer      []uintptr
	nxfer     int
	slabs     int    // slabs of this class
	slabFree  uint64 // blocks free on slabs (their bitmaps)
	xferBlock uint64 // blocks in the transfer cache

	// orphans are the slabs of ended heaps no heap has adopted yet
	// (heap_orphan.go), linked through slab.next/prev; norphans counts
	// them, read without mu by a heap looking for one; orphanFree is the
	// blocks free on their bitmaps; orphanSwept the remote frees swept
	// from them when they joined the central lists (Stats: frees).
	orphans     *slab
	norphans    atomic.Int32
	orphanFree  uint64
	orphanSwept uint64

	// Statistics, in blocks unless named otherwise.
	refillTransfer, refillSlab, refillFresh, refillNewSeg uint64 // refillNewSeg counts refills
	flushed, toSlab                                       uint64
	// dupes counts blocks returned to a slab that had them free already
	// (a double free that got past Free: dropped, see toSlabs).
	dupes uint64

	_ [64]byte // keep neighbouring classes' locks off one cache line
}

var centrals [numClasses]central

func init() {
	for i := range centrals {
		centrals[i].class = uint8(i)
		centrals[i].xfer = make([]uintptr, int(classes[i].transfers)*int(classes[i].batch))
	}
}

// take fills buf with up to len(buf) free blocks (at least one) for P pid
// and returns how many.
func (c *central) take(buf []uintptr, pid int32) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	bn := int(classes[c.class].batch)
	if c.nxfer > 0 && len(buf) >= bn {
		c.nxfer--
		copy(buf, c.xfer[c.nxfer*bn:(c.nxfer+1)*bn])
		c.xferBlock -= uint64(bn)
		c.refillTransfer += uint64(bn)
		return bn, nil
	}
	n := 0
	for {
		for n < len(buf) && c.partial != nil {
			s := c.partial
			s.owner.Store(pid)
			n += s.takeFree(buf[n:])
			if s.nfree == 0 {
				c.unlist(s)
			}
		}
		if n > 0 || c.orphans == nil {
			break
		}
		c.settleOrphan(c.orphans) // before a fresh slab, what no heap adopted (heap_orphan.go)
	}
	c.slabFree -= uint64(n)
	c.refillSlab += uint64(n)
	if n > 0 {
		return n, nil
	}
	s, newSeg, err := heap.allocSlab(c.class)
	if err != nil {
		return 0, err
	}
	if newSeg {
		c.refillNewSeg++
	}
	c.slabs++
	s.owner.Store(pid)
	// Every block gets its cookie now, so that each block is either
	// allocated or carries it: a Free of a block never handed out is then
	// caught as a double free.
	for i := uintptr(0); i < uintptr(s.nblocks); i++ {
		p := s.base + i*s.size
		storeWord(p+8, p^cookieKey)
	}
	s.setAllFree()
	n = s.takeFree(buf)
	c.refillFresh += uint64(n)
	if s.nfree > 0 {
		c.slabFree += uint64(s.nfree)
		c.list(s)
	}
	return n, nil
}

// put takes back free blocks of this class: whole batches into the
// transfer cache while it has room, the rest onto their slabs.
func (c *central) put(bs []uintptr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushed += uint64(len(bs))
	bn := int(classes[c.class].batch)
	for len(bs) >= bn && (c.nxfer+1)*bn <= len(c.xfer) {
		copy(c.xfer[c.nxfer*bn:], bs[:bn])
		c.nxfer++
		c.xferBlock += uint64(bn)
		bs = bs[bn:]
	}
	c.toSlabs(bs)
}

// toSlabs returns each block of bs to its slab. Caller holds c.mu.
func (c *central) toSlabs(bs []uintptr) {
	c.toSlab += uint64(len(bs))
	for _, p := range bs {
		s := c.slabOf(p)
		// A block not free on its slab keeps the slab from emptying, so
		// its memory is mapped and its cookie can be read.
		if s == nil || s.heap.Load() != 0 || s.isFree(p) || loadWord(p+8) != p^cookieKey {
			// A second copy of a block, which only a double free that
			// got past Free's check makes (two racing Frees, or one after
			// a stray write erased the cookie): the block is free on its
			// slab already, live again through the other copy, or its
			// slab went home when the first copy came back. Or a block
			// written after it was freed. Or a block of a Heap's slab,
			// which only a Free racing with that heap's Close can send
			// here (its bitmap is the heap's, not ours). Dropped either
			// way, so the slab's count stays exact and no live block goes
			// back.
			c.dupes++
			corrupted.Add(1)
			continue
		}
		s.putFree(p)
		c.slabFree++
		if s.nfree == 1 {
			c.list(s)
		}
		if s.nfree == s.nblocks {
			c.unlist(s)
			c.slabFree -= uint64(s.nblocks)
			c.slabs--
			heap.freeSlab(s)
		}
	}
}

// slabOf returns the slab of this class that p is a block of, nil if
// there is none any more (see toSlabs). Caller holds c.mu, which keeps a
// slab of this class from being freed.
func (c *central) slabOf(p uintptr) *slab {
	if s := regLookup(p).smallBlock(p); s != nil && s.class == c.class {
		return s
	}
	return nil
}

// drain empties the transfer cache onto the slabs (Release).
func (c *central) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nxfer * int(classes[c.class].batch)
	c.nxfer, c.xferBlock = 0, 0
	c.toSlabs(c.xfer[:n])
	c.toSlab -= uint64(n) // not a flush: keep the pipeline counters honest
}

func (c *central) list(s *slab)   { pushSlab(&c.partial, s) }
func (c *central) unlist(s *slab) { removeSlab(&c.partial, s) }

// pushSlab puts s at the head of a doubly linked slab list (slab.next and
// prev: a central partial list, or a heap's avail or full list).
func pushSlab(head **slab, s *slab) {
	s.prev, s.next = nil, *head
	if s.next != nil {
		s.next.prev = s
	}
	*head = s
}

// removeSlab takes s out of the list at head.
func removeSlab(head **slab, s *slab) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		*head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	}
	s.next, s.prev = nil, nil
}

// The slab's free blocks are a bitmap (slab.freeMap), not a list linked
// through the blocks: taking blocks reads no block memory, and nothing a
// program writes into a freed block can make the slab hand out another
// address or the same block twice. The bitmap also catches a block coming
// back while it is free already (toSlabs).

// setAllFree marks every block of a fresh slab free.
func (s *slab) setAllFree() {
	n := int(s.nblocks)
	for w := range s.freeMap {
		switch {
		case n >= 64:
			s.freeMap[w] = ^uint64(0)
			n -= 64
		case n > 0:
			s.freeMap[w] = 1<<n - 1
			n = 0
		default:
			s.freeMap[w] = 0
		}
	}
	s.nfree = s.nblocks
}

// takeFree moves up to len(buf) free blocks into buf, lowest addresses
// first, and returns how many. Caller holds the class's central.mu.
func (s *slab) takeFree(buf []uintptr) int {
	n := 0
	for w := range s.freeMap {
		for m := s.freeMap[w]; m != 0 && n < len(buf); m &= m - 1 {
			i := w*64 + bits.TrailingZeros64(m)
			s.freeMap[w] &^= 1 << (i % 64)
			buf[n] = s.base + uintptr(i)*s.size
			n++
		}
		if n == len(buf) {
			break
		}
	}
	s.nfree -= uint32(n)
	return n
}

// isFree reports whether p (a block of s) is free on the slab. Caller
// holds the class's central.mu.
func (s *slab) isFree(p uintptr) bool {
	i := s.blockIndex(p)
	return s.freeMap[i/64]&(1<<(i%64)) != 0
}

// putFree marks p (a block of s, not free) free. Caller holds the class's
// central.mu.
func (s *slab) putFree(p uintptr) {
	i := s.blockIndex(p)
	s.freeMap[i/64] |= 1 << (i % 64)
	s.nfree++
}
