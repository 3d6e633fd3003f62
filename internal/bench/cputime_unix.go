//go:build unix

package bench

import (
	"time"

	"golang.org/x/sys/unix"
)

// processCPU is the process's CPU time so far, user and system
// (getrusage), or the wall clock when it cannot be read.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processFaults is the process's minor page faults so far (0 when they
// cannot be read).
func processFaults() uint64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return uint64(ru.Minflt)
}
