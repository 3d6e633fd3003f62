package hakmem

import "sync"

// The central lists: one per size class, each behind its own mutex. They
// hand slabs, not blocks, to the per-P heaps (pcache.go): a P whose slabs
// of a class are all full takes one slab here, either an abandoned slab
// that has free blocks again (remote frees arrived after its owner gave it
// up full) or a fresh one from the page heap (segment.go), which may map a
// new segment. A slab listed here has no owner; its remote frees are
// collected (under c.mu) when a P adopts it or Release sweeps the list.
//
// Lock order: central.mu, then heap.mu. Never held while pinned.

type central struct {
	mu      sync.Mutex
	class   uint8
	partial *slab // unowned slabs with free blocks, linked through slab.next/prev
	npart   int   // slabs on partial

	// Statistics, guarded by mu: blocks found free in adopted slabs,
	// blocks carved in fresh ones, and takes that mapped a segment.
	adopted, fresh, newSeg uint64

	_ [64]byte // keep neighbouring classes' locks off one cache line
}

var centrals [numClasses]central

func init() {
	for i := range centrals {
		centrals[i].class = uint8(i)
	}
}

// take returns a slab with free blocks for a P to adopt: unowned, on no
// list, its remote frees collected.
func (c *central) take() (*slab, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := c.partial; s != nil; s = c.partial {
		c.unlist(s)
		s.collect() // a corrupted remote list is dropped and counted
		if s.free != 0 {
			c.adopted += uint64(s.avail - s.used)
			return s, nil
		}
		// Nothing usable: abandon it full again (or, if a remote free
		// came in meanwhile, look at it again later).
		if !s.xfree.CompareAndSwap(0, xfreeFull) {
			c.list(s)
			break
		}
	}
	s, newSeg, err := heap.allocSlab(c.class)
	if err != nil {
		return nil, err
	}
	if newSeg {
		c.newSeg++
	}
	s.carve()
	c.fresh += uint64(s.nblocks)
	return s, nil
}

// put lists an unowned slab that has (or is about to have) free blocks.
func (c *central) put(s *slab) {
	c.mu.Lock()
	c.list(s)
	c.mu.Unlock()
}

// drain sweeps the list (Release): it collects each slab's remote frees
// and gives the slabs whose blocks are all back to the page heap.
func (c *central) drain() {
	c.mu.Lock()
	var empty *slab
	for s := c.partial; s != nil; {
		next := s.next
		s.collect()
		if s.used == 0 && s.dropped == 0 {
			c.unlist(s)
			s.next, empty = empty, s
		}
		s = next
	}
	c.mu.Unlock()
	for s := empty; s != nil; {
		next := s.next
		s.next = nil
		releaseSlab(s)
		s = next
	}
}

func (c *central) list(s *slab) {
	s.prev = nil
	s.next = c.partial
	if s.next != nil {
		s.next.prev = s
	}
	c.partial = s
	c.npart++
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
	c.npart--
}
