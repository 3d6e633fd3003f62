//go:build !hakmem_nolinkname && !race

package hakmem

import _ "unsafe" // for go:linkname

// Pinning with the runtime's procPin/procUnpin, the mechanism sync.Pool
// uses. procPin disables preemption and returns the current P's id, so the
// pinned goroutine owns that P's cache until procUnpin; about 2.5 ns a pair.
// The runtime keeps these two linkable for user packages (Go 1.23+).
//
// While pinned, code must not block, take a lock, allocate on the Go heap
// or make a syscall: the GC's stop-the-world waits for pinned goroutines.
// Everything between pin and unpin in this package is list surgery only.
//
// The portable variant (pin_portable.go) replaces this file with
// -tags hakmem_nolinkname, and always under the race detector, which cannot
// see the ordering procPin provides.

//go:linkname runtime_procPin runtime.procPin
func runtime_procPin() int

//go:linkname runtime_procUnpin runtime.procUnpin
func runtime_procUnpin()

// pinState is empty: the P itself is the lock.
type pinState struct{}

const pinVariant = "procpin"

// pin returns the current P's cache with the goroutine pinned to that P.
func pin() *pcache {
	pid := runtime_procPin()
	cs := *caches.Load()
	if uint(pid) < uint(len(cs)) {
		return cs[pid]
	}
	runtime_procUnpin()
	return pinSlow()
}

// pinSlow grows the cache array (first use, or GOMAXPROCS grew) and pins.
func pinSlow() *pcache {
	for {
		growCaches(gomaxprocs())
		pid := runtime_procPin()
		cs := *caches.Load()
		if uint(pid) < uint(len(cs)) {
			return cs[pid]
		}
		runtime_procUnpin()
	}
}

func unpin(*pcache) { runtime_procUnpin() }

// flushOthers would flush the caches of other Ps. A P's cache can only be
// touched by a goroutine running on that P, so other caches are flushed by
// their owners at their next slow path (releaseEpoch).
func flushOthers() {}
