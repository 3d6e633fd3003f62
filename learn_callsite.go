package hakmem

import (
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Call-site discovery: hakmem's thesis is that the call site labels an
// allocation's purpose, and a named Site is how a program says so. Plain
// Alloc has no name, so hakmem samples where plain allocations come from
// and WriteStats lists the busiest call sites as "sites worth naming",
// with file:line.
//
// The sample is taken on the slow path only (a per-P refill, or a large
// allocation), one slow-path entry in HAKMEM_CALLSITE_SAMPLE on average
// (each drawn at random with that chance, no shared counter): the fast
// path pays nothing. A small class refills once per batch (4 to 32 blocks),
// so counts are proportional to slow-path entries, not to allocations: they
// rank call sites within a class well and across classes roughly, which is
// what choosing sites to name needs.

// callsiteFrames is how deep a sample looks for the first frame outside
// package hakmem (Alloc, allocSlow, allocAddr, allocSmallSlow and a spare).
const callsiteFrames = 8

// callsiteMax bounds the table: past it, new call sites are not recorded
// (the busiest show up early).
const callsiteMax = 1024

var callsites struct {
	mu  sync.Mutex
	pcs map[uintptr]uint64 // caller PC -> samples; guarded by mu
}

// sampleCallsite counts a slow-path entry of a plain (default-site)
// allocation and, one in N, records its caller. Never called while pinned.
func sampleCallsite() {
	n := cfg().callsiteSample
	if n <= 0 {
		return
	}
	// A random draw from the runtime's per-thread generator: no shared
	// cache line (a shared atomic tick cost xmalloc 17% of its CPU) and no
	// pin (a per-P tick cost json and mir 10%: every 64-256 KiB op of
	// theirs is a slow path).
	if rand.Uint32N(uint32(n)) != 0 {
		return
	}
	var pcs [callsiteFrames]uintptr
	k := runtime.Callers(2, pcs[:])
	frames := runtime.CallersFrames(pcs[:k])
	for {
		f, more := frames.Next()
		// The first frame outside the allocator: another package, or this
		// package's own tests.
		if !strings.HasPrefix(f.Function, "github.com/hakmem-go/hakmem.") || strings.HasSuffix(f.File, "_test.go") {
			callsites.mu.Lock()
			if callsites.pcs == nil {
				callsites.pcs = make(map[uintptr]uint64)
			}
			if _, ok := callsites.pcs[f.PC]; ok || len(callsites.pcs) < callsiteMax {
				callsites.pcs[f.PC]++
			}
			callsites.mu.Unlock()
			return
		}
		if !more {
			return
		}
	}
}

// CallsiteStats is one sampled call site of plain allocations.
type CallsiteStats struct {
	Function string // the calling function
	File     string // its file
	Line     int    // and line
	Samples  uint64 // sampled slow-path entries from there
}

// topCallsites returns the n call sites with the most samples.
func topCallsites(n int) []CallsiteStats {
	callsites.mu.Lock()
	out := make([]CallsiteStats, 0, len(callsites.pcs))
	for pc, c := range callsites.pcs {
		f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
		out = append(out, CallsiteStats{Function: f.Function, File: f.File, Line: f.Line, Samples: c})
	}
	callsites.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Samples != out[j].Samples {
			return out[i].Samples > out[j].Samples
		}
		return out[i].File < out[j].File || out[i].File == out[j].File && out[i].Line < out[j].Line
	})
	return out[:min(n, len(out))]
}
