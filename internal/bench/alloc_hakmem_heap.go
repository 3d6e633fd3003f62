package bench

import hakmem "github.com/hakmem-go/hakmem"

// hakmemHeapAlloc is hakmem through goroutine-owned heaps (hakmem.Heap):
// each worker goroutine of a scenario with workers (larson) allocates and
// frees through its own Heap (Own), frees the blocks it inherited from its
// predecessor through it (remote frees: they were allocated by the
// predecessor's heap), and detaches the heap when it finishes, as a native
// larson successor thread gets a new thread-local heap. A successor starts
// while its predecessor detaches; the detached slabs wait as orphans, which
// the next heap that needs a slab adopts (an inherited block on a slab its
// heap adopted is freed as its own, the others as remote frees). In the arena scenario each request gets a Heap,
// closed at its end (alloc_hakmem_arena.go). Its plain Alloc and Free (the
// runner's final frees) are the global API. It runs only in the scenarios
// that use owners or scopes (ownedKinds).
type hakmemHeapAlloc struct{ hakmemAlloc }

func init() {
	register("hakmem-heap", "hakmem through hakmem.Heap: one per larson worker goroutine (Detach at its end), one per arena request (Close at its end); larson and arena only", false,
		func() (Allocator, error) {
			return &hakmemHeapAlloc{hakmemAlloc{name: "hakmem-heap", mode: startMode()}}, nil
		})
}

// Own returns a new Heap for the calling worker goroutine.
func (*hakmemHeapAlloc) Own() OwnedAllocator { return heapOwned{hakmem.NewHeap()} }

type heapOwned struct{ h *hakmem.Heap }

func (o heapOwned) Alloc(n int) []byte { return o.h.Alloc(n) }
func (o heapOwned) Free(b []byte)      { o.h.Free(b) }
func (o heapOwned) End()               { o.h.Detach() }

// ownedKinds are the scenario kinds whose workers take an owned allocator
// (Owner); an adapter that only makes sense that way runs only there.
var ownedKinds = map[string][]Kind{"hakmem-heap": {KindLarson}}
