package hakmem

import (
	"fmt"
	"log/slog"
	"sync/atomic"
)

// The public byte-slice API. Each call is a small fast path (a pop from or
// push onto the current P's list) and a named slow path that does
// everything else; the plain functions panic with the error the Try
// functions return. The design essay, component by component, is
// DESIGN.md beside this file; the package documentation (doc.go) is for
// users.

// Alloc returns a slice of size bytes of hakmem memory, with unspecified
// contents and cap(b) == UsableSize(b). Alloc(0) returns a non-nil empty
// slice that needs no Free. It panics with an *Error for a negative or
// impossible size or when memory is exhausted.
func Alloc(size int) []byte {
	// allocFast, written out: one call level less on the hottest path.
	if uint(size-1) < maxSmall {
		c := sizeClass(uintptr(size))
		pc := pin()
		p := pc.lists[c].pop()
		unpin(pc)
		if p != 0 {
			return bytesAt(p, uintptr(size), uintptr(classes[c].size))
		}
	}
	return must(allocSlow(size, 0, "Alloc"))
}

// TryAlloc is Alloc returning the error instead of panicking.
func TryAlloc(size int) ([]byte, error) {
	if p, usable := allocFast(size, 0); p != 0 {
		return bytesAt(p, uintptr(size), usable), nil
	}
	return allocSlow(size, 0, "TryAlloc")
}

// Calloc is Alloc with the memory zeroed.
func Calloc(size int) []byte { return must(calloc(size, 0, "Calloc")) }

// TryCalloc is Calloc returning the error instead of panicking.
func TryCalloc(size int) ([]byte, error) { return calloc(size, 0, "TryCalloc") }

// Free returns b's block to hakmem. b must start where a block hakmem
// returned starts, with any length or capacity (Free(b[:0]) frees too: the
// block is found from the slice's data pointer). A slice of capacity zero
// (nil, or the result of Alloc(0)) is a no-op. Free panics with an *Error
// for a foreign, interior or already freed pointer; hakmem's state is
// unchanged by such a call.
func Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	p := addrOf(b)
	// freeFast, written out: one call level less on the hottest path. The
	// checks and the claim of the block run pinned, so that its segment
	// cannot be unmapped under them (retire.go). The checks are the block
	// validator's (smallBlock, segment.go) one by one, the boundary test
	// (isBlock) spelled out: so each failed check is one branch to the slow
	// path, the shortest machine code we found.
	pc := pin()
	if seg := regLookup(p); seg != nil && seg.kind == kindSmall {
		if s := seg.slabAt(p); s != nil {
			// The claim is an if of its own: chained with &&, its result
			// became a flag the compiler materialized and tested again.
			if blockAt(p-s.base, s.blockInv, s.blockRot) < uint64(s.nblocks) {
				if claimBlock(p) {
					if s.heap.Load() != 0 { // a Heap's block (or an orphan's): a remote free (heap.go)
						freeRemote(pc, p, s)
						return
					}
					l := &pc.lists[s.class]
					if l.n < l.cap {
						l.push(p)
						if s.owner.Load() != pc.id {
							pc.crossP.inc()
						}
						unpin(pc)
						return
					}
					unpin(pc)
					if err := freeSmallSlow(p, s); err != nil {
						panic(err)
					}
					return
				}
			}
		}
	}
	unpin(pc)
	if err := freeSlow(p, "Free"); err != nil {
		panic(err)
	}
}

// TryFree is Free returning the error instead of panicking.
func TryFree(b []byte) error {
	if cap(b) == 0 {
		return nil
	}
	return freeAddr(addrOf(b), "TryFree")
}

// Realloc returns a block of size bytes holding the first min(len(b), size)
// bytes of b, and frees b unless the same block is returned. Realloc(nil, n)
// is Alloc(n); Realloc(b, 0) frees b and returns an empty slice. The block
// may move: use only the result afterwards.
func Realloc(b []byte, size int) []byte { return must(realloc(b, size, "Realloc")) }

// TryRealloc is Realloc returning the error instead of panicking; on error b
// is untouched and still allocated.
func TryRealloc(b []byte, size int) ([]byte, error) { return realloc(b, size, "TryRealloc") }

// UsableSize returns the number of bytes usable in b's block (at least the
// size asked for; cap(b) for a slice Alloc returned). It returns 0 for a
// slice of capacity zero and panics with an *Error for a pointer hakmem did
// not hand out.
func UsableSize(b []byte) int {
	if cap(b) == 0 {
		return 0
	}
	n, err := usableSize(addrOf(b), "UsableSize")
	if err != nil {
		panic(err)
	}
	if checkOn() { // hook: checked mode's blocks end at len (check.go)
		n = checkedLen(addrOf(b), n)
	}
	return int(n)
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// allocFast is the inlined fast path: a pop from the current P's list for
// class-sized requests. It returns p == 0 on any miss (size out of the small
// range, empty list), and the caller takes the slow path.
func allocFast(size int, sid int32) (p, usable uintptr) {
	if uint(size-1) >= maxSmall {
		return 0, 0
	}
	c := sizeClass(uintptr(size))
	pc := pin()
	p = pc.lists[c].pop()
	if sid != 0 && p != 0 {
		pc.countSite(sid, uintptr(size))
	}
	unpin(pc)
	return p, uintptr(classes[c].size)
}

// allocSlow handles everything allocFast does not: zero, negative and
// impossible sizes, refills and large blocks.
func allocSlow(size int, sid int32, op string) ([]byte, error) {
	b, _, err := allocSlowBlock(size, sid, op)
	return b, err
}

// allocSlowBlock is allocSlow reporting whether the block is known to hold
// only zeros (calloc skips clearing it). Plain allocations are sampled here
// for call-site discovery.
func allocSlowBlock(size int, sid int32, op string) (b []byte, zeroed bool, err error) {
	if sid == 0 && size > 0 {
		sampleCallsite()
	}
	p, usable, zeroed, err := allocAddr(size, sid, op)
	if err != nil {
		return nil, false, err
	}
	if p == 0 {
		return zeroSlice(), true, nil
	}
	return bytesAt(p, uintptr(size), usable), zeroed, nil
}

// allocAddr is the slow allocation; p == 0 with no error means size 0.
// zeroed reports that the block is known to hold only zeros.
func allocAddr(size int, sid int32, op string) (p, usable uintptr, zeroed bool, err error) {
	if cfg().debug >= debugVerbose {
		if countSlowSize(size) {
			defer timeSlowAlloc(now())
		}
	}
	switch {
	case size < 0:
		return 0, 0, false, newError(op, 0, size, ErrNegativeSize, "")
	case size == 0:
		return 0, 0, false, nil
	case size > MaxAlloc:
		return 0, 0, false, newError(op, 0, size, ErrSizeTooLarge, "the limit is MaxAlloc (32 TiB)")
	case checkOn(): // hook: checked mode (check.go)
		return checkAlloc(size, sid, op)
	case size <= maxSmall && (size <= minLargeThreshold || uintptr(size) <= siteThreshold(sid)):
		c := sizeClass(uintptr(size))
		if sp, ok := profileSmall(size, c); ok { // hook: heap profile sample (heapprof.go)
			return sp, uintptr(classes[c].size), false, nil
		}
		p, err = allocSmallSlow(c, sid, uintptr(size))
		if err == errOverLimit {
			releaseAll() // the caches may hold enough; try once more
			p, err = allocSmallSlow(c, sid, uintptr(size))
		}
		if cb, ok := err.(*corruptBlock); ok {
			return 0, 0, false, newError(op, cb.p, size, ErrCorrupted,
				fmt.Sprintf("the free block %#x (class %d, %d B) lost its free marker: it was written after it was freed, or freed twice at once by racing goroutines; it is dropped, never reused", cb.p, cb.class, classes[cb.class].size))
		}
		if err != nil {
			return 0, 0, false, allocError(op, size, "mapping a segment", err)
		}
		return p, uintptr(classes[c].size), false, nil
	}
	p, usable, zeroed, err = allocLarge(uintptr(size), sid)
	if err != nil {
		return 0, 0, false, allocError(op, size, "mapping a large block", err)
	}
	countLargeAlloc(sid, uintptr(size))
	profileLarge(p, uintptr(size), usable) // hook: heap profile (heapprof.go)
	return p, usable, zeroed, nil
}

// allocError wraps a failure of the heap: the memory limit, or the OS.
func allocError(op string, size int, what string, err error) *Error {
	if err == errOverLimit {
		limitFailures.Add(1)
		cfg().logAttrs(debugMinimal, "memory limit hit", slog.String("op", op), slog.Int("size", size), slog.String("what", what))
		return newError(op, 0, size, ErrMemoryLimit, what+": "+err.Error())
	}
	return newError(op, 0, size, ErrOutOfMemory, what+": "+err.Error())
}

func calloc(size int, sid int32, op string) ([]byte, error) {
	if !routedLarge(size, sid) {
		if p, usable := allocFast(size, sid); p != 0 {
			b := bytesAt(p, uintptr(size), usable)
			clear(b)
			return b, nil
		}
	}
	b, zeroed, err := allocSlowBlock(size, sid, op)
	if err != nil {
		return nil, err
	}
	if !zeroed || osMapsGoHeap {
		clear(b) // fresh large mappings arrive zeroed from the OS
	}
	return b, nil
}

// freeAddr frees the block at p.
func freeAddr(p uintptr, op string) error {
	if ok, err := freeFast(p); ok {
		return err
	}
	return freeSlow(p, op)
}

// freeFast is the fast path of Free (which writes it out, deliberately,
// for one call level less; keep the two alike): when p is the start of an allocated
// small block it claims the block (claimBlock: the cookie goes in), pushes it onto
// the current P's list, flushing a batch if the list is full, and reports
// true (with the error checked mode may find on the slow path). For
// anything else (errors, large blocks) it reports false and changes
// nothing. The checks are the block validator's (smallBlock, segment.go)
// and the claim's: the block does not carry the free cookie.
func freeFast(p uintptr) (bool, error) {
	pc := pin()
	s := regLookup(p).smallBlock(p)
	if s == nil || !claimBlock(p) {
		unpin(pc)
		return false, nil
	}
	if s.heap.Load() != 0 { // a Heap's block (or an orphan's): a remote free (heap.go)
		freeRemote(pc, p, s)
		return true, nil
	}
	l := &pc.lists[s.class]
	if l.n < l.cap {
		l.push(p)
		if s.owner.Load() != pc.id {
			pc.crossP.inc()
		}
		unpin(pc)
		return true, nil
	}
	unpin(pc)
	return true, freeSmallSlow(p, s)
}

// freeSlow is everything freeFast declines: it validates p again and
// reports what is wrong, or frees a large block.
func freeSlow(p uintptr, op string) error {
	if checkOn() { // hook: checked mode (check.go)
		return checkFreeSlow(p, op)
	}
	pc := pin() // the checks and the claim run pinned (retire.go)
	seg := regLookup(p)
	if seg == nil || seg.kind != kindSmall {
		unpin(pc)
		return freeOther(p, seg, op)
	}
	s, detail, bad := checkSmall(p, seg)
	if bad == nil && !claimBlock(p) {
		bad = ErrDoubleFree
	}
	if bad == nil {
		if s.heap.Load() != 0 { // a Heap's block (or an orphan's): a remote free (heap.go)
			freeRemote(pc, p, s)
			return nil
		}
	}
	unpin(pc)
	if bad != nil {
		return newError(op, p, 0, bad, detail) // allocates: never pinned
	}
	return freeSmallSlow(p, s) // claimed here: a racing Free freed it under freeFast's checks
}

// checkSmall finds the slab of p in the small-block segment seg and checks
// that p starts a block of it; bad and detail say what is wrong. Called
// pinned, so it builds no error.
func checkSmall(p uintptr, seg *segment) (s *slab, detail string, bad error) {
	s = seg.slabAt(p)
	if s == nil {
		return nil, "the page holds no allocated block (freed already, or stale)", ErrDoubleFree
	}
	if !s.isBlock(p) {
		return nil, "not the start of a block (interior pointer)", ErrInvalidPointer
	}
	return s, "", nil
}

// freeOther handles pointers outside small-block segments.
func freeOther(p uintptr, seg *segment, op string) error {
	switch {
	case seg == nil:
		return newError(op, p, 0, ErrInvalidPointer, "not hakmem memory")
	case seg.kind == kindFreed:
		return tombstoneError(p, op)
	case seg.kind == kindSampled: // hook: heap profile sample (heapprof.go)
		return profileFree(p, op)
	case p != seg.base:
		return newError(op, p, 0, ErrInvalidPointer, "not the start of a block (interior pointer into a large block)")
	case !freeLarge(p, seg):
		return newError(op, p, 0, ErrDoubleFree, "")
	}
	countLargeFree()
	return nil
}

// tombstoneError reports a pointer into a chunk hakmem returned to the OS:
// a double free if the chunk is still unmapped, a foreign pointer if
// someone else has mapped it since. heap.mu orders the question after the
// munmap of a racing Free.
func tombstoneError(p uintptr, op string) error {
	heap.mu.Lock()
	foreign := regLookup(p) != freedChunk || !heap.isRetired(p) && !heap.isSpare(p) && osMapped(p)
	heap.mu.Unlock()
	if foreign {
		return newError(op, p, 0, ErrInvalidPointer, "not hakmem memory (hakmem memory was here once; someone else mapped it since)")
	}
	return newError(op, p, 0, ErrDoubleFree, "the block was freed and its memory returned to the OS")
}

// usableSize validates p like Free does, without freeing.
func usableSize(p uintptr, op string) (uintptr, error) {
	seg := regLookup(p)
	switch {
	case seg == nil:
		return 0, newError(op, p, 0, ErrInvalidPointer, "not hakmem memory")
	case seg.kind == kindFreed:
		return 0, tombstoneError(p, op)
	case seg.kind == kindSampled: // hook: heap profile sample (heapprof.go)
		return profileUsable(p, op)
	case seg.kind == kindLarge:
		if checkOn() { // hook: checked mode's guarded blocks (check_guard.go)
			if n, err, ok := checkGuardUsable(p, seg, op); ok {
				return n, err
			}
		}
		if p != seg.base {
			return 0, newError(op, p, 0, ErrInvalidPointer, "not the start of a block (interior pointer into a large block)")
		}
		if n := largeUsable(p, seg); n != 0 {
			return n, nil
		}
		return 0, newError(op, p, 0, ErrDoubleFree, "the block is free (in the BigCache)")
	}
	pc := pin() // the block is read pinned (retire.go)
	s, detail, bad := checkSmall(p, seg)
	if bad == nil && loadWord(p+8) == p^cookieKey {
		bad, detail = ErrDoubleFree, "the block is free"
	}
	unpin(pc)
	if bad != nil {
		return 0, newError(op, p, 0, bad, detail)
	}
	return s.size, nil
}

func realloc(b []byte, size int, op string) ([]byte, error) {
	if checkOn() { // hook: checked mode (check.go)
		return checkRealloc(b, size, op)
	}
	if cap(b) == 0 {
		return allocSlowOrFast(size, op)
	}
	if size < 0 {
		return nil, newError(op, addrOf(b), size, ErrNegativeSize, "")
	}
	p := addrOf(b)
	usable, err := usableSize(p, op)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		return zeroSlice(), freeAddr(p, op)
	}
	// Stay in place when the block fits and is not more than twice too big.
	if uintptr(size) <= usable && uintptr(size) > usable/2 {
		return bytesAt(p, uintptr(size), usable), nil
	}
	// A large block that stays large is resized by the OS (mremap) where
	// it can be: no copy.
	if seg := regLookup(p); seg.kind == kindLarge && size > maxSmall && size <= MaxAlloc {
		if np, nu, ok := reallocLarge(p, seg, uintptr(size)); ok {
			profileFreedLarge(p) // hook: heap profile (heapprof.go): a moved or resized sample is forgotten
			return bytesAt(np, uintptr(size), nu), nil
		}
	}
	nb, err := allocSlowOrFast(size, op)
	if err != nil {
		return nil, err
	}
	copy(nb, b[:min(len(b), size)])
	return nb, freeAddr(p, op)
}

func allocSlowOrFast(size int, op string) ([]byte, error) {
	if p, usable := allocFast(size, 0); p != 0 {
		return bytesAt(p, uintptr(size), usable), nil
	}
	return allocSlow(size, 0, op)
}

// errorCount counts errors reported to the program (Stats.Errors).
var errorCount atomic.Uint64

//go:noinline
func newError(op string, p uintptr, size int, kind error, detail string) *Error {
	errorCount.Add(1)
	return &Error{Op: op, Ptr: p, Size: size, Err: kind, Detail: detail}
}
