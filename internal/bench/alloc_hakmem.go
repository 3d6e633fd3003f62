package bench

import (
	"sync"

	hakmem "github.com/hakmem-go/hakmem"
)

// hakmemAlloc is hakmem itself, through its public API only, in one mode.
// hakmem is one allocator per process, so the mode is switched (SetMode)
// before each run of the entry, in Settle, and switched back after it, in
// AfterRun: entries of different modes can share a battle, and a mode
// entry leaves the process as it found it. Plain "hakmem" runs in the mode
// the process started with (HAKMEM_MODE, or Balanced).
//
// In scenarios that want sites (learning) each run allocates through a
// fresh hakmem.Site (WithSite), the only traffic hakmem learns from; in
// the others through plain hakmem.Alloc.
type hakmemAlloc struct {
	name string
	mode hakmem.Mode
	// prev is the mode Settle switched from, restored by AfterRun; 0 when
	// Settle changed nothing. Written by the runner's goroutine only.
	prev hakmem.Mode
}

// startMode is the mode the process was configured with, read before any
// entry switches it.
var startMode = sync.OnceValue(hakmem.CurrentMode)

func init() {
	register("hakmem", "hakmem: this project's off-heap allocator (hakmem.Alloc / hakmem.Free), in the configured mode", true,
		func() (Allocator, error) { return &hakmemAlloc{name: "hakmem", mode: startMode()}, nil })
	for _, m := range []hakmem.Mode{hakmem.Minimal, hakmem.Fast, hakmem.Balanced, hakmem.Learning, hakmem.Research} {
		name := "hakmem-" + m.String()
		register(name, "hakmem in "+m.String()+" mode (hakmem.SetMode before each run, the previous mode after it; research logs slow-path events to stderr)", false,
			func() (Allocator, error) { startMode(); return &hakmemAlloc{name: name, mode: m}, nil })
	}
}

func (a *hakmemAlloc) Name() string     { return a.name }
func (*hakmemAlloc) Alloc(n int) []byte { return hakmem.Alloc(n) }
func (*hakmemAlloc) Free(b []byte)      { hakmem.Free(b) }

// Settle switches to the entry's mode, remembering the one in force, and
// returns hakmem's cached memory to the OS, before each run.
func (a *hakmemAlloc) Settle() {
	a.prev = 0
	if cur := hakmem.CurrentMode(); cur != a.mode {
		a.prev = cur
		_ = hakmem.SetMode(a.mode)
	}
	hakmem.Release()
}

// AfterRun switches back to the mode Settle switched from. Leaving
// Learning also stops the learner goroutine.
func (a *hakmemAlloc) AfterRun() {
	if a.prev != 0 {
		_ = hakmem.SetMode(a.prev)
		a.prev = 0
	}
}

// WithSite returns an allocator on the site of that name, in this entry's
// mode (the mode stays the entry's business: Settle and AfterRun).
func (a *hakmemAlloc) WithSite(name string) (Allocator, error) {
	return &hakmemSite{name: a.name, site: hakmem.NewSite(name)}, nil
}

// ReadStats copies the counters a result file keeps from hakmem.ReadStats.
func (*hakmemAlloc) ReadStats() *AllocatorStats { return readHakmemStats() }

// readHakmemStats copies the counters a result file keeps from
// hakmem.ReadStats (every hakmem entry shares them: one hakmem per
// process).
func readHakmemStats() *AllocatorStats {
	s := hakmem.ReadStats()
	return &AllocatorStats{
		MappedBytes: s.MappedBytes,
		InUseBytes:  s.InUseBytes,
		CachedBytes: s.CachedBytes,
		FreeBytes:   s.FreeBytes,
		Segments:    s.Segments,
		LargeBlocks: s.LargeBlocks,
		Allocs:      s.Allocs,
		Frees:       s.Frees,
		FreeCrossP:  s.FreeCrossP,
		Mmaps:       s.Mmaps,
		Munmaps:     s.Munmaps,
		Errors:      s.Errors,
	}
}

// hakmemSite is a hakmem entry allocating through one site: what WithSite
// returns, for one run.
type hakmemSite struct {
	name string       // the entry's name
	site *hakmem.Site // the run's site
}

func (a *hakmemSite) Name() string       { return a.name }
func (a *hakmemSite) Alloc(n int) []byte { return a.site.Alloc(n) }
func (*hakmemSite) Free(b []byte)        { hakmem.Free(b) }

// LearnState reads the site's entry of hakmem.Leaderboard: present once
// the site was sampled while learning was live.
func (a *hakmemSite) LearnState() (LearnState, bool) {
	for _, ls := range hakmem.Leaderboard() {
		if ls.Site == a.site.Name() {
			return LearnState{State: ls.State, Threshold: ls.Threshold, Transitions: ls.Transitions}, true
		}
	}
	return LearnState{}, false
}
