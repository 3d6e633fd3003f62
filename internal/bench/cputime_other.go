//go:build !unix

package bench

import "time"

// processCPU falls back to the wall clock where getrusage is missing: the
// learning suite's per-CPU-second figures are then per wall second.
func processCPU() time.Duration { return time.Duration(time.Now().UnixNano()) }

// processFaults: not counted here.
func processFaults() uint64 { return 0 }
