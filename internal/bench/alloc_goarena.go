//go:build goexperiment.arenas

package bench

import "arena"

// goArenaAlloc is Go's arena experiment (GOEXPERIMENT=arenas, proposal
// golang/go#51317) in the arena scenario: one arena.Arena per request,
// freed at its end. Built only under the experiment (alloc_goarena_off.go
// reports "not built" otherwise).
type goArenaAlloc struct{}

func newGoArena() (Allocator, error) { return goArenaAlloc{}, nil }

func (goArenaAlloc) Name() string       { return "goarena" }
func (goArenaAlloc) Alloc(n int) []byte { return make([]byte, n) }
func (goArenaAlloc) Free([]byte)        {}

// Scope returns a new Go arena for one request.
func (goArenaAlloc) Scope() Scope { return goArenaScope{arena.NewArena()} }

type goArenaScope struct{ a *arena.Arena }

func (s goArenaScope) Alloc(n int) []byte { return arena.MakeSlice[byte](s.a, n, n) }
func (s goArenaScope) End()               { s.a.Free() }
