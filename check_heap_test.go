package hakmem

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

// Checked mode covers Heap and Arena blocks (check_heap.go, arena.go):
// records, canaries, poison and quarantine, through Close, Detach and
// Reset.

func TestCheckedHeapClose(t *testing.T) {
	if !checkedChild(t, "HAKMEM_CHECK_STACKS=0", "HAKMEM_CHECK_GUARD=0") {
		return
	}
	var reps []CheckReport
	var mu sync.Mutex
	OnCheckFailure(func(r CheckReport) { mu.Lock(); reps = append(reps, r); mu.Unlock() })
	defer OnCheckFailure(nil)
	st0 := ReadStats()
	h := NewHeap()
	var bs [][]byte
	for i := range 300 {
		bs = append(bs, h.Alloc(16+i*7))
	}
	for _, b := range bs[:100] {
		h.Free(b) // own frees
	}
	for _, b := range bs[100:150] {
		Free(b) // frees through the global API
	}
	if st := ReadStats(); st.LiveBlocks-st0.LiveBlocks != 150 {
		t.Errorf("live blocks %d before Close, want 150", st.LiveBlocks-st0.LiveBlocks)
	}
	h.Close()
	if st := ReadStats(); st.LiveBlocks != st0.LiveBlocks || st.LiveBytes != st0.LiveBytes {
		t.Errorf("after Close: live %d blocks %d bytes, want %d %d", st.LiveBlocks, st.LiveBytes, st0.LiveBlocks, st0.LiveBytes)
	}
	// Every block is quarantined: a write to any is a use after free.
	bs[200][5] = 1
	if n := CheckQuarantine(); n != 1 || len(reps) != 1 || !errors.Is(reps[0].Err, ErrUseAfterFree) || reps[0].Op != "CheckQuarantine" || reps[0].Offset != 5 {
		t.Fatalf("CheckQuarantine after a write to a closed heap's block: %d, %+v", n, reps)
	}
	if got, want := funcAt(reps[0].FreePC), "TestCheckedHeapClose"; !containsFunc(got, want) {
		t.Errorf("freed by %s, want %s (the caller of Close)", got, want)
	}
	// A Free after Close is a double free, reported.
	if err := TryFree(bs[250]); !errors.Is(err, ErrDoubleFree) {
		t.Errorf("TryFree of a closed heap's block: %v, want ErrDoubleFree", err)
	}
	if err := h.TryFree(bs[250]); !errors.Is(err, ErrClosed) {
		t.Errorf("Heap.TryFree after Close: %v, want ErrClosed", err)
	}
}

func TestCheckedHeapCloseRacingFrees(t *testing.T) {
	if !checkedChild(t, "HAKMEM_CHECK_STACKS=0", "HAKMEM_CHECK_GUARD=0") {
		return
	}
	var mu sync.Mutex
	var doubles int
	OnCheckFailure(func(r CheckReport) {
		mu.Lock()
		defer mu.Unlock()
		if !errors.Is(r.Err, ErrDoubleFree) {
			t.Errorf("unexpected report %v", r.Error())
		}
		doubles++
	})
	defer OnCheckFailure(nil)
	st0 := ReadStats()
	for range 50 {
		h := NewHeap()
		bs := make([][]byte, 200)
		for i := range bs {
			bs[i] = h.Alloc(32 + i%100)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(bs))
		wg.Go(func() {
			for i, b := range bs {
				errs[i] = TryFree(b)
			}
		})
		h.Close()
		wg.Wait()
		for i, err := range errs {
			if err != nil && !errors.Is(err, ErrDoubleFree) {
				t.Fatalf("block %d: %v", i, err)
			}
		}
	}
	if st := ReadStats(); st.LiveBlocks != st0.LiveBlocks {
		t.Errorf("live blocks %d after the heaps closed, want %d", st.LiveBlocks, st0.LiveBlocks)
	}
	if CheckQuarantine() != 0 {
		t.Error("the quarantine changed")
	}
}

func TestCheckedHeapDetach(t *testing.T) {
	if !checkedChild(t, "HAKMEM_CHECK_STACKS=0", "HAKMEM_CHECK_GUARD=0") {
		return
	}
	h := NewHeap()
	a, b := h.Alloc(100), h.Alloc(3000)
	h.Detach()
	a[99], b[2999] = 1, 1 // live still
	if n := UsableSize(a); n != 100 {
		t.Errorf("UsableSize after Detach %d, want 100", n)
	}
	Free(a)
	Free(b)
	if CheckQuarantine() != 0 {
		t.Error("the quarantine changed")
	}
	h2 := NewHeap() // reuses the record: its list starts empty
	c := h2.Realloc(h2.Alloc(10), 5)
	if len(c) != 5 || cap(c) != 5 {
		t.Errorf("Heap.Realloc in checked mode: len %d cap %d, want 5 5", len(c), cap(c))
	}
	h2.Close()
	if err := TryFree(c); !errors.Is(err, ErrDoubleFree) {
		t.Errorf("TryFree after Close: %v", err)
	}
}

func TestCheckedArenaReset(t *testing.T) {
	if !checkedChild(t, "HAKMEM_CHECK_STACKS=0", "HAKMEM_CHECK_GUARD=0") {
		return
	}
	var reps []CheckReport
	OnCheckFailure(func(r CheckReport) { reps = append(reps, r) })
	defer OnCheckFailure(nil)
	st0 := ReadStats()
	a := NewArena()
	var bs [][]byte
	for i := range 100 {
		bs = append(bs, a.Alloc(1+i*13))
	}
	big := a.Alloc(2 << 20)
	for _, b := range bs {
		if len(b) != cap(b) {
			t.Fatalf("an Arena allocation has cap %d past len %d", cap(b), len(b))
		}
	}
	a.Reset()
	if st := ReadStats(); st.LiveBlocks != st0.LiveBlocks {
		t.Errorf("live blocks %d after Reset, want %d", st.LiveBlocks, st0.LiveBlocks)
	}
	bs[50][0] = 1
	big[1<<20] = 1
	if n := CheckQuarantine(); n != 2 || len(reps) != 2 {
		t.Fatalf("CheckQuarantine after writes to a Reset arena: %d reports, %v", n, reps)
	}
	for _, r := range reps {
		if !errors.Is(r.Err, ErrUseAfterFree) || !containsFunc(funcAt(r.AllocPC), "TestCheckedArenaReset") || !containsFunc(funcAt(r.FreePC), "TestCheckedArenaReset") {
			t.Errorf("report %v", r.Error())
		}
	}
	// The arena works after Reset, from new chunks.
	b := ArenaMakeSlice[uint64](a, 10)
	b[9] = 7
	a.Close()
	if st := ReadStats(); st.LiveBlocks != st0.LiveBlocks {
		t.Errorf("live blocks %d after Close, want %d", st.LiveBlocks, st0.LiveBlocks)
	}
}

// containsFunc reports whether funcAt's answer names the function fn of
// this package's tests.
func containsFunc(got, fn string) bool { return strings.Contains(got, "."+fn+" ") }
