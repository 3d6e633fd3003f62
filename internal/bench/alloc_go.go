package bench

// goAlloc is the Go runtime with its garbage collector: Alloc is make and
// Free only drops the reference (the scenario overwrites or clears its slot),
// which is what ordinary Go code does.
type goAlloc struct{}

func init() {
	register("go", "go: make([]byte, n) and the garbage collector; Free drops the reference", true,
		func() (Allocator, error) { return goAlloc{}, nil })
}

func (goAlloc) Name() string       { return "go" }
func (goAlloc) Alloc(n int) []byte { return make([]byte, n) }
func (goAlloc) Free([]byte)        {}
