package hakmem

import (
	"errors"
	"sync/atomic"
)

// The memory limit: a bound on everything hakmem maps (segments, live and
// cached large blocks, and mappings being made). An allocation that would
// cross it first empties the caches (the heap's at once; for a large block
// also Release's), then fails with ErrMemoryLimit. Set by
// HAKMEM_MEMORY_LIMIT or SetMemoryLimit.

// memLimit is the limit in bytes; 0 means none. Read under heap.mu by
// checkLimit, written by SetMemoryLimit and loadConfig.
var memLimit atomic.Int64

// limitFailures counts allocations refused with ErrMemoryLimit (one per
// failed call, whatever was retried inside it).
var limitFailures atomic.Uint64

// errOverLimit is what the heap returns internally; the API wraps it as an
// *Error matching ErrMemoryLimit.
var errOverLimit = errors.New("the memory limit would be exceeded")

// SetMemoryLimit sets the most memory hakmem may map, in bytes, and returns
// the previous limit. 0 removes the limit; a negative value only reads it.
// Lowering the limit below what is mapped unmaps nothing held by the
// program: later allocations fail until enough is freed.
func SetMemoryLimit(limit int64) int64 {
	ensureInit()
	if limit < 0 {
		return memLimit.Load()
	}
	return memLimit.Swap(limit)
}

// mapped is the bytes counted against the limit. Caller holds heap.mu.
func (h *pageHeap) mapped() uint64 {
	return uint64(h.nsegments)*segmentSize + h.largeSize + h.big.lru.bytes + h.reserved
}

// checkLimit reports errOverLimit when mapping n more bytes would cross the
// limit even after unmapping every cached segment and large block. Caller
// holds heap.mu.
func (h *pageHeap) checkLimit(n uintptr) error {
	lim := memLimit.Load()
	if lim <= 0 || h.mapped()+uint64(n) <= uint64(lim) {
		return nil
	}
	h.dropCaches()
	if h.mapped()+uint64(n) <= uint64(lim) {
		return nil
	}
	return errOverLimit
}

// dropCaches unmaps every cached large block and empty segment, under
// heap.mu (a failure path: the syscalls may run under the lock).
func (h *pageHeap) dropCaches() {
	for s := h.big.lru.tail; s != nil; s = h.big.lru.tail {
		h.big.evict(s)
		h.dropLarge(s)
		osUnmap(s.base, s.largeSize)
		freeSegment(s)
	}
	for s := h.cache.tail; s != nil; s = h.cache.tail {
		h.cache.remove(s)
		h.unmapSegment(s)
		h.segEvicted++
	}
}
