//go:build !hakmem_nolinkname && !race

package hakmem

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The procPin variant drains a retired P's cache from Release's goroutine
// (stealRetired). These tests raise GOMAXPROCS at the two points of the
// protocol where it matters, through stealHook.

// retireProcs makes sure Ps 0..3 have caches, then shrinks GOMAXPROCS to
// 1, so that caches 1..3 belong to retired Ps. It restores GOMAXPROCS and
// clears stealHook when the test ends.
func retireProcs(t *testing.T) {
	restoreProcs(t)
	t.Cleanup(func() { stealHook = nil })
	ensureInit()
	StopScavenger()
	growCaches(4)
	runtime.GOMAXPROCS(1)
}

// TestReleaseStealUndo: GOMAXPROCS grows back over a retired P after the
// thief hid its cache but before it checked again. The thief must leave
// that cache (and the next ones, now live too) alone: a goroutine may have
// been holding it.
func TestReleaseStealUndo(t *testing.T) {
	retireProcs(t)
	var raised bool
	var drained []int
	stealHook = func(k int, draining bool) {
		if !raised && !draining && k == 1 {
			raised = true
			runtime.GOMAXPROCS(4)
		}
		if draining && k < 4 {
			drained = append(drained, k)
		}
	}
	Release()
	if !raised {
		t.Fatal("Release did not try to drain retired P 1")
	}
	if len(drained) > 0 {
		t.Errorf("Release drained the caches of Ps %v, live again", drained)
	}
	cs := *caches.Load()
	for k := 1; k < 4; k++ {
		if procCaches[k] != cs[k] || cs[k].stolen.Load() {
			t.Errorf("P %d: cache not given back (published %p, cache %p, stolen %v)", k, procCaches[k], cs[k], cs[k].stolen.Load())
		}
	}
}

// TestReleaseStealBlocksPin: GOMAXPROCS grows back over a retired P while
// the thief drains its cache. Goroutines running on that P meanwhile must
// keep out of the cache (the fast paths find the sentinel, pinSlow waits)
// until the thief gives it back.
func TestReleaseStealBlocksPin(t *testing.T) {
	retireProcs(t)
	var stop atomic.Bool
	var ops atomic.Int64
	var wg sync.WaitGroup
	defer func() { stop.Store(true); wg.Wait() }()
	touched := func(pc *pcache) (sum uint64) {
		for c := range pc.lists {
			sum += pc.lists[c].allocs.load() + pc.lists[c].frees.load() + pc.moved[c].in.load() + pc.moved[c].out.load()
		}
		return sum
	}
	var hooked bool
	stealHook = func(k int, draining bool) {
		if hooked || !draining || k != 1 {
			return
		}
		hooked = true
		pc := (*caches.Load())[1]
		before := touched(pc)
		runtime.GOMAXPROCS(4)
		for range 8 {
			wg.Go(func() {
				// Yield between Alloc and Free, so that frees too
				// land on P 1, whatever the allocations do there.
				for i := 0; !stop.Load(); i++ {
					b := Alloc(16 + i%2000)
					runtime.Gosched()
					Free(b)
					ops.Add(1)
				}
			})
		}
		time.Sleep(30 * time.Millisecond)
		if ops.Load() == 0 {
			t.Error("no allocation ran while the thief held the cache")
		}
		if after := touched(pc); after != before {
			t.Errorf("P 1's cache was used while Release drained it: counters %d, then %d", before, after)
		}
	}
	Release()
	if !hooked {
		t.Fatal("Release did not drain retired P 1")
	}
	stop.Store(true)
	wg.Wait()
	checkStats(t, "after")
}
