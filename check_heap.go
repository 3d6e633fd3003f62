package hakmem

import "unsafe"

// Checked mode for Heaps (heap.go). A Heap in checked mode owns no slabs:
// its per-class stacks stay empty (nothing is ever pushed onto them, as
// with the per-P caches), so every Heap.Alloc takes the slow path, which
// allocates a checked block exactly as the global API does (checkAlloc:
// record, callers, canaries) and puts it on the heap's list of live
// blocks. Every Free of such a block, through any Heap or the global API,
// is the global checked Free (poison, quarantine, double-free detection),
// and its winner takes the block off the list. Close frees what is left on
// the list the same way, so a use after Close is a use after free: caught
// when the block leaves the quarantine (or by CheckQuarantine, or the
// sweep), and reported with the allocating and the closing caller.
// Detach empties the list and leaves the blocks live.
//
// The list is linked through the blocks' records (checkRec.next while
// live, checkRec.prev), under the heap record's chkMu; checkRec.owner
// names the heap while the block is on its list. Of a Free and a Close
// racing for one block, the record's compare-and-swap picks one: Close
// takes every block off the list under chkMu whether it won or not, and a
// winning Free takes its block off only if owner still names the heap.
// Lock order: chkMu before nothing (a shard's lock is taken after chkMu is
// released).

// checkRecOf returns the record of the checked block starting at p: a
// guarded block's or one of recFor's.
func checkRecOf(p uintptr) *checkRec {
	if seg := regLookup(p); seg != nil && seg.kind == kindLarge {
		if g := guardOf(p, seg); g != nil {
			return g
		}
	}
	return recFor(p)
}

// checkHeapAlloc is Heap.allocSlow in checked mode for 0 < size <=
// maxSmall: a checked block (never a heap profile sample, which has no
// record), on the heap's list.
func checkHeapAlloc(hr *heapRec, size int, op string) ([]byte, error) {
	p, usable, _, err := checkAllocOpt(size, 0, op, false)
	if err != nil {
		return nil, err
	}
	if rec := checkRecOf(p); rec != nil && rec.state.Load() == recLive {
		hr.chkMu.Lock()
		rec.owner.Store(uintptr(unsafe.Pointer(hr)))
		rec.prev, rec.next = 0, hr.chkLive
		if hr.chkLive != 0 {
			checkRecOf(hr.chkLive).prev = p
		}
		hr.chkLive = p
		hr.chkMu.Unlock()
	}
	return bytesAt(p, uintptr(size), usable), nil
}

// checkDisown takes the block p (record r, whose state the caller just
// moved from live) off its Heap's list, if it is on one.
func checkDisown(r *checkRec) {
	o := r.owner.Load()
	if o == 0 {
		return
	}
	hr := (*heapRec)(ptr(o))
	hr.chkMu.Lock()
	if r.owner.Load() == o {
		if r.prev != 0 {
			checkRecOf(r.prev).next = r.next
		} else {
			hr.chkLive = r.next
		}
		if r.next != 0 {
			checkRecOf(r.next).prev = r.prev
		}
		r.owner.Store(0)
		r.next, r.prev = 0, 0
	}
	hr.chkMu.Unlock()
}

// checkHeapEnd empties the heap's list; with free (Close) it frees every
// block on it as a Free at the caller would, poisoned and quarantined.
func checkHeapEnd(hr *heapRec, free bool, op string) {
	fpc := callerPC()
	var won uintptr // blocks this call freed, linked through their records' next
	hr.chkMu.Lock()
	for p := hr.chkLive; p != 0; {
		r := checkRecOf(p)
		next := r.next
		// The links first: a Free that won the block and sees owner 0
		// goes on to link it into the quarantine through next, which
		// must not be written here after that.
		r.next, r.prev = 0, 0
		r.owner.Store(0)
		if free && r.state.CompareAndSwap(recLive, recQuarantined) {
			r.next = won
			won = p
		}
		p = next
	}
	hr.chkLive = 0
	hr.chkMu.Unlock()
	for p := won; p != 0; {
		r := checkRecOf(p)
		next := r.next
		r.next = 0
		if seg := regLookup(p); seg != nil && seg.kind == kindLarge && r.flags&recGuard != 0 {
			guardFree(p, r, seg, fpc, op)
		} else {
			storeWord(p+8, p^cookieKey) // the engine's claim (mem.go): a later Free of it is a double free
			checkFree(p, r, uintptr(classes[r.class].size), fpc, op)
		}
		p = next
	}
}
