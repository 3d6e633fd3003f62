package bench

import "slices"

// Adapters for the gc-footprint scenario only: raw-mmap (alloc_rawmmap_*.go)
// and go-heap. Elsewhere the battle shows them as "not supported": raw-mmap
// never frees, and go-heap would only repeat the go adapter.

// footprintOnly maps the adapters that serve one scenario kind only to
// that kind.
var footprintOnly = map[string]Kind{"raw-mmap": KindGCFootprint, "go-heap": KindGCFootprint}

// supports reports whether the adapter name may run a scenario of kind k.
func supports(name string, k Kind) bool {
	if kinds, ok := ownedKinds[name]; ok { // alloc_hakmem_heap.go
		return slices.Contains(kinds, k)
	}
	only, ok := footprintOnly[name]
	return !ok || only == k
}

// goHeapAlloc is the Go heap as gc-footprint holds it: make([]byte, n),
// the blocks kept referenced (in a [][]byte) by the scenario for as long as
// they are held. Free drops the reference.
type goHeapAlloc struct{}

func init() {
	register("go-heap", "go-heap: make([]byte, n) kept in a slice while held (gc-footprint only)", false,
		func() (Allocator, error) { return goHeapAlloc{}, nil })
}

func (goHeapAlloc) Name() string       { return "go-heap" }
func (goHeapAlloc) Alloc(n int) []byte { return make([]byte, n) }
func (goHeapAlloc) Free([]byte)        {}
