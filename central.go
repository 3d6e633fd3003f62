package hakmem

import "sync"

// The central lists: one per size class, each behind its own mutex. They
// sit between the per-P caches (pcache.go) and the page heap (segment.go).
//
// A refill asks for one batch of blocks and is satisfied, in order, by
//  1. the transfer cache: whole batches that another P flushed, O(1);
//  2. the free lists of partially used slabs;
//  3. a fresh slab from the page heap, which may map a new segment.
//
// A flush hands back one batch: into the transfer cache if it is a full
// batch and there is room, otherwise block by block onto the blocks' slabs.
// A slab whose blocks are all back is returned to the page heap at once.
//
// Lock order: central.mu, then heap.mu. Never held while pinned.

// batch is a chain of free blocks linked through word 0.
type batch struct {
	head, tail uintptr
	n          uint32
}

type central struct {
	mu      sync.Mutex
	class   uint8
	partial *slab // slabs with free blocks, linked through slab.next/prev

	transfer  []batch // transfer cache: full batches, len <= classes[class].transfers
	slabs     int     // slabs of this class
	slabFree  uint64  // blocks on slab free lists
	xferBlock uint64  // blocks in the transfer cache

	// Statistics, in blocks unless named otherwise.
	refillTransfer, refillSlab, refillFresh, refillNewSeg uint64 // refillNewSeg counts refills
	flushed, toSlab                                       uint64

	_ [64]byte // keep neighbouring classes' locks off one cache line
}

var centrals [numClasses]central

func init() {
	for i := range centrals {
		centrals[i].class = uint8(i)
		centrals[i].transfer = make([]batch, 0, classes[i].transfers)
	}
}

// take removes up to want blocks (at least one) for P pid.
func (c *central) take(want uint32, pid int32) (batch, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.transfer); n > 0 {
		b := c.transfer[n-1]
		c.transfer = c.transfer[:n-1]
		c.xferBlock -= uint64(b.n)
		c.refillTransfer += uint64(b.n)
		return b, nil
	}
	var out batch
	for out.n < want && c.partial != nil {
		s := c.partial
		s.owner.Store(pid)
		for out.n < want && s.free != 0 {
			p := s.free
			s.free = loadWord(p)
			out.push(p)
			s.nfree--
		}
		if s.free == 0 {
			c.unlist(s)
		}
	}
	c.slabFree -= uint64(out.n)
	c.refillSlab += uint64(out.n)
	if out.n > 0 {
		return out, nil
	}
	s, newSeg, err := heap.allocSlab(c.class)
	if err != nil {
		return batch{}, err
	}
	if newSeg {
		c.refillNewSeg++
	}
	c.slabs++
	s.owner.Store(pid)
	// Carve every block onto the slab's free list now, so that each block
	// is either allocated or carries the free cookie: a Free of a block
	// never handed out is then caught as a double free.
	for i := s.nblocks; i > 0; i-- {
		p := s.base + uintptr(i-1)*s.size
		storeWord(p, s.free)
		storeWord(p+8, p^cookieKey)
		s.free = p
	}
	s.nfree = s.nblocks
	for out.n < want && s.free != 0 {
		p := s.free
		s.free = loadWord(p)
		out.push(p)
		s.nfree--
	}
	c.refillFresh += uint64(out.n)
	if s.nfree > 0 {
		c.slabFree += uint64(s.nfree)
		c.list(s)
	}
	return out, nil
}

// put takes back a batch of free blocks of this class.
func (c *central) put(b batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushed += uint64(b.n)
	if b.n == uint32(classes[c.class].batch) && len(c.transfer) < cap(c.transfer) {
		c.transfer = append(c.transfer, b)
		c.xferBlock += uint64(b.n)
		return
	}
	c.toSlabs(b)
}

// toSlabs returns each block of b to its slab. Caller holds c.mu.
func (c *central) toSlabs(b batch) {
	c.toSlab += uint64(b.n)
	for p, i := b.head, uint32(0); i < b.n; i++ {
		next := loadWord(p)
		s := regLookup(p).pages[(p>>pageShift)&(pagesPerSegment-1)]
		storeWord(p, s.free)
		s.free = p
		s.nfree++
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
		p = next
	}
}

// drain empties the transfer cache onto the slabs (Release).
func (c *central) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.transfer {
		c.xferBlock -= uint64(b.n)
		c.toSlabs(b)
		c.toSlab -= uint64(b.n) // not a flush: keep the pipeline counters honest
	}
	c.transfer = c.transfer[:0]
}

func (c *central) list(s *slab) {
	s.prev = nil
	s.next = c.partial
	if s.next != nil {
		s.next.prev = s
	}
	c.partial = s
}

func (c *central) unlist(s *slab) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		c.partial = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	}
	s.next, s.prev = nil, nil
}

// push appends p to the batch.
func (b *batch) push(p uintptr) {
	storeWord(p, 0)
	if b.n == 0 {
		b.head = p
	} else {
		storeWord(b.tail, p)
	}
	b.tail = p
	b.n++
}
