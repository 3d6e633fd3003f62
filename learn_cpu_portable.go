//go:build !unix

package hakmem

// osProcessCPU: where the process's CPU time cannot be read, the learner
// measures throughput per wall second (the monotonic clock) instead.
func osProcessCPU() (int64, bool) { return now(), true }
