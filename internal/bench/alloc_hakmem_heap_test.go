package bench

import (
	"context"
	"sync/atomic"
	"testing"

	hakmem "github.com/hakmem-go/hakmem"
)

// TestLarsonOwnedHeaps runs larson on hakmem-heap: every worker goroutine
// and each successor allocates through a Heap of its own, frees inherited
// blocks remotely and detaches at its end; the run's checksum is larson's,
// no heap outlives the run, remote frees were swept back, and nothing stays
// in use. The entry runs only where workers ask for an owner.
func TestLarsonOwnedHeaps(t *testing.T) {
	sc, err := LookupScenario("larson")
	if err != nil {
		t.Fatal(err)
	}
	sc.Params.Seconds, sc.Params.Chunks, sc.Params.Rounds = 0.2, 500, 2 // successors every 1000 steps
	sc.Params = sc.Params.Resolved(sc.Kind)
	ha, err := NewAllocator("hakmem-heap")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ha.(Owner); !ok {
		t.Fatal("hakmem-heap is not an Owner")
	}
	a := &countingOwner{hakmemHeapAlloc: ha.(*hakmemHeapAlloc)}
	hakmem.Release()
	before := hakmem.ReadStats()
	var m meter
	raw, err := sc.Kind.run()(context.Background(), a, sc.Params, &m)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ExpectedChecksum(sc.Kind, sc.Params)
	if raw.ops == 0 || raw.hasSum && raw.checksum != want { // a slow (race) build may not reach the checksummed ops
		t.Fatalf("larson on hakmem-heap: %d ops, checksum %#x (has %v), want %#x", raw.ops, raw.checksum, raw.hasSum, want)
	}
	st := hakmem.ReadStats()
	if st.Heaps != before.Heaps || st.InUseBytes != before.InUseBytes {
		t.Errorf("after the run: %d heaps (before %d), in use %d (before %d)", st.Heaps, before.Heaps, st.InUseBytes, before.InUseBytes)
	}
	if n := a.owned.Load(); n <= int64(sc.Params.Threads) {
		t.Errorf("%d heaps made for %d workers: successors did not make their own", n, sc.Params.Threads)
	}
	for _, k := range []Kind{KindLarson, KindXmalloc, KindGCPressure} {
		if got := supports("hakmem-heap", k); got != (k == KindLarson) {
			t.Errorf("supports(hakmem-heap, %s) = %v", k, got)
		}
	}
}

// TestArenaScenarioScopes runs the arena scenario on hakmem's scoped
// entries: every request goes through a scope (an Arena Reset, a Heap
// Close) and nothing stays in use, held by an arena or a heap afterwards.
func TestArenaScenarioScopes(t *testing.T) {
	sc, err := LookupScenario("arena")
	if err != nil {
		t.Fatal(err)
	}
	sc.Params.Steps, sc.Params.Slots = 20, 300
	for _, name := range []string{"hakmem-arena", "hakmem-heap"} {
		a, err := NewAllocator(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := a.(Scoper); !ok || !supports(name, KindArena) || supports(name, KindXmalloc) {
			t.Fatalf("%s: Scoper %v, supports arena %v, xmalloc %v", name, ok, supports(name, KindArena), supports(name, KindXmalloc))
		}
		hakmem.Release()
		before := hakmem.ReadStats()
		var m meter
		raw, err := sc.Kind.run()(context.Background(), a, sc.Params, &m)
		if err != nil {
			t.Fatal(err)
		}
		mid := hakmem.ReadStats()
		if ar, ok := a.(AfterRunner); ok {
			ar.AfterRun()
		}
		st := hakmem.ReadStats()
		if raw.ops != 2*20*300 || name == "hakmem-arena" && mid.Allocs-before.Allocs > 100 {
			t.Errorf("%s: %d ops, %d hakmem allocations (an arena allocates chunks)", name, raw.ops, mid.Allocs-before.Allocs)
		}
		if st.InUseBytes != before.InUseBytes || st.Arenas != before.Arenas || st.Heaps != before.Heaps {
			t.Errorf("%s: after the run in use %d (before %d), arenas %d (%d), heaps %d (%d)", name,
				st.InUseBytes, before.InUseBytes, st.Arenas, before.Arenas, st.Heaps, before.Heaps)
		}
	}
}

// countingOwner counts the heaps hakmem-heap makes.
type countingOwner struct {
	*hakmemHeapAlloc
	owned atomic.Int64
}

func (c *countingOwner) Own() OwnedAllocator {
	c.owned.Add(1)
	return c.hakmemHeapAlloc.Own()
}
