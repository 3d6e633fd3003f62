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

// countSlowSize adds one slow-path allocation of size bytes to slowSizes.
func countSlowSize(size int) {
	if size > 0 {
		slowSizes[bits.Len(uint(size))].Add(1)
	}
}
