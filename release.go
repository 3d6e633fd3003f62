package hakmem

import "sync"

// Release returns cached free memory to the OS. It flushes every per-P
// cache (flushOthers): those of live Ps by visiting them, though one the
// program keeps busy may flush later, at its next refill or flush; those
// of Ps that a smaller GOMAXPROCS retired by draining them itself, so no
// cache is left behind whatever GOMAXPROCS did. It then empties the
// central transfer caches onto their slabs, unmaps empty segments and the
// BigCache's large blocks, and drops the free pages of live segments
// (MADV_DONTNEED). It is the scavenger's work, done at once for everything.
func Release() {
	ensureInit()
	sweepMu.Lock() // the scavenger's tidy pass must not hold slabs in transit meanwhile
	defer sweepMu.Unlock()
	releaseEpoch.Add(1)
	flushOwn()
	flushOthers()
	for i := range centrals {
		centrals[i].drain()
	}
	heap.scavenge(now(), true)
}

// sweepMu serialises Release and the scavenger's tidy pass (scavenger.go):
// both move slabs off the per-P heaps and central lists and back to the
// page heap, and each must find everything the other has not finished
// moving.
var sweepMu sync.Mutex
