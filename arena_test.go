package hakmem

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// TestArenaBumpResetClose: allocations are aligned, disjoint and keep their
// contents; chunks grow; Reset reuses the same memory; Close gives it all
// back; the counters match the slow recount throughout.
func TestArenaBumpResetClose(t *testing.T) {
	base := checkStats(t, "start")
	a := NewArena()
	r := rand.New(rand.NewPCG(3, 4))
	var got [][]byte
	total := 0
	for i := 0; i < 5000; i++ {
		n := 1 + r.IntN(300)
		if i%1000 == 999 {
			n = 1<<20 + r.IntN(1<<20) // a chunk of its own (a large block)
		}
		b := a.Alloc(n)
		if len(b) != n || cap(b) != n || addrOf(b)%arenaAlign != 0 {
			t.Fatalf("Arena.Alloc(%d): len %d cap %d at %#x", n, len(b), cap(b), addrOf(b))
		}
		heapFill(b, 11)
		got = append(got, b)
		total += n
	}
	for _, b := range got {
		if off := heapCheck(b, 11); off >= 0 {
			t.Fatalf("arena allocation of %d bytes overwritten at %d", len(b), off)
		}
	}
	st := checkStats(t, "arena holding")
	if st.Arenas != base.Arenas+1 || st.ArenaBytes < uint64(total) || st.ArenaBytes > 2*uint64(total)+arenaMaxChunk {
		t.Errorf("Arenas %d (before %d), ArenaBytes %d for %d bytes allocated", st.Arenas, base.Arenas, st.ArenaBytes, total)
	}
	first := addrOf(got[0])
	held := st.ArenaBytes
	a.Reset()
	if b := a.Alloc(len(got[0])); addrOf(b) != first {
		t.Errorf("after Reset the first allocation is at %#x, before at %#x", addrOf(b), first)
	}
	for i := 0; i < 5000; i++ {
		a.Alloc(1 + r.IntN(300))
	}
	if st := ReadStats(); st.ArenaBytes != held {
		t.Errorf("Reset and the same traffic again: ArenaBytes %d, %d before", st.ArenaBytes, held)
	}
	a.Close()
	a.Close() // a no-op
	st = checkStats(t, "arena closed")
	if st.Arenas != base.Arenas || st.ArenaBytes != base.ArenaBytes || st.InUseBytes != base.InUseBytes {
		t.Errorf("after Close: Arenas %d ArenaBytes %d in use %d; before %d %d %d", st.Arenas, st.ArenaBytes, st.InUseBytes,
			base.Arenas, base.ArenaBytes, base.InUseBytes)
	}
	_, err := a.TryAlloc(8)
	heapErr(t, err, ErrClosed, "TryAlloc on a closed arena")
	heapPanic(t, ErrClosed, "Alloc on a closed arena", func() { a.Alloc(8) })
}

// TestArenaMisuse: the global Free of any arena pointer is refused
// (ErrInvalidPointer) and frees nothing; bad sizes; pointerful types; a
// chunk header overwritten by a stray write is not followed.
func TestArenaMisuse(t *testing.T) {
	a := NewArena()
	defer a.Close()
	for i, n := range []int{1, 16, 100, 4000, 20000, 3 << 20} {
		b := a.Alloc(n)
		heapErr(t, TryFree(b), ErrInvalidPointer, "Free of arena memory")
		heapPanic(t, ErrInvalidPointer, "Free of arena memory", func() { Free(b) })
		_ = i
	}
	_, err := a.TryAlloc(-1)
	heapErr(t, err, ErrNegativeSize, "TryAlloc(-1)")
	if b, err := a.TryAlloc(0); err != nil || len(b) != 0 {
		t.Errorf("TryAlloc(0): %v %v", b, err)
	}
	heapPanic(t, ErrPointerType, "ArenaNew of a pointerful type", func() { ArenaNew[[]int](a) })
	type node struct{ L, R uint32 }
	n := ArenaNew[node](a)
	*n = node{1, 2}
	s := ArenaMakeSlice[node](a, 10)
	if len(s) != 10 || s[9] != (node{}) {
		t.Fatalf("ArenaMakeSlice: %v", s)
	}
	if str := ArenaString(a, "hello"); str != "hello" {
		t.Fatalf("ArenaString: %q", str)
	}

	// A stray write over the first chunk's header: Close stops there and
	// leaks the chain instead of freeing a forged address.
	b := NewArena()
	for range 100 {
		b.Alloc(1000) // several chunks
	}
	var chunks, sizes []uintptr // the chain, to free by hand after the test
	for p := b.head; p != 0; {
		next, size, _ := b.header(p)
		chunks, sizes = append(chunks, p), append(sizes, size)
		p = next
	}
	defer func() {
		for i, p := range chunks {
			if err := freeAddr(p, "test"); err != nil {
				t.Errorf("freeing a leaked chunk: %v", err)
			}
			arenaStats.bytes.Add(-int64(sizes[i]))
		}
	}()
	victim := Alloc(64)
	storeWord(b.head, addrOf(victim)) // "next" now names a live block
	before := ReadStats().Corrupted
	b.Close()
	if ReadStats().Corrupted == before {
		t.Error("a forged chunk header went unnoticed")
	}
	if err := TryFree(victim); err != nil {
		t.Fatalf("the live block named by a forged header was freed: %v", err)
	}
	if !errors.Is(TryFree(victim), ErrDoubleFree) {
		t.Fatal("double free not caught")
	}
}
