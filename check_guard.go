package hakmem

import "sync"

// Guard pages of checked mode (GWP-ASan's idea): one allocation in
// HAKMEM_CHECK_GUARD gets a large-block mapping of its own, with the block
// at the end of its pages (16-byte aligned, so at most 15 canary bytes
// past it) and the mapping's last page made inaccessible. An overflow that
// reaches that page faults at once, read or write. When the block is
// freed its pages become inaccessible too, and it is held (guardHeld
// blocks, FIFO) before the mapping is made accessible and freed: a read or
// a write after free faults while it is held. With
// debug.SetPanicOnFault(true) a fault on such a page is a panic whose
// error has an Addr method, and Describe(addr) names the block, its state
// and its callers.
//
// The block's record is the mapping's (the large-block record at its base,
// flagged recGuard); the block's start is found from the mapping's length
// and the record's size (guardStart).

// guardHeld is how many freed guarded blocks stay inaccessible: each
// holds at least two pages and a 2 MiB range of address space.
const guardHeld = 64

// recGuard flags the record of a guarded block.
const recGuard = 2

// guards is the FIFO of freed guarded blocks (mapping bases).
var guards struct {
	mu      sync.Mutex
	ring    [guardHeld]uintptr // guarded by mu
	head, n int
}

// guardStart is the start of the guarded block whose mapping is seg and
// record r (its usable size is its length rounded up to 16).
func guardStart(seg *segment, r *checkRec) uintptr {
	return seg.base + seg.largeSize - osPageSize - (r.size+15)&^15
}

// guardAlloc maps a guarded block of size bytes; record and canaries are
// checkAlloc's. It returns the block, its usable size and the mapping's
// base.
func guardAlloc(size int, sid int32) (p, usable, base uintptr, err error) {
	usable = (uintptr(size) + 15) &^ 15
	base, mapped, _, err := allocLarge(roundLarge(usable)+osPageSize, sid)
	if err != nil {
		return 0, 0, 0, err
	}
	if err := osProtect(base+mapped-osPageSize, osPageSize, false); err != nil {
		releaseLarge(base)
		return 0, 0, 0, err
	}
	countLargeAlloc(sid, uintptr(size))
	return base + mapped - osPageSize - usable, usable, base, nil
}

// guardOf returns the record of the guarded block at p in the large
// mapping seg, or nil if p is not one.
func guardOf(p uintptr, seg *segment) *checkRec {
	if r := recFor(seg.base); r != nil && r.flags&recGuard != 0 && r.state.Load() != recNone && p == guardStart(seg, r) {
		return r
	}
	return nil
}

// guardFree frees the guarded block p (record r, now recQuarantined, in
// mapping seg): canaries checked, pages made inaccessible, held; the
// oldest held block is released.
func guardFree(p uintptr, r *checkRec, seg *segment, fpc uintptr, op string) {
	usable := (r.size + 15) &^ 15
	reps := checkFreeing(p, r, usable, false, fpc, op)
	base := seg.base
	_ = osProtect(base, seg.largeSize-osPageSize, false) // on failure the block is merely unguarded
	var old uintptr
	sh := chkShardOf()
	sh.mu.Lock()
	sh.liveBlocks--
	sh.liveBytes -= int64(r.size)
	sh.mu.Unlock()
	guards.mu.Lock()
	if guards.n == guardHeld {
		old = guards.ring[guards.head]
		guards.head = (guards.head + 1) % guardHeld
		guards.n--
	}
	guards.ring[(guards.head+guards.n)%guardHeld] = base
	guards.n++
	guards.mu.Unlock()
	if old != 0 {
		guardRelease(old)
	}
	for _, rep := range reps {
		deliver(rep)
	}
}

// guardRelease makes the guarded mapping at base accessible and frees it.
func guardRelease(base uintptr) {
	seg := regLookup(base)
	if err := osProtect(base, seg.largeSize, true); err != nil {
		panic("hakmem: mprotect of a guarded block: " + err.Error())
	}
	recFor(base).state.Store(recNone)
	releaseLarge(base)
}

// checkGuardUsable is usableSize for a pointer into a large mapping: ok
// when the mapping is a guarded block's (then n or err is the answer).
func checkGuardUsable(p uintptr, seg *segment, op string) (n uintptr, err error, ok bool) {
	r := recFor(seg.base)
	if r == nil || r.flags&recGuard == 0 || r.state.Load() == recNone {
		return 0, nil, false
	}
	switch {
	case p != guardStart(seg, r):
		return 0, newError(op, p, 0, ErrInvalidPointer, "not the start of a block (a pointer into a guarded block's mapping)"), true
	case r.state.Load() != recLive:
		return 0, newError(op, p, 0, ErrDoubleFree, "the block is free (a guarded block, held inaccessible)"), true
	}
	return (r.size + 15) &^ 15, nil, true
}
