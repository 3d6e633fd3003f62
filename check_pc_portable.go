//go:build !amd64

package hakmem

import "runtime"

// framePCs fills pcs with the return addresses of the frames above its
// caller, through runtime.Callers (no frame-pointer walk on this
// architecture: about 200 ns a call).
func framePCs(pcs []uintptr) int {
	return runtime.Callers(2, pcs)
}
