//go:build hakmem_nolinkname || race

package hakmem

import (
	"math/rand/v2"
	"runtime"
	"sync"
)

// Portable pinning without go:linkname: a fixed array of cache slots, each
// behind a mutex. pin tries a random slot, then its neighbours, with
// TryLock, and blocks on one only when all are busy. About 10-15 ns more per
// operation than procPin, but it needs nothing from the runtime, and the
// race detector sees the ordering the mutexes give. It is selected by
// -tags hakmem_nolinkname and always under -race.

type pinState struct {
	mu sync.Mutex
}

const pinVariant = "mutex"

func pin() *pcache {
	cs := *caches.Load()
	n := uint32(len(cs))
	if n == 0 {
		growCaches(2 * max(gomaxprocs(), runtime.NumCPU()))
		cs = *caches.Load()
		n = uint32(len(cs))
	}
	i := rand.Uint32() % n
	for k := uint32(0); k < n; k++ {
		if pc := cs[(i+k)%n]; pc.mu.TryLock() {
			return pc
		}
	}
	pc := cs[i]
	pc.mu.Lock()
	return pc
}

func unpin(pc *pcache) { pc.mu.Unlock() }

// pinSlow is pin: the portable pin always returns a real cache.
func pinSlow() *pcache { return pin() }

// publishCache: the portable pin reads caches directly.
func publishCache(*pcache) {}

// flushOthers flushes every slot, each locked in turn (no visits, so no
// rounds to bound). Slots are not Ps: any goroutine may take any slot and
// GOMAXPROCS retires none, so every cache is drained whatever GOMAXPROCS
// did.
func flushOthers(int) {
	var buf [flushChunk]uintptr
	for _, pc := range *caches.Load() {
		for {
			pc.mu.Lock()
			c, k := pc.cutAny(buf[:])
			pc.mu.Unlock()
			if k == 0 {
				break
			}
			centrals[c].put(buf[:k])
		}
	}
}
