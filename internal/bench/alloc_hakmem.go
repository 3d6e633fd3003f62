package bench

import hakmem "github.com/hakmem-go/hakmem"

// hakmemAlloc is hakmem itself, through its public API only.
type hakmemAlloc struct{}

func init() {
	register("hakmem", "hakmem: this project's off-heap allocator (hakmem.Alloc / hakmem.Free)", true,
		func() (Allocator, error) { return hakmemAlloc{}, nil })
}

func (hakmemAlloc) Name() string       { return "hakmem" }
func (hakmemAlloc) Alloc(n int) []byte { return hakmem.Alloc(n) }
func (hakmemAlloc) Free(b []byte)      { hakmem.Free(b) }

// Settle returns hakmem's cached memory to the OS between runs.
func (hakmemAlloc) Settle() { hakmem.Release() }

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
