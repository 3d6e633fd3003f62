package bench

import (
	"sync"

	hakmem "github.com/hakmem-go/hakmem"
)

// hakmemAlloc is hakmem itself, through its public API only, in one mode.
// hakmem is one allocator per process, so the mode is switched (SetMode)
// before each run of the entry, in Settle: entries of different modes can
// share a battle. Plain "hakmem" runs in the mode the process started
// with (HAKMEM_MODE, or Balanced).
type hakmemAlloc struct {
	name string
	mode hakmem.Mode
}

// startMode is the mode the process was configured with, read before any
// entry switches it.
var startMode = sync.OnceValue(hakmem.CurrentMode)

func init() {
	register("hakmem", "hakmem: this project's off-heap allocator (hakmem.Alloc / hakmem.Free), in the configured mode", true,
		func() (Allocator, error) { return hakmemAlloc{"hakmem", startMode()}, nil })
	for _, m := range []hakmem.Mode{hakmem.Minimal, hakmem.Fast, hakmem.Balanced, hakmem.Learning, hakmem.Research} {
		name := "hakmem-" + m.String()
		register(name, "hakmem in "+m.String()+" mode (hakmem.SetMode before each run; research logs slow-path events to stderr)", false,
			func() (Allocator, error) { startMode(); return hakmemAlloc{name, m}, nil })
	}
}

func (a hakmemAlloc) Name() string     { return a.name }
func (hakmemAlloc) Alloc(n int) []byte { return hakmem.Alloc(n) }
func (hakmemAlloc) Free(b []byte)      { hakmem.Free(b) }

// Settle switches to the entry's mode and returns hakmem's cached memory to
// the OS, before each run.
func (a hakmemAlloc) Settle() {
	if hakmem.CurrentMode() != a.mode {
		_ = hakmem.SetMode(a.mode)
	}
	hakmem.Release()
}

// ReadStats copies the counters a result file keeps from hakmem.ReadStats.
func (hakmemAlloc) ReadStats() *AllocatorStats {
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
