package hakmem

// Release returns cached free memory to the OS. It flushes every per-P
// cache (flushOthers): those of live Ps by visiting them, though one the
// program keeps busy may flush later, at its next refill or flush; those
// of Ps that a smaller GOMAXPROCS retired by draining them itself, so no
// cache is left behind whatever GOMAXPROCS did. It then empties the
// central transfer caches onto their slabs, hands the slabs of detached
// Heaps that no Heap took over to the central lists, unmaps empty
// segments and the BigCache's large blocks, and drops the free pages of
// live segments (MADV_DONTNEED). It is the scavenger's work, done at once
// for everything.
func Release() {
	ensureInit()
	releaseRounds(visitRounds)
}

// Release's visits to the live Ps (flushOthers): up to visitRounds
// rounds, each twice as long as the one before, for Release; fewer,
// limitVisitRounds, for an allocation that hit the memory limit.
const (
	visitRounds      = 8 // about 50 ms at most in all
	limitVisitRounds = 4 // about 3 ms at most
)

// releaseAll is Release after the first-use initialisation, with the
// shorter visits: what the allocation paths call when the memory limit is
// hit and the caches may hold enough.
func releaseAll() { releaseRounds(limitVisitRounds) }

// releaseRounds is Release, its visits to the live Ps bounded to rounds
// rounds (flushOthers).
func releaseRounds(rounds int) {
	if checkOn() { // hook: checked mode's quarantine and free stacks, verified, go back first (check_quarantine.go)
		checkDrain()
	}
	releaseEpoch.Add(1)
	flushOwn()
	flushOthers(rounds)
	for i := range centrals {
		centrals[i].drain()
	}
	heap.scavenge(now(), true)
}
