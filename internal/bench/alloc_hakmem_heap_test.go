package bench

import (
	"context"
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
	sc.Params.Seconds, sc.Params.Rounds = 0.2, 2 // successors within the run
	sc.Params = sc.Params.Resolved(sc.Kind)
	a, err := NewAllocator("hakmem-heap")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.(Owner); !ok {
		t.Fatal("hakmem-heap is not an Owner")
	}
	hakmem.Release()
	before := hakmem.ReadStats()
	var m meter
	raw, err := sc.Kind.run()(context.Background(), a, sc.Params, &m)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ExpectedChecksum(sc.Kind, sc.Params)
	if raw.ops == 0 || !raw.hasSum || raw.checksum != want {
		t.Fatalf("larson on hakmem-heap: %d ops, checksum %#x (has %v), want %#x", raw.ops, raw.checksum, raw.hasSum, want)
	}
	st := hakmem.ReadStats()
	if st.Heaps != before.Heaps || st.InUseBytes != before.InUseBytes {
		t.Errorf("after the run: %d heaps (before %d), in use %d (before %d)", st.Heaps, before.Heaps, st.InUseBytes, before.InUseBytes)
	}
	if st.HeapRemoteFrees == before.HeapRemoteFrees {
		t.Error("no remote free swept back: successors did not free through heaps")
	}
	for _, k := range []Kind{KindLarson, KindXmalloc, KindGCPressure} {
		if got := supports("hakmem-heap", k); got != (k == KindLarson) {
			t.Errorf("supports(hakmem-heap, %s) = %v", k, got)
		}
	}
}
