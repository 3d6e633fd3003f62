//go:build !hakmem_nolinkname && !race

package hakmem

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe" // and for go:linkname
)

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

// maxProcCaches bounds the table the fast path indexes directly. A P with a
// larger id (GOMAXPROCS above 1024) still works, through the slow paths.
const maxProcCaches = 1024

// procCaches[pid] is P pid's cache, or &noCache until the P first takes a
// slow path. Entries are written once (growCaches, under cachesMu) with an
// atomic store and read with a plain load by pin: a word-sized pointer load
// never tears, and the pointed-to cache was initialised before the store.
// Indexing a fixed array rather than loading a slice keeps pin inlinable.
var procCaches [maxProcCaches]*pcache

func init() {
	for i := range procCaches {
		procCaches[i] = &noCache
	}
}

// pin returns the current P's cache with the goroutine pinned to that P.
// When the P has no cache yet (first use, or GOMAXPROCS grew) it returns
// the sentinel noCache, on which every fast path misses; slow paths call
// pinSlow instead. Small enough to inline into the fast paths.
func pin() *pcache {
	pid := runtime_procPin()
	if uint(pid) < maxProcCaches {
		return procCaches[pid]
	}
	return &noCache
}

// pinSlow pins and returns a real cache, growing the cache array if needed.
func pinSlow() *pcache {
	for {
		pid := runtime_procPin()
		if cs := *caches.Load(); uint(pid) < uint(len(cs)) {
			return cs[pid]
		}
		runtime_procUnpin()
		growCaches(gomaxprocs())
	}
}

// publishCache makes a new cache visible to pin.
func publishCache(pc *pcache) {
	if pc.id < maxProcCaches {
		atomic.StorePointer((*unsafe.Pointer)(unsafe.Pointer(&procCaches[pc.id])), unsafe.Pointer(pc))
	}
}

func unpin(*pcache) { runtime_procUnpin() }

// flushOthers gets the other Ps' caches flushed. A P's cache can only be
// touched by a goroutine running on that P, so Release sends goroutines to
// visit: GOMAXPROCS of them, each spinning briefly until all have started
// (so that, while they spin, they occupy different Ps) and then flushing
// the cache of the P it runs on. Rounds repeat while some cache has not
// honoured the new epoch, up to visitRounds. It is best effort: a P kept
// busy by the program may miss a round, and flushes at its next refill or
// flush anyway; Ps beyond the current GOMAXPROCS keep their blocks.
func flushOthers() {
	target := releaseEpoch.Load()
	for round := 0; round < visitRounds; round++ {
		n := gomaxprocs()
		stale := false
		for _, pc := range (*caches.Load())[:min(n, len(*caches.Load()))] {
			stale = stale || pc.epoch.Load() < target
		}
		if !stale {
			return
		}
		var wg sync.WaitGroup
		var started atomic.Int32
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				started.Add(1)
				for deadline := time.Now().Add(visitSpin); started.Load() < int32(n) && time.Now().Before(deadline); {
				}
				flushOwn()
			}()
		}
		wg.Wait()
	}
}

const (
	visitRounds = 4                      // attempts to reach every P
	visitSpin   = 200 * time.Microsecond // longest a visitor waits for the others
)
