//go:build !amd64

package hakmem

import "runtime"

// framePCs fills pcs with the return addresses of the frames above its
// caller, through runtime.Callers (no frame-pointer walk on this
// architecture: about 200 ns a call).
func framePCs(pcs []uintptr) int {
	return runtime.Callers(2, pcs)
}

// callerPCCached is callerPC's fast path where frame pointers are walked
// (check_pc_fp.go); here callerPC always takes its slow path.
func callerPCCached() (uintptr, bool) { return 0, false }
