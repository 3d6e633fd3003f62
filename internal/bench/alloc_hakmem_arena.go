package bench

import hakmem "github.com/hakmem-go/hakmem"

// hakmemArenaAlloc is hakmem's Arena in the arena scenario (Scoper): one
// Arena per run, Reset at the end of each request, closed after the run.
// Its plain Alloc and Free are the global API.
type hakmemArenaAlloc struct {
	hakmemAlloc
	arena *hakmem.Arena
}

func init() {
	register("hakmem-arena", "hakmem.Arena: bump allocation, Reset per request (arena scenario only)", false,
		func() (Allocator, error) {
			return &hakmemArenaAlloc{hakmemAlloc: hakmemAlloc{name: "hakmem-arena", mode: startMode()}}, nil
		})
	ownedKinds["hakmem-arena"] = []Kind{KindArena}
	ownedKinds["hakmem-heap"] = append(ownedKinds["hakmem-heap"], KindArena)
}

// Scope returns the run's arena (made at the first request).
func (a *hakmemArenaAlloc) Scope() Scope {
	if a.arena == nil {
		a.arena = hakmem.NewArena()
	}
	return arenaScope{a.arena}
}

// AfterRun closes the run's arena.
func (a *hakmemArenaAlloc) AfterRun() {
	if a.arena != nil {
		a.arena.Close()
		a.arena = nil
	}
	a.hakmemAlloc.AfterRun()
}

type arenaScope struct{ a *hakmem.Arena }

func (s arenaScope) Alloc(n int) []byte { return s.a.Alloc(n) }
func (s arenaScope) End()               { s.a.Reset() }

// Scope: a request's Heap, closed at its end (bulk free).
func (*hakmemHeapAlloc) Scope() Scope { return heapScope{hakmem.NewHeap()} }

type heapScope struct{ h *hakmem.Heap }

func (s heapScope) Alloc(n int) []byte { return s.h.Alloc(n) }
func (s heapScope) End()               { s.h.Close() }
