package hakmem

import (
	"errors"
	"log/slog"
	"sync/atomic"
)

// The memory limit: a bound on everything hakmem maps (segments, live and
// cached large blocks, and mappings being made). An allocation that would
// cross it first empties the caches (the heap's at once; for a large block
// also Release's), then fails with ErrMemoryLimit. Set by
// HAKMEM_MEMORY_LIMIT or SetMemoryLimit. A budget shared with the Go
// runtime (ShareMemoryLimit, HAKMEM_MEMORY_LIMIT=auto; sharelimit.go)
// lowers the bound further as the Go runtime grows.

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
	if total := share.total.Load(); total != 0 {
		if sl := max(shareLimit(total, h.mapped(), n), 1); lim <= 0 || sl < lim {
			lim = sl
		}
	}
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

// memLimitAutoMiB is HAKMEM_MEMORY_LIMIT=auto in the option's unit, and
// memLimitAuto the snapshot's memLimit for it: a budget shared with the Go
// runtime (sharelimit.go), read at first use.
const (
	memLimitAutoMiB = -1
	memLimitAuto    = -1
)

// autoFrom says where HAKMEM_MEMORY_LIMIT=auto found its budget
// ("GOMEMLIMIT" or the cgroup file), "" when it found none or was not
// asked. Written once at first use.
var autoFrom atomic.Pointer[string]

// applyMemLimit applies the snapshot's memory limit at first use: a limit in
// bytes (0: none), or memLimitAuto, which starts the shared budget.
func applyMemLimit(v int64) {
	if v != memLimitAuto {
		memLimit.Store(v)
		return
	}
	memLimit.Store(0)
	total, from := autoMemoryTotal()
	autoFrom.Store(&from)
	if total <= 0 {
		cfg().logAttrs(debugMinimal, "memory limit auto: no GOMEMLIMIT and no cgroup memory limit; no limit")
		return
	}
	shareSet(total, 0) // first use: nothing is mapped yet
	cfg().logAttrs(debugMinimal, "memory limit auto: shared with the Go runtime", slog.Int64("bytes", total), slog.String("from", from))
}
