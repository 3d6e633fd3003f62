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

// TestMetadataReused checks that headers go back to their pools: cycles of
// mapping and unmapping segments and large blocks leave as many headers
// live as before and map no more metadata after the first cycle.
func TestMetadataReused(t *testing.T) {
	ensureInit()
	saved := cfg()
	p := *saved
	p.segmentCache, p.bigCacheBytes = 0, 0
	publish(&p)
	defer publish(saved)
	Release()
	live := func() int {
		segPool.mu.Lock()
		defer segPool.mu.Unlock()
		return segPool.live
	}
	live0 := live()
	var mapped0 uint64
	for cycle := range 3 {
		var held [][]byte
		for range 40 {
			held = append(held, Alloc(maxSmall), Alloc(3<<20))
		}
		if got := live() - live0; got < 60 { // two 1 MiB blocks per segment
			t.Fatalf("cycle %d: %d headers live for 20 segments and 40 large blocks", cycle, got)
		}
		for _, b := range held {
			Free(b)
		}
		Release()
		if got := live(); got != live0 {
			t.Errorf("cycle %d: %d headers live after freeing everything, want %d", cycle, got, live0)
		}
		if cycle == 0 {
			mapped0 = metaMapped.Load()
		} else if m := metaMapped.Load(); m != mapped0 {
			t.Errorf("cycle %d: metadata mapped grew from %d to %d bytes: headers are not reused", cycle, mapped0, m)
		}
	}
	if ReadStats().MetadataBytes == 0 {
		t.Errorf("Stats.MetadataBytes is 0")
	}
}
