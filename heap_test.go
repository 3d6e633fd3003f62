package hakmem

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"
)

// heapFill writes a pattern derived from seed and the block's address.
func heapFill(b []byte, seed uint64) {
	x := seed ^ uint64(addrOf(b))
	for i := range b {
		b[i] = byte(x>>(i%8*8)) ^ byte(i)
	}
}

// heapCheck reports the first byte of b that is not heapFill's, or -1.
func heapCheck(b []byte, seed uint64) int {
	x := seed ^ uint64(addrOf(b))
	for i := range b {
		if b[i] != byte(x>>(i%8*8))^byte(i) {
			return i
		}
	}
	return -1
}

func heapErr(t *testing.T, err, want error, what string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

func heapPanic(t *testing.T, want error, what string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		v := recover()
		err, _ := v.(error)
		heapErr(t, err, want, what+" (panic)")
	}()
	f()
}

// TestHeapOwnedTraffic allocates and frees through one heap at every
// class size, checks contents and the slow recount while the heap holds
// blocks, and then after Detach and after Close of a second heap.
func TestHeapOwnedTraffic(t *testing.T) {
	checkStats(t, "start")
	base := ReadStats()
	for _, end := range []string{"detach", "close"} {
		h := NewHeap()
		r := rand.New(rand.NewPCG(1, 2))
		var held [][]byte
		for i := 0; i < 20000; i++ {
			n := 1 + r.IntN(4096)
			if i%200 == 0 {
				n = 1 + r.IntN(maxSmall)
			}
			b := h.Alloc(n)
			if len(b) != n || cap(b) != int(classes[sizeClass(uintptr(n))].size) {
				t.Fatalf("Heap.Alloc(%d): len %d cap %d", n, len(b), cap(b))
			}
			heapFill(b, 7)
			held = append(held, b)
			if r.IntN(3) > 0 {
				k := r.IntN(len(held))
				if off := heapCheck(held[k], 7); off >= 0 {
					t.Fatalf("block of %d bytes overwritten at %d", len(held[k]), off)
				}
				h.Free(held[k])
				held[k] = held[len(held)-1]
				held = held[:len(held)-1]
			}
		}
		st := checkStats(t, end+": holding")
		if st.Heaps != base.Heaps+1 || st.HeapBytes == 0 {
			t.Errorf("%s: Heaps %d (before %d), HeapBytes %d", end, st.Heaps, base.Heaps, st.HeapBytes)
		}
		var usable uint64
		for _, b := range held {
			usable += uint64(cap(b))
		}
		if got := st.InUseBytes - base.InUseBytes; got != usable {
			t.Errorf("%s: in use grew by %d, the test holds %d", end, got, usable)
		}
		if st.Allocs-base.Allocs != st.Frees-base.Frees+uint64(len(held)) {
			t.Errorf("%s: allocs %d - frees %d != held %d", end, st.Allocs-base.Allocs, st.Frees-base.Frees, len(held))
		}
		if end == "detach" {
			h.Detach()
			st = checkStats(t, "detached")
			for _, b := range held {
				if off := heapCheck(b, 7); off >= 0 {
					t.Fatalf("detached: block of %d bytes overwritten at %d", len(b), off)
				}
				Free(b) // the blocks live on and are freed the global way
			}
		} else {
			h.Close()
			for _, b := range held[:min(len(held), 50)] {
				if err := TryFree(b); !errors.Is(err, ErrDoubleFree) && !errors.Is(err, ErrInvalidPointer) {
					t.Fatalf("Free after Close: %v", err)
				}
			}
		}
		st = checkStats(t, end+": ended")
		if st.Heaps != base.Heaps || st.InUseBytes != base.InUseBytes || st.Allocs-base.Allocs != st.Frees-base.Frees {
			t.Errorf("%s: Heaps %d, in use %d (before %d), allocs %d frees %d", end, st.Heaps, st.InUseBytes, base.InUseBytes,
				st.Allocs-base.Allocs, st.Frees-base.Frees)
		}
		base = st
	}
}

// TestHeapRemoteFreesChurn runs one heap per goroutine; each allocates
// blocks with a content pattern and hands most of them to the next
// goroutine, which checks the pattern and frees them remotely, through its
// own heap or with the global Free. Global blocks are freed through heaps
// too. At the end the heaps are detached or closed, and the counters must
// match the slow recount.
func TestHeapRemoteFreesChurn(t *testing.T) {
	checkStats(t, "start")
	base := ReadStats()
	const workers = 4
	rounds := 20000
	if testing.Short() {
		rounds = 4000
	}
	chans := make([]chan []byte, workers)
	for i := range chans {
		chans[i] = make(chan []byte, 256)
	}
	var wg, done sync.WaitGroup
	heapsOf := make([]*Heap, workers)
	done.Add(workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := NewHeap()
			heapsOf[w] = h
			r := rand.New(rand.NewPCG(uint64(w), 9))
			out, in := chans[(w+1)%workers], chans[w]
			take := func(b []byte) {
				if off := heapCheck(b, 3); off >= 0 {
					t.Errorf("remote block of %d bytes overwritten at %d", len(b), off)
				}
				if r.IntN(2) == 0 {
					h.Free(b)
				} else {
					Free(b)
				}
			}
			var mine [][]byte
			for i := 0; i < rounds; i++ {
				n := 1 + r.IntN(2048)
				var b []byte
				if r.IntN(8) == 0 {
					b = Alloc(n) // a global block, freed through a heap by someone
				} else {
					b = h.Alloc(n)
				}
				heapFill(b, 3)
				switch r.IntN(4) {
				case 0:
					mine = append(mine, b)
				case 1:
					take(b)
				default:
					select {
					case out <- b:
					default:
						take(b)
					}
				}
				if len(mine) > 64 {
					take(mine[0])
					mine = mine[1:]
				}
				for k := 0; k < 2; k++ {
					select {
					case x := <-in:
						take(x)
					default:
					}
				}
			}
			for _, b := range mine {
				take(b)
			}
			done.Done()
			done.Wait() // nobody sends any more: drain what is left
			for {
				select {
				case x := <-in:
					take(x)
					continue
				default:
				}
				break
			}
		}()
	}
	wg.Wait()
	st := checkStats(t, "all freed, heaps alive")
	if st.Heaps != base.Heaps+workers {
		t.Errorf("Heaps %d, want %d", st.Heaps, base.Heaps+workers)
	}
	for i, h := range heapsOf {
		if i%2 == 0 {
			h.Detach()
		} else {
			h.Close()
		}
	}
	st = checkStats(t, "heaps ended")
	if st.InUseBytes != base.InUseBytes || st.Allocs-base.Allocs != st.Frees-base.Frees {
		t.Errorf("in use %d (before %d), allocs %d frees %d", st.InUseBytes, base.InUseBytes, st.Allocs-base.Allocs, st.Frees-base.Frees)
	}
	if st.HeapRemoteFrees == base.HeapRemoteFrees {
		t.Errorf("no remote free was swept back: %d", st.HeapRemoteFrees)
	}
}

// TestHeapRemoteFreeSweep: blocks freed remotely count as in use until the
// owner's next refill of the class sweeps them back, and then they are
// reused by the owner.
func TestHeapRemoteFreeSweep(t *testing.T) {
	h := NewHeap()
	defer h.Close()
	const n = 64
	c := sizeClass(n)
	var bs [][]byte
	for range int(classes[c].nblocks) * 2 {
		bs = append(bs, h.Alloc(n))
	}
	// Empty the stack so the next Alloc refills.
	for h.r.lists[c].n > 0 {
		bs = append(bs, h.Alloc(n))
	}
	addrs := map[uintptr]bool{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, b := range bs[:100] {
			addrs[addrOf(b)] = true
			Free(b)
		}
	}()
	wg.Wait()
	before := ReadStats().HeapRemoteFrees
	if h.r.pending[c].Load() == 0 {
		t.Fatal("remote frees left the pending flag down")
	}
	// Use the whole avail slab space first, so that the next refill must
	// sweep (the sweep runs on every refill with the flag up).
	got := h.Alloc(n)
	if after := ReadStats().HeapRemoteFrees; after != before+100 {
		t.Errorf("HeapRemoteFrees %d after the sweep, want %d", after, before+100)
	}
	reused := 0
	for b := got; ; b = h.Alloc(n) {
		if addrs[addrOf(b)] {
			reused++
		}
		bs = append(bs, b)
		if reused == 100 || len(bs) > 10*int(classes[c].nblocks) {
			break
		}
	}
	if reused != 100 {
		t.Errorf("%d of 100 remotely freed blocks came back to the owner", reused)
	}
	checkStats(t, "after the sweep")
}

// TestHeapCloseBlocksHeldElsewhere: blocks of a heap held by other
// goroutines die with Close; their later frees report errors, and the
// allocator keeps working and counting exactly.
func TestHeapCloseBlocksHeldElsewhere(t *testing.T) {
	base := checkStats(t, "start")
	h := NewHeap()
	var held [][]byte
	for i := range 3000 {
		held = append(held, h.Alloc(16+i%1000))
	}
	results := make(chan error, len(held))
	var got, closed sync.WaitGroup
	got.Add(2)
	closed.Add(1)
	for g := range 2 {
		go func() {
			mine := held[g*len(held)/2 : (g+1)*len(held)/2]
			for _, b := range mine {
				heapFill(b, 5) // the holder uses its blocks
			}
			got.Done()
			closed.Wait()
			for _, b := range mine {
				results <- TryFree(b)
			}
		}()
	}
	got.Wait()
	h.Close()
	closed.Done()
	for range held {
		if err := <-results; !errors.Is(err, ErrDoubleFree) && !errors.Is(err, ErrInvalidPointer) {
			t.Fatalf("Free of a closed heap's block: %v", err)
		}
	}
	st := checkStats(t, "closed")
	if st.InUseBytes != base.InUseBytes {
		t.Errorf("in use %d after Close, %d before the heap", st.InUseBytes, base.InUseBytes)
	}
	heapErr(t, h.TryFree(held[0]), ErrClosed, "TryFree on a closed heap")
}

// TestHeapMisuse: a closed heap, double and interior frees through a
// heap, foreign pointers, and the slow path's concurrent-use check.
func TestHeapMisuse(t *testing.T) {
	h := NewHeap()
	b := h.Alloc(100)
	h.Free(b)
	heapPanic(t, ErrDoubleFree, "double Heap.Free", func() { h.Free(b) })
	b = h.Alloc(100)
	heapErr(t, h.TryFree(b[8:]), ErrInvalidPointer, "interior Heap.TryFree")
	heapErr(t, h.TryFree(make([]byte, 10)), ErrInvalidPointer, "foreign Heap.TryFree")
	g := Alloc(100) // a global block freed through the heap
	if err := h.TryFree(g); err != nil {
		t.Fatalf("Heap.TryFree of a global block: %v", err)
	}
	h2 := NewHeap()
	b2 := h2.Alloc(100)
	if err := h.TryFree(b2); err != nil { // another heap's block: a remote free
		t.Fatalf("Heap.TryFree of another heap's block: %v", err)
	}
	heapErr(t, h.TryFree(b2), ErrDoubleFree, "second free of another heap's block")
	h2.Close()

	// The concurrent-use check: a goroutine inside the slow path.
	h.r.busy.Store(1)
	for h.r.lists[0].n > 0 {
		h.Alloc(16)
	}
	_, err := h.TryAlloc(16)
	heapErr(t, err, ErrConcurrentUse, "TryAlloc while the heap is busy")
	heapPanic(t, ErrConcurrentUse, "Close while the heap is busy", h.Close)
	heapPanic(t, ErrConcurrentUse, "Detach while the heap is busy", h.Detach)
	h.r.busy.Store(0)

	kept := h.Alloc(2 << 20) // a large block is not the heap's: Close leaves it
	defer func() {
		if err := TryFree(kept); err != nil {
			t.Errorf("Free of a large block after its heap's Close: %v", err)
		}
	}()

	big := h.Alloc(3 << 20) // large: not the heap's, freed through it
	big = h.Realloc(big, 5<<20)
	h.Free(big)
	b = h.Realloc(b, 5000)
	b = h.Realloc(b, 10)
	h.Close()
	h.Close() // a no-op
	h.Detach()
	heapPanic(t, ErrClosed, "Alloc on a closed heap", func() { h.Alloc(10) })
	_, err = h.TryAlloc(10)
	heapErr(t, err, ErrClosed, "TryAlloc on a closed heap")
	heapPanic(t, ErrClosed, "Free on a closed heap", func() { h.Free(b) })
	_, err = h.TryRealloc(nil, 10)
	heapErr(t, err, ErrClosed, "TryRealloc on a closed heap")
	if err := h.TryFree(nil); err != nil {
		t.Errorf("TryFree(nil) on a closed heap: %v", err)
	}
	checkStats(t, "after misuse")
}

// TestHeapDetachReuse: a detached heap's free space serves the global API.
func TestHeapDetachReuse(t *testing.T) {
	Release()
	h := NewHeap()
	const n = 256
	var live [][]byte
	slabs := map[*slab]bool{}
	var all [][]byte
	for range 4000 {
		b := h.Alloc(n)
		p := addrOf(b)
		slabs[regLookup(p).pages[(p>>pageShift)&(pagesPerSegment-1)]] = true
		all = append(all, b)
	}
	for i, b := range all { // a quarter stays live in every slab
		if i%4 == 0 {
			live = append(live, b)
		} else {
			h.Free(b)
		}
	}
	h.Detach()
	st := checkStats(t, "detached")
	before := st.Slabs
	var got [][]byte
	from := 0
	for range 2000 {
		b := Alloc(n)
		p := addrOf(b)
		if slabs[regLookup(p).pages[(p>>pageShift)&(pagesPerSegment-1)]] {
			from++
		}
		got = append(got, b)
	}
	if st := ReadStats(); st.Slabs > before+1 || from < 1900 {
		t.Errorf("after Detach, 2000 global allocations took %d new slabs and %d blocks from the heap's", st.Slabs-before, from)
	}
	for _, b := range append(got, live...) {
		Free(b)
	}
	checkStats(t, "freed")
}

// TestHeapTyped: the typed helpers through a heap.
func TestHeapTyped(t *testing.T) {
	h := NewHeap()
	defer h.Close()
	type pt struct{ X, Y int64 }
	p := HeapNew[pt](h)
	if *p != (pt{}) {
		t.Fatalf("HeapNew not zeroed: %+v", *p)
	}
	p.X = 3
	s := HeapMakeSlice[pt](h, 100)
	if len(s) != 100 || cap(s) != 100 {
		t.Fatalf("HeapMakeSlice: len %d cap %d", len(s), cap(s))
	}
	s[99].Y = 4
	HeapDelete(h, p)
	HeapFreeSlice(h, s)
	heapPanic(t, ErrPointerType, "HeapNew of a pointerful type", func() { HeapNew[*int](h) })
	heapPanic(t, ErrPointerType, "HeapMakeSlice of a pointerful type", func() { HeapMakeSlice[string](h, 3) })
	if _, err := TryHeapNew[pt](h); err != nil {
		t.Fatal(err)
	}
	h2 := NewHeap()
	h2.Close()
	_, err := TryHeapMakeSlice[pt](h2, 3)
	heapErr(t, err, ErrClosed, "TryHeapMakeSlice on a closed heap")
	var zero struct{}
	_ = zero
	if unsafe.Sizeof(pt{}) != 16 {
		t.Fatal("layout")
	}
}

// TestHeapAdoptsDetached: a heap that follows a detached one adopts the
// predecessor's slabs (heap_orphan.go) instead of taking fresh ones, frees
// the inherited blocks as its own, and its Close frees its own blocks and
// leaves alive the inherited ones it did not free.
func TestHeapAdoptsDetached(t *testing.T) {
	Release()
	const n = 256
	h1 := NewHeap()
	var all, live [][]byte
	for range 4000 {
		all = append(all, h1.Alloc(n))
	}
	for i, b := range all { // half stays live in every slab
		if i%2 == 0 {
			heapFill(b, uint64(i))
			live = append(live, b)
		} else {
			h1.Free(b)
		}
	}
	h1.Detach()
	before := checkStats(t, "detached")
	if before.HeapOrphanBytes == 0 {
		t.Fatalf("Detach left no orphan slab: %+v", before)
	}
	h2 := NewHeap()
	var mine [][]byte
	for range 2000 {
		mine = append(mine, h2.Alloc(n))
	}
	st := checkStats(t, "successor allocated")
	if st.Slabs != before.Slabs || st.HeapOrphanBytes >= before.HeapOrphanBytes {
		t.Errorf("the successor's 2000 blocks took %d new slabs, orphans %d -> %d bytes (want no new slab, orphans adopted)",
			st.Slabs-before.Slabs, before.HeapOrphanBytes, st.HeapOrphanBytes)
	}
	half := len(live) / 2
	for _, b := range live[:half] { // inherited blocks, freed by their new owner
		h2.Free(b)
	}
	for _, b := range mine[:100] { // and some of its own
		h2.Free(b)
	}
	mine = mine[100:]
	checkStats(t, "successor freed")
	h2.Close()
	st = checkStats(t, "successor closed")
	for i, b := range live[half:] {
		if off := heapCheck(b, uint64(2*(half+i))); off >= 0 {
			t.Fatalf("inherited block %d overwritten at %d after its adopter's Close", half+i, off)
		}
	}
	for _, b := range mine { // the closed heap's blocks are gone
		if err := TryFree(b); !errors.Is(err, ErrDoubleFree) && !errors.Is(err, ErrInvalidPointer) {
			t.Fatalf("Free of a closed heap's block: %v", err)
		}
	}
	for _, b := range live[half:] { // the inherited ones live on
		if err := TryFree(b); err != nil {
			t.Fatalf("Free of an inherited block after its adopter's Close: %v", err)
		}
	}
	if end := checkStats(t, "all freed"); end.InUseBytes != 0 && end.InUseBytes >= st.InUseBytes {
		t.Errorf("in use %d after every block was freed (%d before)", end.InUseBytes, st.InUseBytes)
	}
	Release()
	if end := checkStats(t, "released"); end.HeapOrphanBytes != 0 {
		t.Errorf("Release left %d bytes of orphans", end.HeapOrphanBytes)
	}
}

// TestHeapSuccessorChains runs larson-shaped chains of heaps: each
// generation makes a Heap, replaces random slots (freeing the inherited
// blocks through it), sends some blocks to the other chain to free (only
// a generation that will detach: a Close would free them), and hands its
// slots to a successor, detaching (or, every fourth generation, freeing
// its slots and closing). Meanwhile ReadStats sweeps the orphans
// and Release settles them, racing the adoptions and the remote frees.
// Every block keeps its pattern and the counters match the recount.
func TestHeapSuccessorChains(t *testing.T) {
	checkStats(t, "start")
	base := ReadStats()
	const chains, slots = 2, 600
	gens := 24
	if testing.Short() {
		gens = 8
	}
	cross := make(chan []byte, 1024)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { // the stats and Release racing the chains
		defer bg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%8 == 0 {
				Release()
			} else {
				ReadStats()
			}
		}
	}()
	for c := range chains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 77))
			seed := func(b []byte) uint64 { return uint64(len(b)) * 31 }
			var held [][]byte
			for g := range gens {
				h := NewHeap()
				if held == nil {
					held = make([][]byte, slots)
					for i := range held {
						held[i] = h.Alloc(1 + r.IntN(1500))
						heapFill(held[i], seed(held[i]))
					}
				}
				for range 4 * slots {
					i := r.IntN(slots)
					if off := heapCheck(held[i], seed(held[i])); off >= 0 {
						t.Errorf("chain %d gen %d: block of %d bytes overwritten at %d", c, g, len(held[i]), off)
						return
					}
					h.Free(held[i])
					held[i] = h.Alloc(1 + r.IntN(1500))
					heapFill(held[i], seed(held[i]))
					// A generation that will Close sends nothing: its
					// Close would free a block the other chain still holds.
					if g%4 != 3 && r.IntN(16) == 0 {
						select {
						case cross <- held[i]:
							held[i] = h.Alloc(1 + r.IntN(1500))
							heapFill(held[i], seed(held[i]))
						default:
						}
					}
					select {
					case b := <-cross:
						if off := heapCheck(b, seed(b)); off >= 0 {
							t.Errorf("cross block of %d bytes overwritten at %d", len(b), off)
						}
						h.Free(b) // another chain's block: a remote free
					default:
					}
				}
				if g%4 == 3 {
					for _, b := range held {
						h.Free(b)
					}
					held = nil
					h.Close()
				} else {
					h.Detach()
				}
			}
			for _, b := range held {
				Free(b)
			}
		}()
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	for len(cross) > 0 {
		Free(<-cross)
	}
	st := checkStats(t, "chains ended")
	if st.InUseBytes != base.InUseBytes || st.Allocs-base.Allocs != st.Frees-base.Frees {
		t.Errorf("in use %d (before %d), allocs %d frees %d", st.InUseBytes, base.InUseBytes, st.Allocs-base.Allocs, st.Frees-base.Frees)
	}
	if st.Corrupted != base.Corrupted {
		t.Errorf("%d blocks dropped as corrupted by correct traffic", st.Corrupted-base.Corrupted)
	}
	Release()
	if st := checkStats(t, "released"); st.HeapOrphanBytes != 0 {
		t.Errorf("Release left %d bytes of orphans", st.HeapOrphanBytes)
	}
}

// TestOrphansSettleAfterDecay: the slabs of a detached heap that no heap
// adopts join the central lists once they are older than the decay (the
// scavenger's pass), with their live blocks intact.
func TestOrphansSettleAfterDecay(t *testing.T) {
	Release()
	h := NewHeap()
	var live [][]byte
	for i := range 2000 {
		b := h.Alloc(96)
		if i%3 == 0 {
			heapFill(b, 11)
			live = append(live, b)
		} else {
			h.Free(b)
		}
	}
	h.Detach()
	if st := checkStats(t, "detached"); st.HeapOrphanBytes == 0 {
		t.Fatal("Detach left no orphan")
	}
	t0 := now()
	if next := heap.scavenge(t0, false); next <= 0 {
		t.Errorf("scavenger pass with young orphans: next %d, want a positive wait", next)
	}
	if st := checkStats(t, "young"); st.HeapOrphanBytes == 0 {
		t.Fatal("orphans settled before the decay")
	}
	heap.scavenge(t0+cfg().decayNs+1, false)
	if st := checkStats(t, "after the decay"); st.HeapOrphanBytes != 0 {
		t.Fatalf("orphans left after the decay: %d bytes", st.HeapOrphanBytes)
	}
	for _, b := range live {
		if off := heapCheck(b, 11); off >= 0 {
			t.Fatalf("block overwritten at %d after its slab settled", off)
		}
		Free(b)
	}
	checkStats(t, "freed")
}

// TestReleaseAfterDetach: Release returns the memory of a detached heap
// whose blocks were all freed afterwards (into its orphaned slabs): the
// orphans are settled before the pass unmaps and purges, not after.
func TestReleaseAfterDetach(t *testing.T) {
	Release()
	base := checkStats(t, "start")
	h := NewHeap()
	var bs [][]byte
	for range 16 << 10 {
		bs = append(bs, h.Alloc(512)) // 8 MiB: several segments
	}
	h.Detach()
	for _, b := range bs {
		Free(b) // into the orphans' remote maps
	}
	Release()
	st := checkStats(t, "released")
	if st.MappedBytes > base.MappedBytes || st.CommittedBytes > base.CommittedBytes || st.HeapOrphanBytes != 0 {
		t.Errorf("after Release: mapped %d committed %d orphans %d, before the heap mapped %d committed %d",
			st.MappedBytes, st.CommittedBytes, st.HeapOrphanBytes, base.MappedBytes, base.CommittedBytes)
	}
}

// TestAdoptBoundedPerRefill: a heap meeting only full orphans adopts at
// most maxAdoptPerRefill of them in one refill, then takes a fresh slab.
func TestAdoptBoundedPerRefill(t *testing.T) {
	Release()
	const size = 4096
	c := sizeClass(size)
	h1 := NewHeap()
	var live [][]byte
	for range 3 * maxAdoptPerRefill * int(classes[c].nblocks) {
		live = append(live, h1.Alloc(size)) // every slab full
	}
	h1.Detach()
	before := centrals[c].norphans.Load()
	if before < 3*maxAdoptPerRefill {
		t.Fatalf("%d orphans of class %d, want %d", before, c, 3*maxAdoptPerRefill)
	}
	h2 := NewHeap()
	b := h2.Alloc(size)
	if got := before - centrals[c].norphans.Load(); got != maxAdoptPerRefill {
		t.Errorf("one refill adopted %d full orphans, want %d", got, maxAdoptPerRefill)
	}
	h2.Free(b)
	for _, x := range live {
		h2.Free(x) // adopted or orphan: both must take it
	}
	h2.Close()
	Release()
	if st := checkStats(t, "freed"); st.HeapOrphanBytes != 0 {
		t.Errorf("orphans left after Release: %d bytes", st.HeapOrphanBytes)
	}
}
