package hakmem

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestRetireWaitsForPinnedFree plays the race a racing double free can
// lose, step by step: goroutine A is inside Free's pinned checks of a block
// (it has read the registry and the slab) when goroutine B frees the same
// block, which empties its slab and its segment; with no segment cache the
// segment goes back to the OS. A then touches the block, as Free does. The
// segment must still be mapped at that moment: it is unmapped only after
// the pin barrier, which waits for A to unpin. Before retirement existed,
// B unmapped the segment at once and A's touch was a fatal fault.
func TestRetireWaitsForPinnedFree(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	ensureInit()
	saved := cfg()
	p := *saved
	p.segmentCache = 0
	publish(&p)
	defer publish(saved)
	Release()

	const size = maxSmall // the 1 MiB class: one block per slab, cap 0 per P
	b := Alloc(size)
	addr := addrOf(b)
	before := ReadStats().Segments

	var checked, freed atomic.Bool
	var touched uintptr
	done := make(chan struct{})
	go func() {
		defer close(done)
		pc := pin()
		seg := regLookup(addr)
		if seg == nil || seg.kind != kindSmall || seg.pages[(addr>>pageShift)&(pagesPerSegment-1)] == nil {
			unpin(pc)
			t.Errorf("block %#x not found in a small segment", addr)
			return
		}
		checked.Store(true)
		// Stay pinned until B's free has retired the segment, and a while
		// longer, giving a reaper every chance to unmap under us.
		for deadline := time.Now().Add(5 * time.Second); !freed.Load() && time.Now().Before(deadline); {
		}
		for deadline := time.Now().Add(20 * time.Millisecond); time.Now().Before(deadline); {
		}
		touched = loadWord(addr + 8) // faults if the segment was unmapped
		unpin(pc)
	}()
	for !checked.Load() {
		runtime.Gosched()
	}
	if err := TryFree(b); err != nil {
		t.Fatalf("TryFree: %v", err)
	}
	freed.Store(true)
	Release() // reaps: must wait for A
	<-done
	_ = touched
	if got := ReadStats().Segments; got >= before {
		t.Errorf("segments after the free and Release: %d, want fewer than %d (the retired segment was never unmapped)", got, before)
	}
	if err := TryFree(b); err == nil {
		t.Errorf("second TryFree of the block succeeded")
	}
}
