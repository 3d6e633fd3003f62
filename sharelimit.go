package hakmem

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// The shared memory budget (ShareMemoryLimit, HAKMEM_MEMORY_LIMIT=auto):
// one total for the whole process, split between the Go runtime and
// hakmem as each grows, so that neither limit is "respected" while the
// process as a whole passes the budget.
//
//   - The Go runtime's memory limit (runtime/debug.SetMemoryLimit) is set
//     to total - hakmem's mapped bytes - hakmem's metadata mappings
//     (Stats.MetadataBytes) - headroom, so the garbage collector
//     works harder as hakmem grows. It is updated from the slow paths that
//     map (checkLimit) and after each scavenger pass, whenever hakmem's
//     mapped bytes moved by shareStep since the last update.
//   - hakmem refuses (ErrMemoryLimit, after emptying its caches) a mapping
//     that would take its mapped bytes past total - the Go runtime's own
//     memory (runtime/metrics, re-read at most every shareReadNs) -
//     hakmem's metadata mappings - headroom. (Where the OS layer takes
//     hakmem's memory from the Go heap, hakmem_nommap, the runtime's
//     figure counts both, and neither is subtracted twice.)
//
// The headroom (HAKMEM_MEMORY_HEADROOM, a percentage of the total) is for
// memory that neither side counts (the binary's pages, C allocations,
// thread stacks outside Go's accounting) and for the lag of the updates.
// SetMemoryLimit's limit, when set, still applies on top.

// shareReadNs: the Go runtime's memory is re-read at most this often (a
// runtime/metrics read costs about a microsecond; a mapping is a system
// call).
const shareReadNs = int64(1e6)

// shareStepDiv: the Go limit is updated when hakmem's mapped bytes moved
// by total/shareStepDiv (at least shareMinStep) since the last update, so
// a busy segment cache does not call into the runtime on every map.
const (
	shareStepDiv = 256
	shareMinStep = segmentSize
)

// goMemoryMetrics are the runtime/metrics the Go memory limit governs:
// everything the runtime mapped, less what it has returned to the OS.
var goMemoryMetrics = [2]string{"/memory/classes/total:bytes", "/memory/classes/heap/released:bytes"}

var share struct {
	total atomic.Int64 // the budget, bytes; 0: no shared budget

	mu         sync.Mutex        // guards the fields below; taken after heap.mu
	prevGo     int64             // Go's memory limit before sharing began, restored when it ends
	lastMapped uint64            // hakmem's mapped bytes at the last Go limit update
	goLimit    int64             // the Go limit last set
	goMem      int64             // the Go runtime's memory at the last read, bytes
	readAt     int64             // when goMem was read, hakmem clock (0: never)
	samples    [2]metrics.Sample // goMemoryMetrics, reused
	updates    atomic.Uint64     // Go limit updates (debug.SetMemoryLimit calls)
}

func init() {
	for i, name := range goMemoryMetrics {
		share.samples[i].Name = name
	}
}

// ShareMemoryLimit makes total, in bytes, the memory budget of the whole
// process, shared between the Go runtime and hakmem, and returns the
// previous total (0 when none). The Go runtime's memory limit
// (runtime/debug.SetMemoryLimit, GOMEMLIMIT) is then kept at total minus
// what hakmem maps minus a headroom (HAKMEM_MEMORY_HEADROOM), updated as
// hakmem maps and unmaps; hakmem's allocations fail with ErrMemoryLimit
// once its mappings would pass total minus the Go runtime's own memory
// minus the headroom. 0 ends the sharing and gives the Go runtime back the
// limit it had before; a negative total only reads the current one.
//
// HAKMEM_MEMORY_LIMIT=auto starts the sharing at first use with the total
// read from GOMEMLIMIT or, when that is not set, from the cgroup's memory
// limit (v2 memory.max, v1 memory.limit_in_bytes). SetMemoryLimit, when
// set, bounds hakmem on top of the shared budget.
func ShareMemoryLimit(total int64) int64 {
	ensureInit()
	if total < 0 {
		return share.total.Load()
	}
	heap.mu.Lock()
	defer heap.mu.Unlock()
	return shareSet(total, heap.mapped())
}

// shareSet installs total with hakmem's mapped bytes at mapped and returns
// the previous total. Caller holds heap.mu, or nothing is mapped yet.
func shareSet(total int64, mapped uint64) int64 {
	share.mu.Lock()
	defer share.mu.Unlock()
	prev := share.total.Swap(total)
	switch {
	case total == 0 && prev != 0:
		debug.SetMemoryLimit(share.prevGo)
	case total != 0:
		if prev == 0 {
			share.prevGo = debug.SetMemoryLimit(-1)
		}
		share.readAt = 0
		shareUpdateLocked(total, mapped)
	}
	return prev
}

// shareHeadroom is the headroom of budget total under snapshot p, bytes.
func shareHeadroom(total int64) int64 {
	return total / 100 * int64(cfg().memHeadroom)
}

// shareLimit is the most hakmem may map under the shared budget, bytes,
// given it maps mapped now and is about to map n more (the caller holds
// heap.mu); it also brings the Go limit up to date, counting the n bytes
// as mapped already. Call only when share.total is not 0.
func shareLimit(total int64, mapped uint64, n uintptr) int64 {
	share.mu.Lock()
	defer share.mu.Unlock()
	goOther := shareGoMemLocked()
	if osMapsGoHeap {
		// The segments are Go heap memory: the runtime's figure counts them.
		goOther -= int64(mapped)
	}
	if d := int64(mapped+uint64(n)) - int64(share.lastMapped); d >= shareStep(total) || -d >= shareStep(total) {
		shareUpdateLocked(total, mapped+uint64(n))
	}
	lim := total - max(goOther, 0) - shareHeadroom(total)
	if !osMapsGoHeap {
		lim -= int64(metaMapped.Load()) // hakmem's metadata is hakmem's share too
	}
	return lim
}

// shareStep is the change of mapped bytes that prompts a Go limit update.
func shareStep(total int64) int64 { return max(total/shareStepDiv, shareMinStep) }

// shareGoMemLocked returns the Go runtime's memory, re-read when the last
// reading is older than shareReadNs. Caller holds share.mu.
func shareGoMemLocked() int64 {
	t := now()
	if share.readAt == 0 || t-share.readAt >= shareReadNs {
		metrics.Read(share.samples[:])
		share.goMem = int64(share.samples[0].Value.Uint64() - share.samples[1].Value.Uint64())
		share.readAt = max(t, 1)
	}
	return share.goMem
}

// shareUpdateLocked sets the Go runtime's limit from hakmem's mapped bytes.
// Caller holds share.mu.
func shareUpdateLocked(total int64, mapped uint64) {
	lim := total - shareHeadroom(total)
	if !osMapsGoHeap {
		lim -= int64(mapped + metaMapped.Load())
	}
	// Never 0 or below: that would make the collector run without end for
	// memory hakmem may give back at its next unmap; the smallest useful
	// heap is a few MiB.
	lim = max(lim, shareMinGoLimit)
	share.lastMapped = mapped
	if lim != share.goLimit {
		share.goLimit = lim
		debug.SetMemoryLimit(lim)
		share.updates.Add(1)
	}
}

// shareMinGoLimit is the lowest Go memory limit the shared budget sets.
const shareMinGoLimit = 4 << 20

// shareAfterUnmap brings the Go limit up to date after hakmem may have
// unmapped memory (the scavenger's passes). Cheap when no budget is shared.
func shareAfterUnmap() {
	total := share.total.Load()
	if total == 0 {
		return
	}
	heap.mu.Lock()
	mapped := heap.mapped()
	share.mu.Lock()
	if d := int64(mapped) - int64(share.lastMapped); d >= shareStep(total) || -d >= shareStep(total) {
		shareUpdateLocked(total, mapped)
	}
	share.mu.Unlock()
	heap.mu.Unlock()
}

// shareStats returns the shared budget's total, the Go limit it last set
// and the number of updates, for Stats.
func shareStats() (total, goLimit int64, updates uint64) {
	total = share.total.Load()
	share.mu.Lock()
	goLimit = share.goLimit
	share.mu.Unlock()
	if total == 0 {
		goLimit = 0
	}
	return total, goLimit, share.updates.Load()
}

// goMemoryLimitSet returns Go's memory limit when one is set (GOMEMLIMIT
// or debug.SetMemoryLimit), or 0.
func goMemoryLimitSet() int64 {
	if lim := debug.SetMemoryLimit(-1); lim != math.MaxInt64 {
		return lim
	}
	return 0
}
