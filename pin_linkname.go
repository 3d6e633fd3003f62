//go:build !hakmem_nolinkname && !race

package hakmem

import (
	"runtime"
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

// pinState: the P itself is the lock. stolen is set while Release drains
// the cache of a retired P (stealRetired); pinSlow waits while it is set.
type pinState struct {
	stolen atomic.Bool
}

const pinVariant = "procpin"

// maxProcCaches bounds the table the fast path indexes directly. A P with a
// larger id (GOMAXPROCS above 1024) still works, through the slow paths.
const maxProcCaches = 1024

// procCaches[pid] is P pid's cache, or &noCache until the P first takes a
// slow path (and while Release drains the cache of a retired P pid:
// stealRetired). Entries are written with an atomic store (growCaches under
// cachesMu, stealRetired under stealMu) and read with a plain load by pin:
// a word-sized pointer load never tears, and the pointed-to cache was
// initialised (or drained) before the store. Indexing a fixed array rather
// than loading a slice keeps pin inlinable.
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
// It waits (unpinned) while Release is draining the P's cache: that can
// only be the case right after GOMAXPROCS grew back over the P.
func pinSlow() *pcache {
	for {
		pid := runtime_procPin()
		if cs := *caches.Load(); uint(pid) < uint(len(cs)) {
			if pc := cs[pid]; !pc.stolen.Load() {
				return pc
			}
			runtime_procUnpin()
			runtime.Gosched()
			continue
		}
		runtime_procUnpin()
		growCaches(gomaxprocs())
	}
}

// publishCache makes a new cache visible to pin.
func publishCache(pc *pcache) { setProcCache(int(pc.id), pc) }

// setProcCache stores pc into procCaches[k] (when the table has slot k):
// P k's cache, or &noCache to send P k's fast paths to pinSlow.
func setProcCache(k int, pc *pcache) {
	if uint(k) < maxProcCaches {
		atomic.StorePointer((*unsafe.Pointer)(unsafe.Pointer(&procCaches[k])), unsafe.Pointer(pc))
	}
}

func unpin(*pcache) { runtime_procUnpin() }

// flushOthers gets the other caches flushed: those of the live Ps (below
// GOMAXPROCS) by visiting them, those of retired Ps (GOMAXPROCS shrank
// since they were made) by draining them from here (stealRetired).
//
// A live P's cache can only be touched by a goroutine running on that P, so
// Release sends goroutines to visit: GOMAXPROCS of them, each spinning
// until all have started (so that, while they spin, they occupy different
// Ps), flushing the cache of the P it runs on, and then, while some cache
// is still stale, yielding (runtime.Gosched puts it on the global run
// queue, from which any P may take it) and flushing again wherever it
// lands, until the round's time is up. A P whose thread is waiting for a
// CPU (a loaded machine; more Ps than CPUs) or that the program keeps busy
// takes a while to run a visitor, so each round allows twice the time of
// the one before, from visitSpin, for up to rounds rounds: visitRounds
// for Release (about 50 ms in all, past the 10 ms after which the runtime
// preempts a busy goroutine), limitVisitRounds for an allocation that hit
// the memory limit (about 3 ms: it fails if the caches do not give back
// enough, and a program that keeps hitting its limit should not wait 50
// ms for each refusal). A P that is still missed flushes at its next
// refill or flush anyway, seeing the new epoch. A retired cache that
// GOMAXPROCS revived while Release was about to drain it is visited in the
// next round.
func flushOthers(rounds int) {
	target := releaseEpoch.Load()
	wait := visitSpin
	for round := 0; round < rounds; round++ {
		cs := *caches.Load()
		n := min(gomaxprocs(), len(cs))
		if anyStale(cs[:n], target) {
			visitLive(cs[:n], target, wait)
		}
		stealRetired(cs, round == 0, target)
		if !anyStale(*caches.Load(), target) {
			return
		}
		wait *= 2
	}
}

// anyStale reports whether some cache of cs has not flushed since Release
// epoch target began.
func anyStale(cs []*pcache, target uint64) bool {
	for _, pc := range cs {
		if pc.epoch.Load() < target {
			return true
		}
	}
	return false
}

// visitLive sends len(cs) goroutines to flush the caches of the Ps they
// run on, for up to wait, until no cache of cs is older than epoch target
// (flushOthers).
func visitLive(cs []*pcache, target uint64, wait time.Duration) {
	n := int32(len(cs))
	deadline := time.Now().Add(wait)
	var wg sync.WaitGroup
	var started atomic.Int32
	for range n {
		wg.Go(func() {
			started.Add(1)
			for started.Load() < n && time.Now().Before(deadline) {
			}
			for {
				flushOwn()
				if !anyStale(cs, target) || !time.Now().Before(deadline) {
					return
				}
				runtime.Gosched()
			}
		})
	}
	wg.Wait()
}

var (
	// stealMu serialises stealRetired: one thief per cache at a time.
	stealMu sync.Mutex
	// stealHook, set by tests only, runs in stealRetired once cache k is
	// hidden (draining false), and again once the thief has decided to
	// drain it (draining true).
	stealHook func(k int, draining bool)
)

// stealRetired drains the caches of the Ps at or above GOMAXPROCS: all of
// them when all is set, else those that have not flushed since epoch
// target. Such a P cannot run, so nothing touches its cache, as long as
// GOMAXPROCS does not grow back over it; this is how the thief makes sure:
//
//  1. It sets pc.stolen and stores &noCache into procCaches[k]: from now
//     on a goroutine that pins P k gets the sentinel on the fast paths and
//     waits in pinSlow.
//  2. It reads GOMAXPROCS again. If it is above k, P k may be running (and
//     may hold pc since before step 1): the thief puts everything back and
//     leaves pc to the visitors. Otherwise no goroutine holds pc: any that
//     pinned P k before step 1 did so while P k was live, and the change
//     that retired P k since then was a stop-the-world, which waits for
//     every pinned goroutine to unpin (procPin disables preemption); the
//     change is ordered before the read (sched.lock), so the thief also
//     sees what that goroutine wrote. A goroutine that pins P k later does
//     so after a GOMAXPROCS increase ordered after the read, so after
//     step 1: it finds the sentinel, or the flag.
//  3. It drains pc (detachAll, flushBatches) unpinned, publishes pc in
//     procCaches[k] again and clears the flag.
func stealRetired(cs []*pcache, all bool, target uint64) {
	stealMu.Lock()
	defer stealMu.Unlock()
	for k := gomaxprocs(); k < len(cs); k++ {
		pc := cs[k]
		if !all && pc.epoch.Load() >= target {
			continue
		}
		pc.stolen.Store(true)
		setProcCache(k, &noCache)
		if stealHook != nil {
			stealHook(k, false)
		}
		if gomaxprocs() > k {
			setProcCache(k, pc)
			pc.stolen.Store(false)
			continue
		}
		if stealHook != nil {
			stealHook(k, true)
		}
		pc.drainHeld()
		setProcCache(k, pc)
		pc.stolen.Store(false)
	}
}

const (
	visitSpin = 200 * time.Microsecond // the first round's time: longest a visitor waits for the others, and then looks for stale Ps
)

// drainHeld empties a cache that the caller holds without pinning (a
// retired P's cache taken over by Release).
func (pc *pcache) drainHeld() {
	var buf [flushChunk]uintptr
	for {
		c, k := pc.cutAny(buf[:])
		if k == 0 {
			return
		}
		centrals[c].put(buf[:k])
	}
}
