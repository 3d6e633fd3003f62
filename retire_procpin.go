//go:build !hakmem_nolinkname && !race

package hakmem

import (
	"runtime"
	"sync"
)

var (
	reapMu       sync.Mutex       // serialises reapRetired
	barrierStats runtime.MemStats // ReadMemStats' output, unused; guarded by reapMu
)

// pinBarrier returns once every goroutine pinned when it was called has
// unpinned. procPin disables preemption, and a stop-the-world waits for
// every running goroutine to reach a preemption point: runtime.ReadMemStats
// stops the world, so its return is the barrier (tens of microseconds,
// paid once per batch of retired segments). Caller holds reapMu.
func pinBarrier() { runtime.ReadMemStats(&barrierStats) }
