package hakmem

import (
	"errors"
	"log/slog"
	"unsafe"
)

// Retiring segments. Free checks a block against the metadata and then
// writes into the block (its cookie and link). If another goroutine could
// unmap the block's segment between the check and the write, a racing
// double free, or a stale Free of a block whose segment just emptied,
// would fault: a fatal SIGSEGV, not a panic. So a segment of small blocks
// is never unmapped at once. unmapSegment (under heap.mu) puts the
// registry's tombstone on it, after which no new Free touches its memory,
// and lists it as retired; reapRetired, later and with no lock held, waits
// for a pin barrier and only then unmaps.
//
// The pin barrier (pinBarrier, retire_*.go) returns once every goroutine
// that was pinned when it started has unpinned. Free reads the registry,
// the slab and the block inside one pinned section, so after the barrier
// none of them can still be working from a registry lookup made before
// the tombstone went in. Large blocks need no barrier: Free never touches
// a large block's memory, only its header, and headers are never unmapped
// (meta.go).
//
// A reaped segment's pages go back to the OS (MADV_DONTNEED), but its
// address range stays mapped, as a spare that the next segment reuses
// (mapSegment), the way the Go runtime keeps its heap arenas. The reason
// is the per-P stacks: Free claims a block without an atomic (malloc.go),
// so a racing double free of one block can leave a copy of its address in
// a second P's stack after the block went home and its segment emptied.
// A pop reads the block's cookie before it hands it out; in a spare range
// that read sees zeros (or a block of the segment that reused the range),
// never an unmapped page. Spares are address space, not memory: they are
// not in Stats.MappedBytes nor against the memory limit, and are reported
// as Stats.SpareBytes. Under hakmem_nommap the range goes back to the Go
// heap (osUnmap), which Go never unmaps either.
//
// Retired segments are still mapped: they count in Stats.MappedBytes, as
// free pages, and against the memory limit, until reaped. The scavenger
// reaps them (it is kicked by every retirement), and so do Release and a
// free that leaves retireSync of them waiting.

// retireSync is the number of retired segments at which the freeing
// goroutine reaps them itself instead of leaving it to the scavenger: 16
// MiB of address space at most waits for a barrier.
const retireSync = 8

// retire tombstones an empty, unlisted segment and lists it for reaping.
// Caller holds heap.mu.
func (h *pageHeap) retire(seg *segment) {
	seg.cached = false // an evicted or decayed segment leaves the cache for good
	regSet(seg.base, segmentSize, freedChunk)
	h.retired.pushFront(seg)
	h.nretired.Store(int32(h.retired.n))
	scavengerKick(now())
}

// isRetired reports whether p lies in a retired segment (tombstoneError:
// its memory is still hakmem's, so a Free there is a double free). Caller
// holds heap.mu.
func (h *pageHeap) isRetired(p uintptr) bool {
	for s := h.retired.head; s != nil; s = s.q[qPrimary].next {
		if p-s.base < segmentSize {
			return true
		}
	}
	return false
}

// reapRetired unmaps the retired segments after a pin barrier. With wait
// it also waits for a reaper already at work (Release: everything retired
// before the call is unmapped when it returns). The caller holds no lock
// and is not pinned.
func (h *pageHeap) reapRetired(wait bool) {
	if !wait && h.nretired.Load() == 0 {
		return
	}
	reapMu.Lock() // one barrier at a time; a second reaper finds the list empty
	defer reapMu.Unlock()
	h.mu.Lock()
	var segs []*segment
	for s := h.retired.tail; s != nil; s = h.retired.tail {
		h.retired.remove(s)
		segs = append(segs, s)
	}
	h.nretired.Store(0)
	h.reaping = segs // still mapped and counted: the recount test (forEachSegment) sees them
	h.mu.Unlock()
	if len(segs) == 0 {
		return
	}
	pinBarrier()
	for _, s := range segs {
		if !osMapsGoHeap {
			osFree(s.base, segmentSize, true)
		}
	}
	h.mu.Lock()
	h.reaping = nil
	for _, s := range segs {
		h.nsegments--
		h.freePages -= pagesPerSegment
		if osMapsGoHeap || !h.putSpare(s.base) {
			osUnmap(s.base, segmentSize)
		}
		cfg().logAttrs(debugVerbose, "reap segment", slog.String("addr", hexAddr(s.base)))
		freeSegment(s) // after the barrier: no pinned Free still reads it
	}
	h.mu.Unlock()
}

// spareNode records one spare range, off the Go heap (sparePool).
type spareNode struct {
	base uintptr
	next *spareNode
}

var sparePool = metaPool{size: 64}

// putSpare keeps [base, base+segmentSize) as a spare; false if there is no
// memory for its record (the caller unmaps it). Caller holds heap.mu.
func (h *pageHeap) putSpare(base uintptr) bool {
	p, err := sparePool.get()
	if err != nil {
		return false
	}
	n := (*spareNode)(ptr(p))
	n.base, n.next = base, h.spare
	h.spare = n
	h.nspare++
	return true
}

// errInjected is the failure the osMapFailAt test hook injects where no
// system call is made (the portable OS layer, a spare's reuse).
var errInjected = errors.New("cannot allocate memory (injected)")

// takeSpare returns a spare range for a new segment, if there is one.
// Its registry entry is still the tombstone. Caller holds heap.mu.
// Reusing a spare counts as a mapping for the osMapFailAt test hook, so
// a test that makes the n-th mapping fail does not depend on whether
// spares were left over: err is then errInjected and the spare stays.
func (h *pageHeap) takeSpare() (base uintptr, ok bool, err error) {
	n := h.spare
	if n == nil {
		return 0, false, nil
	}
	if osMapInjected() {
		return 0, false, errInjected
	}
	h.spare = n.next
	h.nspare--
	base = n.base
	sparePool.put(uintptr(unsafe.Pointer(n)))
	return base, true, nil
}

// isSpare reports whether p lies in a spare range. Caller holds heap.mu.
func (h *pageHeap) isSpare(p uintptr) bool {
	for n := h.spare; n != nil; n = n.next {
		if p-n.base < segmentSize {
			return true
		}
	}
	return false
}
