package hakmem

// The quarantine of checked mode: freed blocks, poisoned, in FIFO order,
// bounded in bytes (HAKMEM_CHECK_QUARANTINE_MB). Small blocks wait in the
// quarantine of the shard of the P that freed them, each shard bounded by
// its share of the option; large blocks (above 1 MiB) wait in one
// quarantine of their own, bounded by the whole option, so a large block
// up to the option's size is held whatever the number of Ps (the total
// held is thus at most twice the option). A large block bigger than the
// option cannot be held within it: it is freed at once, its canaries
// checked, and a use after its free is not caught (unless it was a
// guarded block). A block leaves when the
// quarantine is over its bound, oldest first (or when its shard has gone
// idle: chkEvictIdle), and its poison is verified
// then: any changed byte is a write after free, reported with the offset
// of the first one. A small block keeps the engine's free cookie in its
// word 1 (the engine's fast path refuses a second Free of it without
// reaching checked mode), so that word is verified against the cookie.
// CheckQuarantine verifies every block in it now.

// poison fills the usable bytes of a freed block with poisonByte; a small
// block keeps its free cookie in word 1.
func poison(p, usable uintptr, small bool) {
	if !small {
		fill(p, usable, poisonByte, poisonWord)
		return
	}
	storeWord(p, poisonWord)
	fill(p+16, usable-16, poisonByte, poisonWord)
}

// verifyPoison returns the offset of the first byte of the quarantined
// block p that changed, with the byte expected and the byte found; -1
// when none did.
func verifyPoison(p, usable uintptr, small bool) (off int, want, got byte) {
	if !small {
		off, got = firstNot(p, usable, poisonByte, poisonWord)
		return off, poisonByte, got
	}
	if off, got = firstNot(p, 8, poisonByte, poisonWord); off >= 0 {
		return off, poisonByte, got
	}
	if w := loadWord(p + 8); w != p^cookieKey {
		for i := uintptr(0); i < 8; i++ {
			if c, g := byte((p^cookieKey)>>(8*i)), byte(w>>(8*i)); c != g {
				return 8 + int(i), c, g
			}
		}
	}
	if off, got = firstNot(p+16, usable-16, poisonByte, poisonWord); off >= 0 {
		return 16 + off, poisonByte, got
	}
	return -1, 0, 0
}

// usableOf is the usable size of a recorded block.
func usableOf(p uintptr, r *checkRec) uintptr {
	if r.flags&recGuard != 0 {
		return (r.size + 15) &^ 15
	}
	if r.class == classLarge {
		return regLookup(p).largeSize
	}
	return uintptr(classes[r.class].size)
}

// quarantine appends p (record r, recQuarantined) to the quarantine and
// lets the oldest blocks leave while it is over its bound (evict); then
// it empties any other P's shard gone idle (chkEvictIdle). Reports of
// failures found are appended to reps.
func quarantine(p uintptr, r *checkRec, usable uintptr, op string, reps []CheckReport) []CheckReport {
	sh := chkShardOf()
	used := chkShardsUsed()
	limit := cfg().checkQuarantine / used
	if r.class == classLarge {
		// One FIFO for the large blocks of every P, with the whole bound;
		// the block's live count moves to its shard.
		sh.mu.Lock()
		sh.liveBlocks--
		sh.liveBytes -= int64(r.size)
		sh.mu.Unlock()
		sh, limit = &chk.shards[chkLargeShard], cfg().checkQuarantine
		sh.mu.Lock()
		sh.liveBlocks++
		sh.liveBytes += int64(r.size)
		sh.mu.Unlock()
	}
	sh.mu.Lock()
	sh.liveBlocks--
	sh.liveBytes -= int64(r.size)
	r.link(0, nil)
	if sh.qtail != 0 {
		sh.qtailRec.link(p, r)
	} else {
		sh.qhead, sh.qheadRec = p, r
	}
	sh.qtail, sh.qtailRec = p, r
	sh.qbytes += uint64(usable)
	sh.qblocks++
	r.flags &^= recSwept
	if r.class != classLarge {
		sh.fed.add(uint64(usable))
		counterSet(&sh.stamp, chkClock(used))
	}
	reps = sh.evict(limit, op, reps)
	if r.class != classLarge && used > 1 {
		reps = chkEvictIdle(sh, used, op, reps)
	}
	checkSweepStart()
	return reps
}

// evict lets the oldest blocks of the shard leave while it holds more
// than limit bytes, a chunk at a time (chkEvictChunk) under its lock,
// which the caller holds and evict releases: verified small blocks go to
// the current P's free stacks (chkPush, pinned, after the lock), large
// ones back to the engine.
func (sh *chkShard) evict(limit uint64, op string, reps []CheckReport) []CheckReport {
	for {
		var ev [chkEvictChunk]chkEvicted
		var large []uintptr // verified large blocks, to free
		n := 0
		for n < len(ev) && sh.qbytes > limit && sh.qhead != 0 {
			q, qr := sh.qhead, sh.qheadRec
			sh.qhead, sh.qheadRec = qr.next, qr.nextRec()
			if sh.qhead == 0 {
				sh.qtail, sh.qheadRec, sh.qtailRec = 0, nil, nil
				counterSet(&sh.stamp, chkEmpty)
			}
			qu := usableOf(q, qr)
			sh.qbytes -= uint64(qu)
			sh.qblocks--
			if off, want, got := verifyPoison(q, qu, qr.class != classLarge); off >= 0 {
				rep := CheckReport{Err: ErrUseAfterFree, Op: op, Block: q, Offset: off, Want: want, Got: got, Usable: int(qu)}
				rep.fill(qr)
				reps = append(reps, rep)
			}
			if qr.class == classLarge {
				qr.state.Store(recNone)
				large = append(large, q)
				continue
			}
			qr.setState(recFree)
			ev[n] = chkEvicted{q, qr}
			n++
		}
		more := sh.qbytes > limit && sh.qhead != 0
		sh.mu.Unlock()
		chkPush(ev[:n])
		for _, q := range large {
			releaseLarge(q)
		}
		if !more {
			return reps
		}
		sh.mu.Lock()
	}
}

// The quarantine is split between the Ps' shards, each bounded by its
// share, so a shard whose P no longer frees (its goroutines moved to
// other Ps, or went quiet) would keep its blocks for good: a write after
// free into one would be found only by the sweep. So the shards share a
// clock, the bytes ever quarantined in all of them (chkClock), and each
// stamps itself with the clock at its last free (chkShard.stamp); a
// shard whose stamp is more than the whole bound behind holds only
// blocks after which more than the bound has been freed elsewhere, as a
// single FIFO would have let them go: the next small free on another P
// empties it (chkEvictIdle), verifying each block as it leaves. Reading
// the clock is a few plain loads (counter), no lock.

// chkEmpty is the stamp of an empty shard (a shard's stamp counts its
// own last free, so it is never 0 otherwise).
const chkEmpty = 0

// chkClock is the sum of the bytes quarantined in the first used shards.
func chkClock(used uint64) (c uint64) {
	for i := range used {
		c += chk.shards[i].fed.load()
	}
	return c
}

// chkEvictIdle empties the shards other than own (of the first used)
// that are idle: their stamp more than the quarantine's bound behind the
// clock.
func chkEvictIdle(own *chkShard, used uint64, op string, reps []CheckReport) []CheckReport {
	clock, bound := chkClock(used), cfg().checkQuarantine
	for i := range used {
		sh := &chk.shards[i]
		if sh == own || !chkBehind(sh.stamp.load(), clock, bound) {
			continue
		}
		sh.mu.Lock()
		if !chkBehind(sh.stamp.load(), clock, bound) { // fed or emptied meanwhile
			sh.mu.Unlock()
			continue
		}
		reps = sh.evict(0, op, reps)
	}
	return reps
}

// chkBehind reports whether a shard stamped stamp is idle at clock.
func chkBehind(stamp, clock, bound uint64) bool {
	return stamp != chkEmpty && stamp+bound < clock
}

// counterSet sets c to v; the caller is c's only writer (it holds the
// lock that guards it).
func counterSet(c *counter, v uint64) { c.add(v - c.v) }

// chkEvictChunk is how many small blocks quarantine lets leave per hold
// of the shard's lock: a free of a big block may push out hundreds of
// small ones, which go to the free stacks between holds (a stack array
// of 32 words; one block leaves per free in a steady state of one size).
const chkEvictChunk = 32

// releaseLarge frees a checked large block for good.
func releaseLarge(p uintptr) {
	if freeLarge(p, regLookup(p)) {
		countLargeFree()
	}
}

// CheckQuarantine verifies the poison of every block in checked mode's
// quarantine now, reports each write after free found (through the
// OnCheckFailure handler) and returns how many it found. Without checked
// mode it does nothing and returns 0.
func CheckQuarantine() int {
	ensureInit()
	if !checkOn() {
		return 0
	}
	var reps []CheckReport
	for i := range chk.shards {
		reps = chk.shards[i].verify(reps)
	}
	for _, rep := range reps {
		deliver(rep)
	}
	return len(reps)
}

// verify appends a report for each block of the shard's quarantine whose
// poison changed, and poisons it again.
func (sh *chkShard) verify(reps []CheckReport) []CheckReport {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for q := sh.qhead; q != 0; {
		qr := recFor(q)
		qu := usableOf(q, qr)
		if off, want, got := verifyPoison(q, qu, qr.class != classLarge); off >= 0 {
			rep := CheckReport{Err: ErrUseAfterFree, Op: "CheckQuarantine", Block: q, Offset: off, Want: want, Got: got, Usable: int(qu)}
			rep.fill(qr)
			reps = append(reps, rep)
			poison(q, qu, qr.class != classLarge) // reported once
			qr.flags &^= recSwept
		}
		q = qr.next
	}
	return reps
}

// checkDrain verifies every block in checked mode's quarantines and hands
// them back to the engine (Release), with the guarded blocks held; the
// per-P free stacks go back as Release flushes the per-P caches next
// (chkCut), so checked mode then holds nothing. Failures found are
// reported (Op "Release").
func checkDrain() {
	var reps []CheckReport
	var large []uintptr
	for i := range chk.shards {
		sh := &chk.shards[i]
		var out [numClasses][]uintptr
		sh.mu.Lock()
		for q := sh.qhead; q != 0; {
			qr := recFor(q)
			next := qr.next
			qu := usableOf(q, qr)
			if off, want, got := verifyPoison(q, qu, qr.class != classLarge); off >= 0 {
				rep := CheckReport{Err: ErrUseAfterFree, Op: "Release", Block: q, Offset: off, Want: want, Got: got, Usable: int(qu)}
				rep.fill(qr)
				reps = append(reps, rep)
			}
			qr.state.Store(recNone)
			if qr.class == classLarge {
				large = append(large, q)
			} else {
				out[qr.class] = append(out[qr.class], q)
				storeWord(q+8, q^cookieKey)
			}
			q = next
		}
		sh.qhead, sh.qtail, sh.qbytes, sh.qblocks = 0, 0, 0, 0
		sh.qheadRec, sh.qtailRec = nil, nil
		counterSet(&sh.stamp, chkEmpty)
		sh.mu.Unlock()
		for c := range out {
			if len(out[c]) > 0 {
				centrals[c].put(out[c])
			}
		}
	}
	for _, q := range large {
		releaseLarge(q)
	}
	guards.mu.Lock()
	held := make([]uintptr, 0, guards.n)
	for ; guards.n > 0; guards.n-- {
		held = append(held, guards.ring[guards.head])
		guards.head = (guards.head + 1) % guardHeld
	}
	guards.mu.Unlock()
	for _, base := range held {
		guardRelease(base)
	}
	for _, rep := range reps {
		deliver(rep)
	}
}
