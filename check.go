package hakmem

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Checked mode (HAKMEM_CHECK=1, or -tags hakmem_check): catch use after
// free, overflows past len and double frees, and say which code allocated
// and freed the block. It is a mode of the slow paths, so the default fast
// paths carry no check: with checked mode on every per-P cache has
// capacity zero (capOf), so nothing is ever pushed onto a per-P list and
// every Alloc misses it, and every Free of a small block reaches
// freeSmallSlow. The engine calls into this file at these points:
//
//   - allocAddr: every allocation that gets past the size checks goes to
//     checkAlloc;
//   - freeSmallSlow: a small block the fast path validated and claimed goes
//     to checkFreeSmall instead of a free list;
//   - freeSlow: everything else Free is given (large blocks, double frees,
//     interior and foreign pointers) goes to checkFreeSlow;
//   - realloc: checkRealloc (always a new block and a copy, so a stale
//     slice of the old one is caught);
//   - capOf: the per-P caps are zero;
//   - Release: checkDrain verifies the quarantines and hands every block
//     checked mode holds back to the engine.
//
// A checked block's slice has cap == len (UsableSize says the same), so
// safe code cannot write past len: the rest of the block is canaries,
// which catch writes through unsafe code or cgo.
//
// A checked block gets a record (check_rec.go): its length, its
// allocating and freeing callers (check_pc.go) and, for one block in
// HAKMEM_CHECK_STACKS, full stacks (stacktab.go). Its bytes past len, up
// to the block's usable size, are canaries: a small request is served
// from the class of len+checkTail, so there are always at least
// checkTail of them. Free checks the canaries (an overflow), poisons the
// block and puts it at the tail of the quarantine (check_quarantine.go), a
// FIFO bounded in bytes; the block at the head leaves when the bound is
// passed, and its poison is verified then (a use after free). Verified
// blocks wait on a free stack per class, from which checkAlloc takes
// first; a stack over two batches returns a batch to the central list.
// The record's state moves by compare-and-swap, so of two racing Frees
// exactly one frees and the other is a double free, whatever the engine's
// own claim does. Failures go to the OnCheckFailure handler
// (check_report.go), after every lock is released.

// checkTail is the least number of canary bytes past len of a small
// block: an overflow by up to 16 bytes is caught byte for byte.
const checkTail = 16

const (
	poisonByte = 0xdd // freed memory
	canaryByte = 0xcb // past len
	poisonWord = 0xdddddddddddddddd
	canaryWord = 0xcbcbcbcbcbcbcbcb
)

// checkOn reports whether checked mode is on (fixed at first use). Slow
// paths only: one atomic load.
func checkOn() bool {
	ensureInit() // the first call may be a fast path's miss on the sentinel cache
	return cfg().check
}

// chkShard is one shard of checked mode's state: a quarantine. A
// goroutine uses the shard of the P it runs on (chkShardOf), so that
// goroutines on different Ps do not contend for one lock; a block freed
// on another P than allocated it goes to that P's shard. Lock order: a
// shard's mu before a central list's lock; never held pinned.
//
// The verified blocks that left a quarantine wait on the free stacks of
// the P that freed the block that pushed them out (pcache.chkFree), used
// pinned, without a lock: an Alloc takes no lock at all when its class's
// stack has a block. Release hands them back as it flushes the per-P
// caches (chkCut), since only a P's owner, or Release's thief of a
// retired P, may touch them.
type chkShard struct {
	mu                    sync.Mutex
	qhead                 uintptr   // oldest quarantined block; guarded by mu
	qtail                 uintptr   // newest; guarded by mu
	qheadRec, qtailRec    *checkRec // their records (nil when empty), so linking and evicting need no recFor; guarded by mu
	qbytes                uint64    // usable bytes quarantined; guarded by mu
	qblocks               int       // blocks quarantined; guarded by mu
	liveBlocks, liveBytes int64     // blocks freed here net of those made live here (large ones), and their lengths (Stats.LiveBlocks, with pcache.chkLiveBlocks); guarded by mu
	// fed is the usable bytes ever quarantined here (small blocks), and
	// stamp the sum of every shard's fed at the last of them, chkEmpty
	// while the quarantine is empty (check_quarantine.go: chkEvictIdle).
	// Written under mu, read by any P without it.
	fed, stamp counter
	_          [64]byte
}

// chkStack is a stack of verified blocks of one class, ready for reuse
// (recFree), linked through their records (checkRec.link).
//
// Its fields are words, not pointers: the per-P caches may live on the Go
// heap (pcache.go), and a pointer would make the GC scan them.
type chkStack struct {
	head uintptr // the top block, 0 when empty
	rec  uintptr // its record (*checkRec), 0 when empty
	n    uint32  // blocks on the stack
}

// push puts block p (record r) on top of the stack.
func (fs *chkStack) push(p uintptr, r *checkRec) {
	r.link(fs.head, (*checkRec)(ptr(fs.rec)))
	fs.head, fs.rec = p, uintptr(unsafe.Pointer(r))
	fs.n++
}

// pop takes the top block (the stack is not empty) and its record.
func (fs *chkStack) pop() (uintptr, *checkRec) {
	p, r := fs.head, (*checkRec)(ptr(fs.rec))
	fs.head, fs.rec = r.next, r.prev
	fs.n--
	r.link(0, nil)
	return p, r
}

// chkShards is how many shards there are at most; P i uses shard
// i % chkShards.
const chkShards = 16

// chkLargeShard is the shard whose quarantine holds the large blocks of
// every P, bounded by the whole HAKMEM_CHECK_QUARANTINE_MB (a per-P share
// could be smaller than one large block); chkShardOf never returns it.
const chkLargeShard = chkShards

var chk struct {
	shards   [chkShards + 1]chkShard
	failures atomic.Uint64 // reports made (Stats.CheckFailures)
}

// chkShardOf returns the shard of the P the goroutine runs on now.
func chkShardOf() *chkShard {
	pc := pin()
	id := pc.id
	unpin(pc)
	return &chk.shards[uint32(id)%chkShards]
}

// chkShardsUsed is how many shards the Ps use: the quarantine's bound is
// split between them.
func chkShardsUsed() uint64 {
	return uint64(max(1, min(chkShards, len(*caches.Load()))))
}

// checkAlloc is allocAddr in checked mode: size is valid and positive.
func checkAlloc(size int, sid int32, op string) (p, usable uintptr, zeroed bool, err error) {
	return checkAllocOpt(size, sid, op, true)
}

// checkAllocOpt is checkAlloc; without sample, never a heap profile
// sample (a block without a record).
func checkAllocOpt(size int, sid int32, op string, sample bool) (p, usable uintptr, zeroed bool, err error) {
	apc := callerPC()
	want := uintptr(size) + checkTail
	if g := cfg().checkGuard; osProtectSupported && chkChance(g) {
		var base uintptr
		p, usable, base, err = guardAlloc(size, sid)
		if err != nil {
			return 0, 0, false, allocError(op, size, "mapping a guarded block", err)
		}
		r, err := recEnsure(base, true)
		if err != nil {
			guardRelease(base)
			return 0, 0, false, allocError(op, size, "mapping checked-mode records", err)
		}
		checkRecord(p, r, size, usable, apc, classLarge, recGuard)
		return p, uintptr(size), false, nil
	}
	if want <= maxSmall && (size <= minLargeThreshold || uintptr(size) <= siteThreshold(sid)) {
		if sample {
			c := sizeClass(uintptr(size))
			if p, ok := profileSmall(size, c); ok {
				return p, uintptr(classes[c].size), false, nil // a heap profile sample: not checked (heapprof.go)
			}
		}
		class := sizeClass(want)
		p, r, err := checkTake(class, size)
		if err == errOverLimit {
			releaseAll() // the caches may hold enough; try once more
			p, r, err = checkTake(class, size)
		}
		if err != nil {
			return 0, 0, false, allocError(op, size, "mapping a segment", err)
		}
		usable = uintptr(classes[class].size)
		storeWord(p+8, 0)                              // the free cookie (pcache.go), if len covers it
		checkRecord(p, r, size, usable, apc, class, 0) // checkTake made sure of the record
		return p, uintptr(size), false, nil            // cap == len: the rest of the block is canaries
	}
	p, usable, zeroed, err = allocLarge(want, sid)
	if err != nil {
		return 0, 0, false, allocError(op, size, "mapping a large block", err)
	}
	countLargeAlloc(sid, uintptr(size))
	profileLarge(p, uintptr(size), usable)
	r, err := recEnsure(p, true)
	if err != nil {
		freeLarge(p, regLookup(p)) // not recorded: back to the engine
		return 0, 0, false, allocError(op, size, "mapping checked-mode records", err)
	}
	checkRecord(p, r, size, usable, apc, classLarge, 0)
	return p, uintptr(size), zeroed, nil // cap == len: the rest of the block is canaries
}

// checkedLen is UsableSize in checked mode: the length of the live
// checked block at p (its cap), or n, the engine's answer, for a block
// without a record (a heap profile sample).
func checkedLen(p, n uintptr) uintptr {
	r := recFor(p)
	if seg := regLookup(p); seg != nil && seg.kind == kindLarge {
		if g := guardOf(p, seg); g != nil {
			r = g
		}
	}
	if r != nil && r.state.Load() == recLive {
		return r.size
	}
	return n
}

// checkRecord fills the canaries and the record of a new block and makes
// it live.
func checkRecord(p uintptr, r *checkRec, size int, usable, apc uintptr, class, flags uint8) {
	fill(p+uintptr(size), usable-uintptr(size), canaryByte, canaryWord)
	r.size, r.apc, r.fpc, r.class, r.flags, r.astk, r.fstk = uintptr(size), apc, 0, class, flags, 0, 0
	if r.owner.Load() != 0 { // almost never (checkDisown cleared it): a store is a locked instruction
		r.owner.Store(0)
	}
	r.next, r.prev = 0, 0
	if chkChance(cfg().checkStacks) {
		var buf [maxStack + maxCallerWalk]uintptr
		r.flags |= recSampled
		r.astk = stackTab.intern(callerStack(&buf))
	}
	if class == classLarge { // a small block is counted by checkTake
		chkLive(1, int64(size))
	}
	r.setState(recLive)
}

// chkChance reports true with probability 1/n (never when n <= 0), by
// the runtime's per-M generator where linkname is allowed (a few ns;
// math/rand/v2's shared ChaCha8 was 7% of a checked Alloc and Free pair).
func chkChance(n int) bool {
	return n > 0 && uint64(learnRand32())*uint64(n)>>32 == 0
}

// chkLive adds to the live counts.
func chkLive(blocks, bytes int64) {
	sh := chkShardOf()
	sh.mu.Lock()
	sh.liveBlocks += blocks
	sh.liveBytes += bytes
	sh.mu.Unlock()
}

// checkTake returns a block of class c for a request of size bytes
// (counted live), and its record: from the P's free stack for the class
// (pinned, no lock), else a batch from the central list, onto the stack.
func checkTake(c uint8, size int) (uintptr, *checkRec, error) {
	pc := pinSlow()
	fs := &pc.chkFree[c]
	if fs.head == 0 {
		unpin(pc)
		var buf [maxBatch]uintptr
		n, err := centrals[c].take(buf[:classes[c].batch], 0)
		if err != nil {
			return 0, nil, err
		}
		b := buf[:n]
		// Records first, unpinned (mapping one may take a while).
		for _, p := range b {
			if _, err := recEnsure(p, false); err != nil {
				centrals[c].put(b)
				return 0, nil, err
			}
		}
		pc = pinSlow() // perhaps another P's: its stack takes the batch
		fs = &pc.chkFree[c]
		for _, p := range b {
			r := recFor(p)
			r.setState(recFree)
			fs.push(p, r)
		}
	}
	p, r := fs.pop()
	pc.chkLiveBlocks.inc()
	pc.chkLiveBytes.add(uint64(size))
	unpin(pc)
	return p, r, nil
}

// chkEvicted is a small block that left a quarantine verified, on its
// way to a free stack (chkPush).
type chkEvicted struct {
	p uintptr
	r *checkRec
}

// chkPush puts the verified blocks ev (recFree) on the current P's free
// stacks. A stack at two batches first hands a batch back to the central
// list (unpinned), so a stack never holds more.
func chkPush(ev []chkEvicted) {
	var out [maxBatch]uintptr
	for i := 0; i < len(ev); {
		pc := pinSlow()
		var c uint8
		k := 0
		for ; i < len(ev); i++ {
			e := ev[i]
			fs := &pc.chkFree[e.r.class]
			if fs.n >= 2*uint32(classes[e.r.class].batch) {
				c = e.r.class
				k = fs.cut(out[:classes[c].batch])
				break // ev[i] is pushed once the batch is out
			}
			fs.push(e.p, e.r)
		}
		unpin(pc)
		if k > 0 {
			centrals[c].put(out[:k])
		}
	}
}

// cut takes up to len(buf) blocks off the stack into buf, for a central
// list: they stop being checked blocks (recNone) and get their free
// cookie (pcache.go) again. It returns how many it took.
func (fs *chkStack) cut(buf []uintptr) int {
	k := 0
	for ; k < len(buf) && fs.head != 0; k++ {
		q, r := fs.pop()
		r.setState(recNone)
		storeWord(q+8, q^cookieKey) // the cookie, which a write after free may have changed
		buf[k] = q
	}
	return k
}

// chkCut is pcache.cutAny's hook: up to len(buf) blocks of the first
// non-empty free stack of pc, for the central list of the class it
// returns, as cutAny does with the lists. The caller holds pc.
func (pc *pcache) chkCut(buf []uintptr) (int, uint32) {
	for c := range pc.chkFree {
		if fs := &pc.chkFree[c]; fs.n > 0 {
			return c, uint32(fs.cut(buf))
		}
	}
	return 0, 0
}

// checkFreeSmall is freeSmallSlow in checked mode: the fast path found p
// to start a block of s and claimed it (the free cookie is in word 1).
//
// The engine's claim takes no atomic (mem.go), so the loser of two racing
// Frees of one block can get here too: the record's compare-and-swap is
// what tells them apart, and the loser's error goes back to its caller
// (TryFree returns it, Free panics with it), as freeSlow's would.
func checkFreeSmall(p uintptr, s *slab) error {
	fpc := callerPC()
	r := recForSlab(p, s)
	if r == nil || !r.state.CompareAndSwap(recLive, recQuarantined) {
		rep := doubleFreeReport("Free", p, r, fpc, true)
		deliver(rep)
		return newError("Free", p, 0, ErrDoubleFree, rep.detail())
	}
	checkFree(p, r, uintptr(s.size), fpc, "Free")
	return nil
}

// checkFreeSlow is freeSlow in checked mode: large blocks, and every
// pointer the fast path declined.
func checkFreeSlow(p uintptr, op string) error {
	fpc := callerPC()
	pc := pin() // the checks and the claim run pinned (retire.go)
	seg := regLookup(p)
	if seg == nil || seg.kind != kindSmall {
		unpin(pc)
		if seg != nil && seg.kind == kindLarge {
			if r := guardOf(p, seg); r != nil {
				if r.state.CompareAndSwap(recLive, recQuarantined) {
					guardFree(p, r, seg, fpc, op)
					return nil
				}
				rep := doubleFreeReport(op, p, r, fpc, true)
				deliver(rep)
				return newError(op, p, 0, ErrDoubleFree, rep.detail())
			}
		}
		if seg != nil && seg.kind == kindLarge && p == seg.base {
			r := recFor(p)
			if r != nil && r.state.CompareAndSwap(recLive, recQuarantined) {
				profileFreedLarge(p) // the program freed it; the quarantine holds it
				checkFree(p, r, largeUsable(p, seg), fpc, op)
				return nil
			}
			if profileSampledLarge(p) { // a heap profile sample, not a checked block
				return freeOther(p, seg, op)
			}
			rep := doubleFreeReport(op, p, r, fpc, true)
			deliver(rep)
			return newError(op, p, 0, ErrDoubleFree, rep.detail())
		}
		return freeOther(p, seg, op)
	}
	s, detail, bad := checkSmall(p, seg)
	if bad == ErrInvalidPointer {
		s = seg.slabAt(p)
	}
	if bad == nil {
		if claimBlock(p) {
			unpin(pc)
			checkFreeSmall(p, s) // claimed on the second try
			return nil
		}
		bad = ErrDoubleFree
	}
	unpin(pc)
	switch {
	case bad == ErrDoubleFree && s != nil:
		r := recFor(p)
		// A racing Free that won the engine's claim may not have moved
		// the record and written its caller yet: give it a moment, so the
		// report has that caller.
		for deadline := now() + 50*ms; r != nil && (r.state.Load() == recLive || r.fpc == 0) && now() < deadline; {
			runtime.Gosched()
		}
		rep := doubleFreeReport(op, p, r, fpc, true)
		deliver(rep)
		return newError(op, p, 0, ErrDoubleFree, rep.detail())
	case bad == ErrInvalidPointer && s != nil:
		start := s.base + (p-s.base)/s.size*s.size
		rep := CheckReport{Err: ErrInvalidPointer, Op: op, Block: start, Offset: int(p - start), Class: int(s.class), Usable: int(s.size), Returned: true, FreePC: fpc}
		rep.fill(recFor(start))
		deliver(rep)
		return newError(op, p, 0, ErrInvalidPointer, rep.detail())
	}
	return newError(op, p, 0, bad, detail)
}

// checkFreeing is what every checked free does first, whatever becomes of
// the block: it takes the record off its heap's list, checks the canaries
// past len (tail: the guard word past an exact class size too), records
// the freeing caller (and stack, when sampled), and returns the overflow
// report, if any.
func checkFreeing(p uintptr, r *checkRec, usable uintptr, tail bool, fpc uintptr, op string) []CheckReport {
	checkDisown(r)
	var reps []CheckReport
	if off, got := checkCanary(p, r.size, usable, tail); off >= 0 {
		rep := CheckReport{Err: ErrOverflow, Op: op, Block: p, Offset: off, Want: canaryByte, Got: got, Usable: int(usable)}
		rep.Extent = lastChanged(p, r.size, usable, tail) + 1 - int(r.size)
		r.fpc = fpc
		rep.fill(r)
		reps = append(reps, rep)
	}
	r.fpc = fpc
	if r.flags&recSampled != 0 {
		var buf [maxStack + maxCallerWalk]uintptr
		r.fstk = stackTab.intern(callerStack(&buf))
	}
	return reps
}

// checkFree checks and quarantines the block at p (record r, now
// recQuarantined) of usable bytes.
func checkFree(p uintptr, r *checkRec, usable uintptr, fpc uintptr, op string) {
	reps := checkFreeing(p, r, usable, r.class != classLarge, fpc, op)
	if r.class == classLarge && uint64(usable) > cfg().checkQuarantine {
		// Bigger than the quarantine: freed at once, its canaries checked
		// but a use after its free not caught (check_quarantine.go).
		chkLive(-1, -int64(r.size))
		r.state.Store(recNone)
		releaseLarge(p)
	} else {
		poison(p, usable, r.class != classLarge)
		reps = quarantine(p, r, usable, op, reps)
	}
	for _, rep := range reps {
		deliver(rep)
	}
}

// checkRealloc is realloc in checked mode: a new block, a copy and a free,
// every time.
func checkRealloc(b []byte, size int, op string) ([]byte, error) {
	if cap(b) == 0 {
		return allocSlow(size, 0, op)
	}
	p := addrOf(b)
	if size < 0 {
		return nil, newError(op, p, size, ErrNegativeSize, "")
	}
	if _, err := usableSize(p, op); err != nil {
		return nil, err
	}
	if size == 0 {
		return zeroSlice(), freeAddr(p, op)
	}
	nb, err := allocSlow(size, 0, op)
	if err != nil {
		return nil, err
	}
	copy(nb, b[:min(len(b), size)])
	return nb, freeAddr(p, op)
}

// checkCanary returns the offset of the first canary byte of block p
// (bytes size .. usable) that changed, and that byte; -1 when none did.
// A small block's word 1 holds the free cookie by now (the engine's
// claim): those bytes are not checked.
func checkCanary(p, size, usable uintptr, small bool) (int, byte) {
	if !small || size >= 16 {
		if off, got := firstNot(p+size, usable-size, canaryByte, canaryWord); off >= 0 {
			return int(size) + off, got
		}
		return -1, 0
	}
	if size < 8 {
		if off, got := firstNot(p+size, 8-size, canaryByte, canaryWord); off >= 0 {
			return int(size) + off, got
		}
	}
	if off, got := firstNot(p+16, usable-16, canaryByte, canaryWord); off >= 0 {
		return 16 + off, got
	}
	return -1, 0
}

// lastChanged is the offset of the last canary byte of block p that
// changed (checkCanary found one).
func lastChanged(p, size, usable uintptr, small bool) int {
	for i := usable; i > size; i-- {
		if small && i-1 >= 8 && i-1 < 16 {
			continue // the cookie's word
		}
		if *(*byte)(ptr(p + i - 1)) != canaryByte {
			return int(i - 1)
		}
	}
	return int(size)
}

// fill sets n bytes at p to c (w: c in every byte of a word).
func fill(p, n uintptr, c byte, w uintptr) {
	i := uintptr(0)
	for ; i < n && (p+i)&7 != 0; i++ {
		*(*byte)(ptr(p + i)) = c
	}
	for ; i+8 <= n; i += 8 {
		storeWord(p+i, w)
	}
	for ; i < n; i++ {
		*(*byte)(ptr(p + i)) = c
	}
}

// firstNot returns the offset of the first of n bytes at p that is not c,
// and that byte; -1 when all are c.
func firstNot(p, n uintptr, c byte, w uintptr) (int, byte) {
	i := uintptr(0)
	for ; i < n && (p+i)&7 != 0; i++ {
		if b := *(*byte)(ptr(p + i)); b != c {
			return int(i), b
		}
	}
	for ; i+8 <= n; i += 8 {
		if loadWord(p+i) != w {
			break
		}
	}
	for ; i < n; i++ {
		if b := *(*byte)(ptr(p + i)); b != c {
			return int(i), b
		}
	}
	return -1, 0
}
