package hakmem

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// Heaps: goroutine-owned heaps, mimalloc's mi_heap_t in Go.
//
// The global API must own the current P's cache for every call (a pin and
// an unpin, ~4.4 ns a pair, plus two calls that cannot inline): Go has no
// thread-local storage to hang a cache on. A Heap is that storage, made
// explicit: a handle one goroutine at a time uses, so its fast paths touch
// only its own record, with no pin, no lock and no atomic.
//
// A Heap owns slabs. It takes them from the page heap (heap.allocSlab)
// like a central list does, marks each with the address of its record
// (slab.heap), and keeps, per size class, a stack of free blocks (a slot
// array off the Go heap, the same freeList as a per-P cache) and two lists
// of its slabs: avail (some block free on the slab's bitmap) and full. The
// owner's Alloc pops; the owner's Free of its own block checks the pointer
// exactly as the global Free does (registry, slab, block boundary), sees
// slab.heap name its own record, claims the block with the plain cookie
// store and pushes it. A full stack flushes half of itself onto the slabs'
// bitmaps (owner only, no lock: nobody else writes a heap slab's bitmap);
// an empty one sweeps the class's remote frees, then takes a batch off an
// avail slab, then takes a fresh slab.
//
// Remote frees. Any goroutine may free a Heap's block with the global Free
// or through another Heap. Free reads slab.heap on the slab header line it
// loaded anyway, and when it is set, freeRemote claims the block (cookie),
// sets the block's bit in slab.remote with one atomic OR (metadata, never
// the block: nothing is linked through free memory) and raises the class's
// pending flag on the owner's record. The owner sweeps a class's slabs'
// remote maps with an atomic swap per word on its slow path, when the
// flag is up, and checks every bit it takes: a block of the slab, carrying
// its cookie, not free on the bitmap already; anything else is dropped and
// counted (Stats.Corrupted).
//
// Letting go of a slab races with remote frees, so both sides follow one
// protocol: the freer sets its bit and then reads slab.heap again. If it
// names a heap (this one, or one that adopted the slab since) or the
// orphan list, that owner's sweep (later) will see the bit; if it is zero
// (the slab joined the central lists, which clear slab.heap before they
// sweep), the freer takes its bit back with an atomic AND and, if the bit
// was still there, frees the block the global way. Exactly one side gets
// each block.
//
// Close frees every block of the heap at once (mimalloc's mi_heap_destroy):
// it walks the class lists and hands each slab back to the page heap. A
// later Free of such a block finds no slab on the page (ErrDoubleFree), a
// free block of whatever slab took the pages since (ErrDoubleFree), or,
// once the memory is handed out again, a block it does not own. Detach
// (mi_heap_delete) ends the heap and keeps its blocks: every slab, with the
// free blocks of the stacks and of the remote maps on its bitmap, becomes
// an orphan that the next new heap adopts (heap_orphan.go), so its free
// space is reused and its live blocks are freed later like any other. A
// heap that adopted slabs holds blocks it did not allocate: its Close
// leaves those alive.
//
// Accounting. Heap slabs count in their class's central.slabs (taken and
// given back under central.mu, on the slow path), so the per-class block
// totals of ReadStats include them. A record counts, per class, the blocks
// that entered its caches (in: fresh slabs; remote: blocks swept back from
// remote frees), left them (out: slabs given back, blocks dropped) and the
// allocs and frees of its lists; cached = in + remote + frees - allocs -
// out needs no read of anything the owner writes without a counter. A
// block freed remotely counts as in use until its heap sweeps it (its next
// refill of that class, Detach or Close). When a heap ends its counts fold
// into heaps.ended.

// heapRec is a Heap's state, off the Go heap (a heap's slabs point at it).
// Everything but the atomics and the counters is the owner's alone.
type heapRec struct {
	lists   [numClasses]freeList
	moved   [numClasses]struct{ in, out, remote, slabs counter } // in, out, remote in blocks; slabs: slabs owned now
	avail   [numClasses]*slab                                    // owned slabs with blocks free on their bitmap
	full    [numClasses]*slab                                    // owned slabs with none
	pending [numClasses]atomic.Uint32                            // 1: a remote free of the class waits for a sweep
	busy    atomic.Uint32                                        // 1 while a slow path, Close or Detach runs (concurrent use check)
	// hot is the owned slab the owner last freed into through the
	// registry, hotN blocks from hotBase: Free of a block in it skips the
	// registry's two loads. Owner only; reset (hotN 0) when a slab is
	// given back (releaseSlab, Close, Detach).
	// hot and hotList are addresses, not pointers, so that setting them
	// (on every free through the registry) needs no write barrier.
	hot     uintptr // *slab
	hotBase uintptr
	hotInv  uint64   // hot's boundary test (classInfo) and block count, copied here: the hot free reads no slab header
	hotN    uint64   //
	hotRot  uint8    //
	hotList uintptr  // *freeList: the stack of hot's class (&lists[class]: no index to bound-check)
	next    *heapRec // in heaps.live or heaps.free, under heaps.mu
	prev    *heapRec
	// Checked mode (check_heap.go): the heap's live blocks, a list
	// through their records, under chkMu.
	chkMu   sync.Mutex
	chkLive uintptr
}

// heaps tracks heap records. Guarded by mu.
var heaps struct {
	mu    sync.Mutex
	live  *heapRec // records of heaps in use
	nlive int
	free  *heapRec // records of ended heaps, with their slot arrays, for reuse
	// ended holds the folded counts of heaps that ended: allocations,
	// frees (own, remote and Close's bulk frees) per class, and remote
	// frees swept.
	ended struct {
		allocs, frees [numClasses]uint64
		remote        uint64
	}
}

var heapRecPool = metaPool{size: (unsafe.Sizeof(heapRec{}) + 63) &^ 63}

// closedRec is the record of a closed heap: every list empty with cap 0,
// and no slab names it, so each fast path misses into a slow path that
// reports ErrClosed. Never written.
var closedRec heapRec

// Heap is a heap owned by one goroutine at a time: its Alloc and Free take
// no pin, no lock and no atomic. Make one with NewHeap; end it with Close
// (its blocks are freed) or Detach (its blocks live on).
//
// Any goroutine may free a Heap's block, with the global Free or another
// Heap's Free: that is a remote free, which the heap takes back on its own
// later. Heap.Free accepts blocks of the global API and of other heaps as
// well, and validates a pointer exactly as Free does.
//
// Using a Heap from two goroutines at once is a data race in the program:
// the race detector reports it (every method touches a Go field of the
// Heap), and the slow paths, Close and Detach report ErrConcurrentUse when
// they catch it. Using a Heap after Close or Detach reports ErrClosed.
//
// Requests above 1 MiB are large blocks, each its own mapping, made by the
// global large path: Heap.Free frees them, but Close does not (free them
// before closing).
type Heap struct {
	r *heapRec
	//lint:ignore U1000 written by every method under -race only (heap_race.go)
	tok uintptr // written by every method under -race (heap_race.go)
}

// NewHeap returns a new, empty Heap. It panics with ErrOutOfMemory when its
// record (about 24 KiB off the Go heap, reused after Close or Detach)
// cannot be mapped.
func NewHeap() *Heap {
	ensureInit()
	r, err := newHeapRec()
	if err != nil {
		panic(newError("NewHeap", 0, 0, ErrOutOfMemory, "mapping the heap's record: "+err.Error()))
	}
	return &Heap{r: r}
}

func newHeapRec() (*heapRec, error) {
	heaps.mu.Lock()
	defer heaps.mu.Unlock()
	r := heaps.free
	if r != nil {
		heaps.free = r.next
	} else {
		p, err := heapRecPool.get()
		if err != nil {
			return nil, err
		}
		var total uintptr
		for c := range classes {
			total += uintptr(classes[c].cap)
		}
		base, err := metaMap(max((total*8+osPageSize-1)&^(osPageSize-1), osPageSize))
		if err != nil {
			return nil, err // the record stays in the pool's chunk, unused: a few KiB
		}
		r = (*heapRec)(ptr(p))
		for c := range r.lists {
			l := &r.lists[c]
			l.slots, l.max = base, uint32(classes[c].cap)
			base += uintptr(l.max) * 8
		}
	}
	for c := range r.lists {
		l := &r.lists[c]
		l.n, l.cap = 0, l.max
		l.allocs, l.frees = counter{}, counter{}
		r.moved[c] = struct{ in, out, remote, slabs counter }{}
		r.avail[c], r.full[c] = nil, nil
		r.pending[c].Store(0)
	}
	r.busy.Store(0)
	r.hot, r.hotBase, r.hotN = 0, 0, 0
	r.prev, r.next = nil, heaps.live
	if r.next != nil {
		r.next.prev = r
	}
	heaps.live = r
	heaps.nlive++
	return r, nil
}

// Alloc is Alloc from the heap.
func (h *Heap) Alloc(size int) []byte {
	h.touch()
	if uint(size-1) < maxSmall {
		c := sizeClass(uintptr(size))
		if p := h.r.lists[c].pop(); p != 0 {
			return bytesAt(p, uintptr(size), uintptr(classes[c].size))
		}
	}
	return must(h.allocSlow(size, "Heap.Alloc"))
}

// TryAlloc is Heap.Alloc returning the error instead of panicking.
func (h *Heap) TryAlloc(size int) ([]byte, error) {
	h.touch()
	if uint(size-1) < maxSmall {
		c := sizeClass(uintptr(size))
		if p := h.r.lists[c].pop(); p != 0 {
			return bytesAt(p, uintptr(size), uintptr(classes[c].size)), nil
		}
	}
	return h.allocSlow(size, "Heap.TryAlloc")
}

// Calloc is Heap.Alloc with the memory zeroed.
func (h *Heap) Calloc(size int) []byte { return must(h.calloc(size, "Heap.Calloc")) }

// TryCalloc is Heap.Calloc returning the error instead of panicking.
func (h *Heap) TryCalloc(size int) ([]byte, error) { return h.calloc(size, "Heap.TryCalloc") }

func (h *Heap) calloc(size int, op string) ([]byte, error) {
	b, err := h.TryAlloc(size)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Op = op
		}
		return nil, err
	}
	clear(b)
	return b, nil
}

// Free is Free through the heap: the heap's own blocks go onto its stacks,
// any other block is freed as the global Free frees it.
func (h *Heap) Free(b []byte) {
	h.touch()
	if cap(b) == 0 {
		return
	}
	p := addrOf(b)
	r := h.r
	// The hot slab first: a block of the slab the owner last freed into
	// needs no registry lookup. It is checked as any other: block
	// boundary, then the cookie.
	// Each check is its own if: chained with &&, the claim's result
	// became a flag the compiler materialized and tested again.
	if blockAt(p-r.hotBase, r.hotInv, r.hotRot) < r.hotN {
		if claimBlock(p) {
			l := (*freeList)(ptr(r.hotList))
			if l.n < l.cap {
				l.push(p)
				return
			}
			h.freeFull(p, (*slab)(ptr(r.hot)))
			return
		}
	}
	if err := h.free(p, "Heap.Free"); err != nil {
		panic(err)
	}
}

// free is Heap.Free past the hot slab: the heap's own blocks through the
// registry, anything else through freeOther.
func (h *Heap) free(p uintptr, op string) error {
	r := h.r
	// No pin: a slab that names this heap is this goroutine's to give
	// back, so its segment stays mapped while we work on it. Headers are
	// never unmapped (meta.go), so a stale registry answer reads mapped
	// memory, and the block checks below fail on a slab p is not in.
	s := regLookup(p).smallBlock(p)
	if s == nil || s.heap.Load() != uintptr(unsafe.Pointer(r)) {
		return h.freeOther(p, op)
	}
	if !claimBlock(p) {
		return h.freeOther(p, op) // a double free: reported there
	}
	l := &r.lists[s.class]
	if s.inh != nil { // an adopted slab's block: no longer inherited (heap_orphan.go)
		s.uninherit(s.blockIndex(p))
	}
	if s.inh == nil { // the hot free carries no inherited bitmap
		r.hot, r.hotBase, r.hotN = uintptr(unsafe.Pointer(s)), s.base, uint64(s.nblocks)
		r.hotInv, r.hotRot, r.hotList = s.blockInv, s.blockRot, uintptr(unsafe.Pointer(l))
	}
	if l.n < l.cap {
		l.push(p)
		return nil
	}
	h.freeFull(p, s)
	return nil
}

// TryFree is Heap.Free returning the error instead of panicking.
func (h *Heap) TryFree(b []byte) error {
	h.touch()
	if cap(b) == 0 {
		return nil
	}
	return h.free(addrOf(b), "Heap.TryFree")
}

// freeOther frees what is not the heap's own valid block: an error, a
// block of the global API or of another heap (the global Free, which makes
// the latter a remote free), or anything at all on a closed heap.
func (h *Heap) freeOther(p uintptr, op string) error {
	if h.r == &closedRec {
		return newError(op, p, 0, ErrClosed, "")
	}
	return freeAddr(p, op)
}

// Realloc is Realloc through the heap: a block that moves is allocated
// from the heap, and the old one freed through it.
func (h *Heap) Realloc(b []byte, size int) []byte { return must(h.realloc(b, size, "Heap.Realloc")) }

// TryRealloc is Heap.Realloc returning the error instead of panicking; on
// error b is untouched and still allocated.
func (h *Heap) TryRealloc(b []byte, size int) ([]byte, error) {
	return h.realloc(b, size, "Heap.TryRealloc")
}

func (h *Heap) realloc(b []byte, size int, op string) ([]byte, error) {
	h.touch()
	if h.r == &closedRec {
		return nil, newError(op, addrOf(b), size, ErrClosed, "")
	}
	if cap(b) == 0 {
		return h.allocOp(size, op)
	}
	p := addrOf(b)
	if size < 0 {
		return nil, newError(op, p, size, ErrNegativeSize, "")
	}
	usable, err := usableSize(p, op)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		return zeroSlice(), h.TryFree(b)
	}
	ck := checkOn() // hook: checked mode: a new block and a copy, every time (check.go)
	if uintptr(size) <= usable && uintptr(size) > usable/2 && !ck {
		return bytesAt(p, uintptr(size), usable), nil
	}
	if seg := regLookup(p); seg.kind == kindLarge && size > maxSmall && size <= MaxAlloc && !ck {
		if np, nu, ok := reallocLarge(p, seg, uintptr(size)); ok {
			return bytesAt(np, uintptr(size), nu), nil
		}
	}
	nb, err := h.allocOp(size, op)
	if err != nil {
		return nil, err
	}
	copy(nb, b[:min(len(b), size)])
	return nb, h.TryFree(b)
}

func (h *Heap) allocOp(size int, op string) ([]byte, error) {
	if uint(size-1) < maxSmall {
		c := sizeClass(uintptr(size))
		if p := h.r.lists[c].pop(); p != 0 {
			return bytesAt(p, uintptr(size), uintptr(classes[c].size)), nil
		}
	}
	return h.allocSlow(size, op)
}

// allocSlow is everything Heap.Alloc's pop does not serve: a closed heap,
// zero, negative and large sizes, and refills.
func (h *Heap) allocSlow(size int, op string) ([]byte, error) {
	r := h.r
	switch {
	case r == &closedRec:
		return nil, newError(op, 0, size, ErrClosed, "")
	case size > 0 && size <= maxSmall && checkOn(): // hook: checked mode (check_heap.go)
		if !r.busy.CompareAndSwap(0, 1) {
			return nil, newError(op, 0, size, ErrConcurrentUse, "another goroutine is inside the heap's slow path")
		}
		b, err := checkHeapAlloc(r, size, op)
		r.busy.Store(0)
		return b, err
	case size <= 0 || size > maxSmall:
		p, usable, _, err := allocAddr(size, 0, op)
		if err != nil {
			return nil, err
		}
		if p == 0 {
			return zeroSlice(), nil
		}
		return bytesAt(p, uintptr(size), usable), nil
	}
	if !r.busy.CompareAndSwap(0, 1) {
		return nil, newError(op, 0, size, ErrConcurrentUse, "another goroutine is inside the heap's slow path")
	}
	c := sizeClass(uintptr(size))
	p, err := r.refill(c)
	r.busy.Store(0)
	if cb, ok := err.(*corruptBlock); ok {
		return nil, newError(op, cb.p, size, ErrCorrupted,
			"a free block of the heap lost its free marker: it was written after it was freed; it is dropped, never reused")
	}
	if err != nil {
		return nil, allocError(op, size, "mapping a segment", err)
	}
	return bytesAt(p, uintptr(size), uintptr(classes[c].size)), nil
}

// refill serves an allocation of class c whose stack is empty (or whose
// top block lost its cookie) and refills the stack.
func (r *heapRec) refill(c uint8) (uintptr, error) {
	l := &r.lists[c]
	if bad := l.popBad(); bad != 0 {
		r.moved[c].out.inc() // out of the caches into nowhere: in use for good
		corrupted.Add(1)
		return 0, &corruptBlock{p: bad, class: c}
	}
	if r.pending[c].Load() != 0 {
		r.pending[c].Store(0) // before the sweep: a bit set after it raises the flag again
		for _, head := range [2]*slab{r.avail[c], r.full[c]} {
			for s := head; s != nil; {
				next := s.next // sweep may move s between the lists
				r.sweep(s)
				s = next
			}
		}
	}
	// An ended heap's slabs first (heap_orphan.go); a bounded number per
	// refill, since a full orphan gives no block now.
	for k := 0; r.avail[c] == nil && k < maxAdoptPerRefill && r.adopt(c); k++ {
	}
	if r.avail[c] == nil {
		if err := r.freshSlab(c); err != nil {
			return 0, err
		}
	}
	var buf [maxBatch]uintptr
	n := 0
	want := max(min(int(classes[c].batch), int(l.max-l.n)+1), 1)
	for n < want && r.avail[c] != nil {
		s := r.avail[c]
		n += s.takeFree(buf[n:want])
		if s.nfree == 0 {
			removeSlab(&r.avail[c], s)
			pushSlab(&r.full[c], s)
		}
	}
	// The first block goes to the program, checked like a pop; the rest
	// onto the stack, to be checked when popped.
	p := buf[0]
	l.fill(buf[1:n])
	if loadWord(p+8) != p^cookieKey {
		r.moved[c].out.inc()
		corrupted.Add(1)
		return 0, &corruptBlock{p: p, class: c}
	}
	storeWord(p+8, 0)
	l.allocs.inc()
	return p, nil
}

// freshSlab takes a new slab of class c from the page heap for the heap.
func (r *heapRec) freshSlab(c uint8) error {
	s, _, err := heap.allocSlab(c)
	if err != nil {
		return err
	}
	for i := uintptr(0); i < uintptr(s.nblocks); i++ {
		p := s.base + i*s.size
		storeWord(p+8, p^cookieKey) // every block free carries its cookie (central.take)
	}
	s.setAllFree()
	s.heap.Store(uintptr(unsafe.Pointer(r)))
	ct := &centrals[c]
	ct.mu.Lock()
	ct.slabs++
	ct.mu.Unlock()
	r.moved[c].in.add(uint64(s.nblocks))
	r.moved[c].slabs.inc()
	pushSlab(&r.avail[c], s)
	return nil
}

// freeFull handles the owner's free into a full stack: p and the top half
// of the stack go back onto their slabs' bitmaps.
func (h *Heap) freeFull(p uintptr, s *slab) {
	r := h.r
	c := s.class
	l := &r.lists[c]
	l.frees.inc()
	if !r.busy.CompareAndSwap(0, 1) {
		// Another goroutine is in the heap's slow path: a data race in
		// the program. The block goes back the global way (its slab's
		// bitmap is not ours to touch now) and the misuse is reported.
		r.moved[c].out.inc()
		panic(newError("Heap.Free", p, 0, ErrConcurrentUse, "another goroutine is inside the heap's slow path; the block is dropped"))
	}
	r.toSlab(s, p, true)
	k := l.n / 2
	var buf [maxBatch]uintptr
	for k > 0 {
		m := min(k, maxBatch)
		l.cut(buf[:m])
		for _, q := range buf[:m] {
			r.toSlab(r.slabOf(q), q, true)
		}
		k -= m
	}
	r.busy.Store(0)
}

// slabOf is the slab of the heap's own block p (one of its stacks').
func (r *heapRec) slabOf(p uintptr) *slab {
	if s := regLookup(p).smallBlock(p); s != nil && s.heap.Load() == uintptr(unsafe.Pointer(r)) {
		return s
	}
	return nil
}

// toSlab puts the heap's free block p back on its slab's bitmap. With
// release, a slab that empties goes back to the page heap unless it is
// the class's only slab with free blocks.
func (r *heapRec) toSlab(s *slab, p uintptr, release bool) {
	if s == nil || s.isFree(p) || loadWord(p+8) != p^cookieKey {
		// A second copy of a free block (a racing double free) or one
		// written after it was freed: dropped, as central.toSlabs does.
		if s != nil {
			r.moved[s.class].out.inc()
		}
		corrupted.Add(1)
		return
	}
	c := s.class
	s.putFree(p)
	if s.nfree == 1 {
		removeSlab(&r.full[c], s)
		pushSlab(&r.avail[c], s)
	}
	if release && s.nfree == s.nblocks && (r.avail[c] != s || s.next != nil) {
		removeSlab(&r.avail[c], s)
		r.releaseSlab(s)
	}
}

// releaseSlab gives an empty slab of the heap back to the page heap.
func (r *heapRec) releaseSlab(s *slab) {
	c := s.class
	if r.hot == uintptr(unsafe.Pointer(s)) {
		r.hot, r.hotBase, r.hotN = 0, 0, 0
	}
	s.heap.Store(0)
	r.moved[c].out.add(uint64(s.nblocks))
	r.moved[c].slabs.add(^uint64(0))
	ct := &centrals[c]
	ct.mu.Lock()
	ct.slabs--
	ct.mu.Unlock()
	heap.freeSlab(s)
}

// sweep takes the remote frees of s onto its bitmap, checking each one,
// and moves s to the avail list if it gained a free block.
func (r *heapRec) sweep(s *slab) {
	c := s.class
	was := s.nfree
	r.moved[c].remote.add(s.takeRemote())
	if was == 0 && s.nfree > 0 {
		removeSlab(&r.full[c], s)
		pushSlab(&r.avail[c], s)
	}
}

// freeRemote frees a block of a Heap's slab (or an orphan's) from outside
// the heap: p is claimed, pc pinned. It unpins pc.
func freeRemote(pc *pcache, p uintptr, s *slab) {
	i := s.blockIndex(p)
	w, bit := &s.remote[i/64], uint64(1)<<(i%64)
	w.Or(bit)
	if o := s.heap.Load(); o != 0 {
		// A heap (r, or one that adopted the slab since) or the orphan
		// list owns the slab: its owner's next sweep takes the bit.
		pend := &(*heapRec)(ptr(o)).pending[s.class]
		if pend.Load() == 0 {
			pend.Store(1)
		}
		unpin(pc)
		return
	}
	// The slab went to the central lists meanwhile (an orphan settled, or
	// a Close racing this Free). Take the bit back; if the sweep took it
	// first, the block is the slab's again.
	if w.And(^bit)&bit == 0 {
		unpin(pc)
		return
	}
	l := &pc.lists[s.class]
	if l.n < l.cap {
		l.push(p)
		unpin(pc)
		return
	}
	unpin(pc)
	freeSmallSlow(p, s)
}

// ending begins Close (free) or Detach: it returns the heap's record, held
// busy, after checked mode's part (the heap's checked blocks are freed as
// Free frees them, or leave its list live: check_heap.go), or nil for a
// closed heap.
func (h *Heap) ending(free bool, op string) *heapRec {
	h.touch()
	r := h.r
	if r == &closedRec {
		return nil
	}
	if !r.busy.CompareAndSwap(0, 1) {
		panic(newError(op, 0, 0, ErrConcurrentUse, "another goroutine is inside the heap's slow path"))
	}
	if checkOn() { // hook: checked mode (check_heap.go)
		checkHeapEnd(r, free, op)
	}
	return r
}

// Close frees every block of the heap at once and ends it: its slabs go
// back to the page heap, its stacks are forgotten. A block of the heap
// that is freed later reports ErrDoubleFree or ErrInvalidPointer, until
// its memory is handed out again. Using h afterwards reports ErrClosed;
// Close of a closed heap is a no-op. Large blocks (above 1 MiB) are not
// the heap's: Close leaves them alone. Nor are the live blocks of a
// detached heap whose slabs h took over (a new Heap reuses the slabs a
// detached one left): Close leaves them alive.
func (h *Heap) Close() {
	r := h.ending(true, "Heap.Close")
	if r == nil {
		return
	}
	t := now()
	var frees [numClasses]uint64
	for c := range r.lists {
		l := &r.lists[c]
		l.n = 0
		m := &r.moved[c]
		// An adopted slab's remote frees count before the census: its
		// inherited blocks stay live, and a block freed remotely is no
		// longer one (heap_orphan.go).
		var inherited uint64
		for _, head := range [2]*slab{r.avail[c], r.full[c]} {
			for s := head; s != nil; s = s.next {
				if s.inh != nil {
					m.remote.add(s.takeRemote())
					inherited += uint64(s.ninh)
				}
			}
		}
		cached := m.in.load() + m.remote.load() + l.frees.load() - l.allocs.load() - m.out.load()
		frees[c] = m.slabs.load()*uint64(classes[c].nblocks) - cached - inherited // in use now: freed in bulk
		for _, head := range [2]*slab{r.avail[c], r.full[c]} {
			for s := head; s != nil; {
				next := s.next
				s.next, s.prev = nil, nil
				if s.inh != nil {
					r.orphanClosed(s, t)
				} else {
					r.releaseSlab(s)
				}
				s = next
			}
		}
		r.avail[c], r.full[c] = nil, nil
	}
	r.end(&frees)
	h.r = &closedRec
}

// Detach ends the heap and keeps its blocks: they stay valid and anyone
// may free them later with Free. The heap's slabs, with every free block
// it held, wait for the next new Heap to take them over (or, after
// HAKMEM_DECAY_MS, join the global API's lists), so their free space is
// reused. Using h afterwards reports ErrClosed; Detach of a closed heap
// is a no-op.
func (h *Heap) Detach() {
	r := h.ending(false, "Heap.Detach")
	if r == nil {
		return
	}
	r.hot, r.hotBase, r.hotN = 0, 0, 0
	t := now()
	orphaned := false
	var buf [maxBatch]uintptr
	for c := range r.lists {
		l := &r.lists[c]
		if l.n == 0 && r.avail[c] == nil && r.full[c] == nil {
			continue
		}
		for l.n > 0 {
			k := min(l.n, maxBatch)
			l.cut(buf[:k])
			for _, q := range buf[:k] {
				r.toSlab(r.slabOf(q), q, false)
			}
		}
		ct := &centrals[c]
		ct.mu.Lock()
		for _, head := range [2]*slab{r.avail[c], r.full[c]} {
			for s := head; s != nil; {
				next := s.next
				s.next, s.prev = nil, nil
				// An orphan from now on: a remote free still goes to the
				// map, which the next owner sweeps; what came before, the
				// heap sweeps now.
				s.heap.Store(orphanHeap)
				r.moved[c].remote.add(s.takeRemote())
				s.dropInherit()
				if s.nfree == s.nblocks {
					s.heap.Store(0)
					s.owner.Store(-1)
					ct.slabs--
					heap.freeSlab(s)
				} else {
					ct.addOrphan(s, t)
					orphaned = true
				}
				s = next
			}
		}
		ct.mu.Unlock()
		r.avail[c], r.full[c] = nil, nil
	}
	r.end(nil)
	h.r = &closedRec
	if orphaned {
		scavengerKick(t + cfg().decayNs) // what no heap adopts joins the central lists then
	}
}

// end folds the record's counts into heaps.ended (with bulk, Close's
// frees per class) and puts the record up for reuse.
func (r *heapRec) end(bulk *[numClasses]uint64) {
	heaps.mu.Lock()
	for c := range r.lists {
		l := &r.lists[c]
		rem := r.moved[c].remote.load()
		heaps.ended.allocs[c] += l.allocs.load()
		heaps.ended.frees[c] += l.frees.load() + rem
		if bulk != nil {
			heaps.ended.frees[c] += bulk[c]
		}
		heaps.ended.remote += rem
	}
	if r.prev != nil {
		r.prev.next = r.next
	} else {
		heaps.live = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	}
	heaps.nlive--
	r.prev, r.next = nil, heaps.free
	heaps.free = r
	heaps.mu.Unlock()
}

// readHeapStats adds the heaps' part to st: allocs and frees per class,
// and, into cached, the blocks free in live heaps' caches per class.
// Called by ReadStats before it reads the central lists.
func readHeapStats(st *Stats, cached *[numClasses]int64) {
	heaps.mu.Lock()
	defer heaps.mu.Unlock()
	st.Heaps = heaps.nlive
	st.HeapRemoteFrees = heaps.ended.remote
	for c := range st.Classes {
		st.Classes[c].Allocs += heaps.ended.allocs[c]
		st.Classes[c].Frees += heaps.ended.frees[c]
	}
	for r := heaps.live; r != nil; r = r.next {
		for c := range r.lists {
			l := &r.lists[c]
			m := &r.moved[c]
			a, f, rem := l.allocs.load(), l.frees.load(), m.remote.load()
			st.Classes[c].Allocs += a
			st.Classes[c].Frees += f + rem
			st.HeapRemoteFrees += rem
			cached[c] += int64(m.in.load()+rem+f) - int64(a+m.out.load())
			st.HeapBytes += m.slabs.load() * uint64(classes[c].pages) * pageSize
		}
	}
}
