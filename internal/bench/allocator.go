package bench

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrNotInstalled is what an adapter's constructor returns when the
// allocator it wraps is missing on this machine (a C library): the battle
// shows the allocator as "not installed" and carries on.
var ErrNotInstalled = errors.New("not installed")

// ErrNotBuilt is what an adapter's constructor returns when this binary
// was built without what it needs (goarena without GOEXPERIMENT=arenas):
// the battle shows it as "not built".
var ErrNotBuilt = errors.New("not built")

// Allocator is what a scenario allocates with. Alloc returns a slice of
// length n whose contents are unspecified; Free gives it back. A scenario
// never touches a slice after freeing it and frees every slice it allocated.
// Implementations must be safe for concurrent use: larson, xmalloc and
// gc-pressure call them from several goroutines.
type Allocator interface {
	Name() string
	Alloc(n int) []byte
	Free(b []byte)
}

// Optional hooks an Allocator may implement. The runner checks for them with
// type assertions; an adapter implements only those that make sense for it.
type (
	// Settler brings the allocator back to a quiet state between runs
	// (return cached memory to the OS), so that one run's leftovers do not
	// show up in the next run's RSS.
	Settler interface{ Settle() }
	// StatsReader reports the allocator's own counters after a run; the
	// runner stores them next to the run's measurements.
	StatsReader interface{ ReadStats() *AllocatorStats }
	// Closer releases everything the allocator holds; called once when the
	// battle is over.
	Closer interface{ Close() error }
	// AfterRunner is called after each run (warm-ups included, failed
	// runs too), once the run is measured: it undoes what Settle changed
	// for that run only (hakmem's mode entries switch the mode back).
	AfterRunner interface{ AfterRun() }
	// Siter allocates through a named allocation site (hakmem's Site).
	// A scenario whose kind wants sites (Kind.wantsSite: learning, since
	// hakmem learns only from a Site's traffic) makes each run on
	// WithSite(name), a fresh site per run; the other scenarios use the
	// adapter itself, so its plain path is not slowed by a site. The
	// hooks above stay with the adapter.
	Siter interface {
		WithSite(name string) (Allocator, error)
	}
	// Owner gives each worker goroutine of a scenario with workers
	// (larson) an allocator of its own, used by that goroutine only and
	// ended (End) when the goroutine finishes: hakmem's Heap. Blocks
	// outlive the owner that allocated them and may be freed through any
	// other owner, or the adapter itself.
	Owner interface {
		Own() OwnedAllocator
	}
	// Scoper gives the arena scenario one scope per request: a Scope
	// allocates the request's memory and End frees it all at once.
	Scoper interface {
		Scope() Scope
	}
	// Learner is a per-run allocator (from WithSite) whose routing is
	// learned while it runs: the learning scenario reads its state
	// between windows, outside the timed part. ok is false while the
	// site has learned nothing.
	Learner interface {
		LearnState() (st LearnState, ok bool)
	}
)

// OwnedAllocator is an allocator one goroutine owns (Owner).
type OwnedAllocator interface {
	Alloc(n int) []byte
	Free(b []byte)
	End()
}

// Scope allocates one request's memory, freed at once by End (Scoper).
type Scope interface {
	Alloc(n int) []byte
	End()
}

// AllocatorStats is the part of an allocator's own statistics a result file
// keeps (today only hakmem provides it; fields follow hakmem.Stats).
type AllocatorStats struct {
	MappedBytes uint64 `json:"mapped_bytes"` // bytes mapped from the OS at the end of the run
	InUseBytes  uint64 `json:"in_use_bytes"` // bytes held by the program (should be 0 after a run)
	CachedBytes uint64 `json:"cached_bytes"` // free blocks ready for reuse
	FreeBytes   uint64 `json:"free_bytes"`   // mapped bytes that hold no block
	Segments    int    `json:"segments"`     // 2 MiB segments mapped
	LargeBlocks int    `json:"large_blocks"` // blocks with their own mapping
	Allocs      uint64 `json:"allocs"`       // allocations during the run
	Frees       uint64 `json:"frees"`        // frees during the run
	FreeCrossP  uint64 `json:"free_cross_p"` // frees of blocks refilled by another P, during the run
	Mmaps       uint64 `json:"mmaps"`        // mmap calls during the run
	Munmaps     uint64 `json:"munmaps"`      // munmap calls during the run
	Errors      uint64 `json:"errors"`       // errors reported during the run
}

// delta returns s with the cumulative counters made relative to before; the
// gauges (bytes, segments, blocks) stay as read at the end.
func (s AllocatorStats) delta(before *AllocatorStats) AllocatorStats {
	if before == nil {
		return s
	}
	s.Allocs -= before.Allocs
	s.Frees -= before.Frees
	s.FreeCrossP -= before.FreeCrossP
	s.Mmaps -= before.Mmaps
	s.Munmaps -= before.Munmaps
	s.Errors -= before.Errors
	return s
}

// adapterInfo describes one registered adapter.
type adapterInfo struct {
	name  string
	doc   string // one line for --help
	new   func() (Allocator, error)
	dflt  bool // part of the default pure-Go battle
	order int  // position in listings: registration order
}

var adapters = map[string]adapterInfo{}

// register adds an adapter; each adapter file calls it from init.
func register(name, doc string, dflt bool, newFn func() (Allocator, error)) {
	if _, dup := adapters[name]; dup {
		panic("bench: adapter registered twice: " + name)
	}
	adapters[name] = adapterInfo{name: name, doc: doc, new: newFn, dflt: dflt, order: adapterOrder(name)}
}

// adapterOrder fixes the listing order of the well-known adapters (hakmem
// first, then the Go peers, then the cgo peers); others sort after them.
func adapterOrder(name string) int {
	known := []string{"hakmem", "hakmem-minimal", "hakmem-fast", "hakmem-balanced", "hakmem-learning", "hakmem-research",
		"hakmem-fixed-64K", "hakmem-fixed-128K", "hakmem-fixed-256K", "hakmem-fixed-512K", "hakmem-fixed-1M",
		"go", "syncpool", "modernc", "cgo-glibc", "cgo-mimalloc", "cgo-jemalloc"}
	for i, k := range known {
		if k == name {
			return i
		}
	}
	return len(known)
}

// AllocatorNames lists the registered adapters in their fixed order.
func AllocatorNames() []string {
	var names []string
	for n := range adapters {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := adapters[names[i]], adapters[names[j]]
		if a.order != b.order {
			return a.order < b.order
		}
		return a.name < b.name
	})
	return names
}

// DefaultAllocators lists the adapters of the default battle (pure Go).
func DefaultAllocators() []string {
	var out []string
	for _, n := range AllocatorNames() {
		if adapters[n].dflt {
			out = append(out, n)
		}
	}
	return out
}

// AllocatorDoc returns the one-line description of an adapter.
func AllocatorDoc(name string) string { return adapters[name].doc }

// NewAllocator creates the named adapter. An unknown name is an error that
// lists the valid ones.
func NewAllocator(name string) (Allocator, error) {
	a, ok := adapters[name]
	if !ok {
		return nil, fmt.Errorf("unknown allocator %q (valid: %s)", name, strings.Join(AllocatorNames(), ", "))
	}
	return a.new()
}

// CheckAllocators validates a list of adapter names.
func CheckAllocators(names []string) error {
	for _, n := range names {
		if _, ok := adapters[n]; !ok {
			return fmt.Errorf("unknown allocator %q (valid: %s)", n, strings.Join(AllocatorNames(), ", "))
		}
	}
	return nil
}
