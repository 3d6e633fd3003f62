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
// quarantine is over its bound, oldest first, and its poison is verified
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
// lets the oldest blocks leave while it is over its bound. Reports of
// failures found are appended to reps.
func quarantine(p uintptr, r *checkRec, usable uintptr, op string, reps []CheckReport) []CheckReport {
	sh := chkShardOf()
	limit := cfg().checkQuarantine / chkShardsUsed()
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
	// Verified blocks beyond what the free stacks keep, for the central
	// lists: a few classes per call (a class past them stays on its stack).
	var out [4]struct {
		c uint8
		b []uintptr
	}
	nout := 0
	var large []uintptr // verified large blocks, to free
	sh.mu.Lock()
	sh.liveBlocks--
	sh.liveBytes -= int64(r.size)
	r.next = 0
	if sh.qtail != 0 {
		recFor(sh.qtail).next = p
	} else {
		sh.qhead = p
	}
	sh.qtail = p
	sh.qbytes += uint64(usable)
	sh.qblocks++
	r.flags &^= recSwept
	for sh.qbytes > limit && sh.qhead != 0 {
		q := sh.qhead
		qr := recFor(q)
		sh.qhead = qr.next
		if sh.qhead == 0 {
			sh.qtail = 0
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
		fs := &sh.free[qr.class]
		k := 0
		for k < nout && out[k].c != qr.class {
			k++
		}
		if fs.n < 2*uint32(classes[qr.class].batch) || k == len(out) {
			qr.state.Store(recFree)
			qr.next = fs.head
			fs.head = q
			fs.n++
			continue
		}
		if k == nout {
			out[k].c = qr.class
			nout++
		}
		qr.state.Store(recNone)
		out[k].b = append(out[k].b, q)
		storeWord(q+8, q^cookieKey) // the cookie, which a write after free may have changed
	}
	sh.mu.Unlock()
	for _, o := range out[:nout] {
		centrals[o.c].put(o.b)
	}
	for _, q := range large {
		releaseLarge(q)
	}
	checkSweepStart()
	return reps
}

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
// them, and the blocks of the free stacks, back to the engine (Release):
// checked mode then holds nothing. Failures found are reported (Op
// "Release").
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
		for c := range sh.free {
			fs := &sh.free[c]
			for q := fs.head; q != 0; {
				qr := recFor(q)
				next := qr.next
				qr.state.Store(recNone)
				out[c] = append(out[c], q)
				storeWord(q+8, q^cookieKey)
				q = next
			}
			fs.head, fs.n = 0, 0
		}
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
