package hakmem

import (
	"context"
	"log/slog"
	"math/bits"
	"os"
	"strconv"
	"sync/atomic"
)

// The debug log (HAKMEM_DEBUG; Learning mode: minimal, Research: verbose):
// one log/slog record per notable slow-path event. Calls sit only on slow
// paths (segment and large-block maps and unmaps, scavenger passes, memory
// limit hits, mode changes), each behind one load of the snapshot; the fast
// paths have none. Minimal events are logged at slog.LevelInfo, verbose
// ones at slog.LevelDebug. In verbose mode a record may be written while
// heap.mu is held: a development setting, not a production one (and a
// handler must not call back into hakmem).

// debugLogger is the logger records go to: SetLogger's, or text on stderr
// (every level) with the attribute logger=hakmem.
var debugLogger atomic.Pointer[slog.Logger]

func init() { debugLogger.Store(defaultLogger()) }

func defaultLogger() *slog.Logger {
	h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(h).With("logger", "hakmem")
}

// SetLogger sends hakmem's debug log (HAKMEM_DEBUG, or the Learning and
// Research modes) to l and returns the logger it replaces; nil restores
// the default, text on stderr. Which events are logged is still decided by
// HAKMEM_DEBUG: minimal ones (memory limit hits, mode changes) at
// slog.LevelInfo, verbose ones (maps, unmaps, scavenger passes, learning
// transitions) at slog.LevelDebug, so l's handler may filter them further.
// Records are written from slow paths, some with hakmem's locks held: the
// handler must not allocate from hakmem.
func SetLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		l = defaultLogger()
	}
	return debugLogger.Swap(l)
}

// logAttrs logs one event with attributes if the snapshot's debug level is
// at least level.
func (p *snapshot) logAttrs(level int, msg string, attrs ...slog.Attr) {
	if p.debug < level {
		return
	}
	lv := slog.LevelInfo
	if level >= debugVerbose {
		lv = slog.LevelDebug
	}
	debugLogger.Load().LogAttrs(context.Background(), lv, msg, attrs...)
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

// hexAddr formats an address for the log.
func hexAddr(p uintptr) string { return "0x" + strconv.FormatUint(uint64(p), 16) }
