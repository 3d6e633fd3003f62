//go:build unix

package hakmem

import "golang.org/x/sys/unix"

// osProcessCPU is the process's CPU time so far, user and system, in ns,
// for the learner's throughput per CPU-second (learn_window.go): the process
// CPU clock (clock_gettime(CLOCK_PROCESS_CPUTIME_ID) counts the running
// threads' time up to now, where getrusage can lag a scheduler tick per
// running thread: 4 ms in a 100 ms window), else getrusage; false when
// neither can be read.
func osProcessCPU() (int64, bool) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) == nil {
		return ts.Nano(), true
	}
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
