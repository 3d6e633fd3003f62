package hakmem

import (
	"fmt"
	"io"
	"math/bits"
	"os"
	"sync"
	"sync/atomic"
)

// The debug log (HAKMEM_DEBUG; Learning mode: minimal, Research: verbose):
// one line on stderr per notable slow-path event. Calls sit only on slow
// paths (segment and large-block maps and unmaps, scavenger passes, memory
// limit hits, mode changes), each behind one load of the policy; the fast
// paths have none. In verbose mode a line may be written while heap.mu is
// held: a development setting, not a production one.

var debugLog struct {
	mu sync.Mutex // serialises lines; guards w
	w  io.Writer  // os.Stderr; tests replace it
}

func init() { debugLog.w = os.Stderr }

// logf writes one line if the policy's debug level is at least level.
func (p *policy) logf(level int, format string, args ...any) {
	if p.debug < level {
		return
	}
	line := fmt.Sprintf("hakmem: "+format+"\n", args...)
	debugLog.mu.Lock()
	io.WriteString(debugLog.w, line)
	debugLog.mu.Unlock()
}

// slowSizes is the debug size histogram (Stats.SlowAllocSizes): slow-path
// allocations by bits.Len(size), counted only while HAKMEM_DEBUG is verbose
// (Research mode). Atomic adds on the slow path; the fast path counts
// nothing here.
var slowSizes [64]atomic.Uint64

// slowTimingSample: one slow-path allocation in this many is timed (a
// clock read costs ~20 ns, a refill a few hundred; sampling keeps the
// debug mode's own cost small).
const slowTimingSample = 16

// The sampled slow-path timing (Stats.SlowAllocTimed, SlowAllocNs),
// Research mode only: allocations timed and their total duration, ns.
var slowTimed, slowNs atomic.Uint64

// countSlowSize adds one slow-path allocation of size bytes to slowSizes
// and reports whether this one is to be timed.
func countSlowSize(size int) bool {
	if size > 0 {
		return slowSizes[bits.Len(uint(size))].Add(1)%slowTimingSample == 0
	}
	return false
}

// timeSlowAlloc records a timed slow-path allocation that began at t0.
func timeSlowAlloc(t0 int64) {
	slowTimed.Add(1)
	slowNs.Add(uint64(max(now()-t0, 0)))
}
