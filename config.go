package hakmem

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hakmem-go/hakmem/internal/learn"
)

// The option table: the one place hakmem reads the environment. Each option
// has a name, a HAKMEM_ variable, a type, a default, bounds, a unit, a
// sentence of documentation and the values modes give it; the README's
// configuration and modes tables are generated from it (see
// TestReadmeOptionTable and TestModesTable). Anything a user should not
// need to touch is a constant with a comment, not an option.
//
// Where a value comes from, lowest precedence first: the default, the mode
// (HAKMEM_MODE, Configure or SetMode; Balanced when none is chosen), the
// environment (read once, at first use), the API (Configure, before first
// use). An invalid environment value gets one warning line on stderr naming
// the variable and the accepted values, and is ignored.
//
// The effective values live in one immutable snapshot behind an
// atomic pointer. The slow paths load it (one atomic load) and read fields;
// a change (SetMode) builds a new snapshot and swaps it in. The fast paths
// in malloc.go read nothing of it.

// maxOptions bounds the option table: hakmem's configuration grew to 282
// variables and was called a crisis; this one stays small. Also the length
// of the per-snapshot value arrays (a snapshot is copied by value). 40: the
// checked mode and the heap profile took the last of 32.
const maxOptions = 40

// Option types.
const (
	typeInt  = "int"  // an integer in [min, max]
	typeEnum = "enum" // an integer in [min, max] or one of the names in enum
)

type option struct {
	name     string // Settings and Config.Options key, e.g. "segment_cache"
	env      string // environment variable
	typ      string // typeInt or typeEnum
	def      int    // default
	min, max int    // accepted range, inclusive
	unit     string
	enum     []string       // typeEnum: the name of each value (index = value)
	words    map[string]int // words accepted besides the range, e.g. "auto" for a value outside it
	doc      string
	// modes gives the value of the option in modes that change it; the
	// other modes use def.
	modes map[Mode]int
	set   func(p *snapshot, v int) // stores the value into the snapshot
}

// snapshot is one immutable copy of the effective configuration. Never
// written after it is published in pol (tests publish copies).
type snapshot struct {
	mode    Mode
	modeSrc Source
	vals    [maxOptions]int    // every option's value, in its own unit, by index in options
	srcs    [maxOptions]Source // where each value came from

	segmentCache    int            // empty segments kept mapped
	pcacheScale     int            // percent applied to the per-P cache caps (read when a cache is made)
	largeThreshold  int            // default routing threshold, bytes: larger requests go to the large path
	bigCacheBytes   int            // BigCache limit, all sites, bytes
	bigCacheBlocks  int            // BigCache limit, all sites, blocks
	siteCacheBytes  int            // BigCache limit per site, bytes
	siteCacheBlocks int            // BigCache limit per site, blocks
	warmNs          int64          // age at which a cached block or segment gets MADV_FREE, ns
	coldNs          int64          // age at which it gets MADV_DONTNEED, ns
	decayNs         int64          // age at which it is unmapped (and free pages purged), ns
	memLimit        int64          // HAKMEM_MEMORY_LIMIT in bytes, or memLimitAuto; applied to memLimit (or the shared budget) at first use and by Configure
	memHeadroom     int            // HAKMEM_MEMORY_HEADROOM: the shared budget's headroom, percent of the total (sharelimit.go)
	thp             int            // thpOff, thpAuto or thpOn
	learning        int            // learn.Off, learn.Frozen or learn.Live: the learning layer's mode (learn.go)
	learn           learn.Settings // the learning layer's settings (internal/learn), mode included
	callsiteSample  int            // sample one plain slow-path allocation in N for its call site (learn_callsite.go); 0: off
	debug           int            // debugOff, debugMinimal or debugVerbose (debuglog.go)
	check           bool           // checked mode (check.go); fixed at first use
	checkQuarantine uint64         // checked mode: bytes the quarantine holds, at most (check_quarantine.go)
	checkStacks     int            // checked mode: one block in N records full stacks; 0: none
	checkGuard      int            // checked mode: one allocation in N gets guard pages (check_guard.go); 0: none
	checkSweep      time.Duration  // checked mode: period of the quarantine's background sweep (check_sweep.go); 0: none
	profileRate     int            // heap profile: one sample per this many bytes allocated on average; 0: off (heapprof.go)
}

// pol is the current snapshot; never nil (a default snapshot until first use).
var pol atomic.Pointer[snapshot]

// cfg returns the current snapshot. Slow paths only.
func cfg() *snapshot { return pol.Load() }

// configuredThreshold is the snapshot's largeThreshold in bytes once the
// configuration was read (0 before): siteThreshold's answer for a site
// without a threshold of its own, one load instead of ensureInit and cfg.
var configuredThreshold atomic.Uintptr

// storeSnapshot installs p after the configuration was read (not the
// package's defaults at init) and returns the snapshot it replaces.
func storeSnapshot(p *snapshot) *snapshot {
	old := pol.Swap(p)
	configuredThreshold.Store(uintptr(p.largeThreshold))
	return old
}

// Source says where an effective value came from.
type Source string

// The sources, lowest precedence first.
const (
	SourceDefault Source = "default"
	SourceMode    Source = "mode"
	SourceEnv     Source = "env"
	SourceAPI     Source = "api"
)

// THP policies (HAKMEM_THP).
const (
	thpOff  = 0 // never ask for huge pages
	thpAuto = 1 // MADV_HUGEPAGE on large blocks of 2 MiB and more
	thpOn   = 2 // also on every segment
)

// Debug log levels (HAKMEM_DEBUG); see debuglog.go.
const (
	debugOff     = 0 // nothing
	debugMinimal = 1 // memory-limit hits and mode changes
	debugVerbose = 2 // also segment and large-block maps and unmaps, scavenger passes
)

const (
	kib = 1 << 10
	mib = 1 << 20
	ms  = int64(1e6) // ns
)

var options = []option{
	{
		name: "segment_cache", env: "HAKMEM_SEGMENT_CACHE", typ: typeInt, def: 8, min: 0, max: 4096, unit: "segments",
		doc:   "Empty 2 MiB segments kept mapped for reuse (an LRU; also bounded in age by HAKMEM_DECAY_MS) before they are unmapped.",
		modes: map[Mode]int{Minimal: 0, Fast: 32},
		set:   func(p *snapshot, v int) { p.segmentCache = v },
	},
	{
		name: "pcache_scale", env: "HAKMEM_PCACHE_SCALE", typ: typeInt, def: 100, min: 0, max: 1600, unit: "percent",
		doc: "Scales every per-P cache cap; 0 turns per-P caching off (every operation goes to the central lists). Read when a P's cache is made (first use).",
		set: func(p *snapshot, v int) { p.pcacheScale = v },
	},
	{
		name: "large_threshold", env: "HAKMEM_LARGE_THRESHOLD", typ: typeInt, def: 1024, min: 64, max: 1 << 30, unit: "KiB",
		doc: "Routing threshold, every site's default: requests above it get their own mapping (large path, BigCache); at or below, the pooled size classes. Above 1024 means 1024 (the largest class).",
		set: func(p *snapshot, v int) { p.largeThreshold = min(v, maxSmall/kib) * kib },
	},
	{
		name: "bigcache_mb", env: "HAKMEM_BIGCACHE_MB", typ: typeInt, def: 256, min: 0, max: 1 << 20, unit: "MiB",
		doc:   "BigCache: freed large blocks kept mapped for reuse, all sites together; 0 turns the BigCache off.",
		modes: map[Mode]int{Minimal: 0},
		set:   func(p *snapshot, v int) { p.bigCacheBytes = v * mib },
	},
	{
		name: "bigcache_blocks", env: "HAKMEM_BIGCACHE_BLOCKS", typ: typeInt, def: 64, min: 0, max: 1 << 16, unit: "blocks",
		doc: "BigCache: the most freed large blocks kept, all sites together; the coldest go first.",
		set: func(p *snapshot, v int) { p.bigCacheBlocks = v },
	},
	{
		name: "bigcache_site_mb", env: "HAKMEM_BIGCACHE_SITE_MB", typ: typeInt, def: 128, min: 0, max: 1 << 20, unit: "MiB",
		doc: "BigCache: bytes kept per site; a block bigger than this is never cached.",
		set: func(p *snapshot, v int) { p.siteCacheBytes = v * mib },
	},
	{
		name: "bigcache_site_blocks", env: "HAKMEM_BIGCACHE_SITE_BLOCKS", typ: typeInt, def: 16, min: 0, max: 1 << 16, unit: "blocks",
		doc: "BigCache: blocks kept per site (also the longest list a large allocation scans).",
		set: func(p *snapshot, v int) { p.siteCacheBlocks = v },
	},
	{
		name: "warm_ms", env: "HAKMEM_WARM_MS", typ: typeInt, def: 250, min: 1, max: 1 << 30, unit: "ms",
		doc:   "Free policy: a cached large block or empty segment this old is WARM: madvise(MADV_FREE), reclaimed by the kernel only under pressure.",
		modes: map[Mode]int{Fast: 1000},
		set:   func(p *snapshot, v int) { p.warmNs = int64(v) * ms },
	},
	{
		name: "cold_ms", env: "HAKMEM_COLD_MS", typ: typeInt, def: 2000, min: 1, max: 1 << 30, unit: "ms",
		doc:   "Free policy: this old it is COLD: madvise(MADV_DONTNEED), its pages are dropped at once.",
		modes: map[Mode]int{Fast: 5000},
		set:   func(p *snapshot, v int) { p.coldNs = int64(v) * ms },
	},
	{
		name: "decay_ms", env: "HAKMEM_DECAY_MS", typ: typeInt, def: 10000, min: 1, max: 1 << 30, unit: "ms",
		doc:   "Free policy: this old it is unmapped by the background scavenger; free slab pages of live segments are purged after as long. A stage not younger than this never happens.",
		modes: map[Mode]int{Fast: 30000},
		set:   func(p *snapshot, v int) { p.decayNs = int64(v) * ms },
	},
	{
		name: "memory_limit", env: "HAKMEM_MEMORY_LIMIT", typ: typeInt, def: 0, min: 0, max: 1 << 30, unit: "MiB",
		words: map[string]int{"auto": memLimitAutoMiB},
		doc:   "Most memory hakmem maps (segments and large blocks, cached ones included); past it caches are emptied, then allocations fail with ErrMemoryLimit. 0: no limit. SetMemoryLimit overrides it. auto: one budget shared with the Go runtime (ShareMemoryLimit), read from GOMEMLIMIT, else from the cgroup's memory limit (v2 memory.max, v1 memory.limit_in_bytes); none found: no limit.",
		set: func(p *snapshot, v int) {
			if v == memLimitAutoMiB {
				p.memLimit = memLimitAuto
			} else {
				p.memLimit = int64(v) * mib
			}
		},
	},
	{
		name: "memory_headroom", env: "HAKMEM_MEMORY_HEADROOM", typ: typeInt, def: 5, min: 0, max: 50, unit: "percent",
		doc: "Shared budget (ShareMemoryLimit, HAKMEM_MEMORY_LIMIT=auto): the share of the total left to memory neither the Go runtime nor hakmem counts (the binary, C allocations) and to the lag of the updates; the Go limit is the total less hakmem's mappings (its metadata's included) less this, and hakmem stops at the total less the Go runtime's memory less this.",
		set: func(p *snapshot, v int) { p.memHeadroom = v },
	},
	{
		name: "thp", env: "HAKMEM_THP", typ: typeEnum, def: thpAuto, min: thpOff, max: thpOn, unit: "0 off, 1 auto, 2 on",
		enum:  []string{"off", "auto", "on"},
		doc:   "Transparent huge pages: auto asks for them (MADV_HUGEPAGE) on large blocks of 2 MiB and more, on also on every segment, off never. New mappings only.",
		modes: map[Mode]int{Minimal: thpOff, Research: thpOn},
		set:   func(p *snapshot, v int) { p.thp = v },
	},
	learnOption("learning", map[Mode]int{Minimal: learn.Off, Learning: learn.Live, Research: learn.Live}, func(p *snapshot, v int) { p.learning = v }),
	{
		name: "callsite_sample", env: "HAKMEM_CALLSITE_SAMPLE", typ: typeInt, def: 64, min: 0, max: 1 << 20, unit: "slow paths",
		doc: "Call-site discovery: one plain Alloc in N that takes the slow path records its caller, so WriteStats can list sites worth naming; 0: off. The fast path is never sampled.",
		set: func(p *snapshot, v int) { p.callsiteSample = v },
	},
	learnOption("learn_sample", nil, nil),
	learnOption("learn_window_ops", nil, nil),
	learnOption("learn_window_ms", nil, nil),
	learnOption("learn_confidence", nil, nil),
	learnOption("learn_pairs", nil, nil),
	learnOption("learn_weight_cpu", nil, nil),
	learnOption("learn_weight_faults", nil, nil),
	learnOption("learn_weight_memory", nil, nil),
	learnOption("learn_confirm", nil, nil),
	learnOption("learn_min_ms", nil, nil),
	learnOption("learn_canary", nil, nil),
	learnOption("learn_canary_budget", nil, nil),
	learnOption("learn_degrade", nil, nil),
	learnOption("learn_shift", nil, nil),
	learnOption("cap_target", nil, nil),
	learnOption("cap_budget_mb", nil, nil),
	{
		name: "debug", env: "HAKMEM_DEBUG", typ: typeEnum, def: debugOff, min: debugOff, max: debugVerbose, unit: "0 off, 1 minimal, 2 verbose",
		enum:  []string{"off", "minimal", "verbose"},
		doc:   "Debug log through log/slog (SetLogger; text on stderr by default), one record per slow-path event, never on the fast path: minimal logs memory-limit hits and mode changes (slog.LevelInfo); verbose also segment and large-block maps and unmaps and scavenger passes (slog.LevelDebug), and keeps the slow-path size histogram.",
		modes: map[Mode]int{Learning: debugMinimal, Research: debugVerbose},
		set:   func(p *snapshot, v int) { p.debug = v },
	},
	{
		name: "profile_rate", env: "HAKMEM_PROFILE_RATE", typ: typeInt, def: 512, min: 0, max: 1 << 30, unit: "KiB",
		doc: "Heap profile (WriteHeapProfile, Leaks): one sample per this many KiB allocated on average, drawn only on slow paths (a small one is charged the bytes refilled into its P's list since the P's last draw, a large block its size; in checked mode each allocation its size); 0: off. Sampled small blocks live in pages of their own: at most 16 sample segments of 2 MiB, within the memory limit, counted in ReadStats as blocks of their class.",
		set: func(p *snapshot, v int) { p.profileRate = v * kib },
	},
	{
		name: "check", env: "HAKMEM_CHECK", typ: typeEnum, def: checkDefault, min: 0, max: 1, unit: "0 off, 1 on",
		enum: []string{"off", "on"},
		doc:  "Checked mode (check.go), read at first use: every block records its allocating and freeing caller; a freed block is poisoned and held in a FIFO quarantine, verified when it leaves; bytes past len are canaries checked on free; double frees (racing ones too) and interior frees are reported with both callers. Per-P caches and call-site discovery are off: every operation takes the slow path. The default is on when built with -tags hakmem_check.",
		set:  func(p *snapshot, v int) { p.check = v != 0; p.callsiteSample *= 1 - v }, // every operation is a slow path: call-site discovery has nothing to find
	},
	{
		name: "check_quarantine_mb", env: "HAKMEM_CHECK_QUARANTINE_MB", typ: typeInt, def: 16, min: 0, max: 1 << 20, unit: "MiB",
		doc: "Checked mode: freed bytes held (poisoned) in the quarantine before reuse; the oldest leave first and are verified. 0: verified and reused at once.",
		set: func(p *snapshot, v int) { p.checkQuarantine = uint64(v) * mib },
	},
	{
		name: "check_stacks", env: "HAKMEM_CHECK_STACKS", typ: typeInt, def: 64, min: 0, max: 1 << 20, unit: "blocks",
		doc: "Checked mode: one block in N records full allocation and free stacks, interned in a bounded table; every block records one caller each way. 0: callers only.",
		set: func(p *snapshot, v int) { p.checkStacks = v },
	},
	{
		name: "check_guard", env: "HAKMEM_CHECK_GUARD", typ: typeInt, def: 10000, min: 0, max: 1 << 30, unit: "allocations",
		doc: "Checked mode: one allocation in N gets a mapping of its own, the block at the end of its pages and followed by an inaccessible page; freed, its pages become inaccessible (64 such blocks are held). A touch faults at once: with debug.SetPanicOnFault(true) it is a panic, and Describe names the block. 0: none; 1: every allocation (slow: a few system calls each).",
		set: func(p *snapshot, v int) { p.checkGuard = v },
	},
	{
		name: "check_sweep_ms", env: "HAKMEM_CHECK_SWEEP_MS", typ: typeInt, def: 1000, min: 0, max: 1 << 20, unit: "ms",
		doc: "Checked mode: a background goroutine verifies the poison of every block in the quarantine this often (started by the first checked free; StopScavenger stops it). A failure it finds is logged to stderr and counted (Stats.CheckFailures; the OnCheckFailure handler sees Background set), never a panic, and is reported again when the block leaves the quarantine. 0: no sweep.",
		set: func(p *snapshot, v int) { p.checkSweep = time.Duration(v) * time.Millisecond },
	},
}

// learnOption is the learning package's option named name as a row of the
// table (learn.Options declares it, default included): modes gives the
// values modes give it, and also, when not nil, stores the value into the
// snapshot besides the learning settings.
func learnOption(name string, modes map[Mode]int, also func(p *snapshot, v int)) option {
	lo := &learn.Options[learn.OptionIndex(name)]
	typ := typeInt
	if lo.Enum != nil {
		typ = typeEnum
	}
	return option{name: lo.Name, env: lo.Env, typ: typ, def: lo.Def, min: lo.Min, max: lo.Max, unit: lo.Unit,
		enum: lo.Enum, doc: lo.Doc, modes: modes,
		set: func(p *snapshot, v int) {
			lo.Set(&p.learn, v)
			if also != nil {
				also(p, v)
			}
		}}
}

// modeEnv is the variable that selects the mode.
const modeEnv = "HAKMEM_MODE"

func init() {
	if len(options) > maxOptions {
		panic("hakmem: more options than maxOptions")
	}
	pol.Store(buildSnapshot(&cfgState))
}

// publish swaps in snapshot p and applies what cannot wait for the next
// slow path: the heap's caches (pageHeap.swapSnapshot), the debug log of
// the change, the learners' settings and mode.
func publish(p *snapshot) {
	old := heap.swapSnapshot(p)
	if old != nil && old.mode != p.mode {
		p.logAttrs(debugMinimal, "mode change", slog.String("from", old.mode.String()), slog.String("to", p.mode.String()))
	}
	if old == nil || old.learn != p.learn {
		applyLearnSettings(p.learn)
	}
	if old == nil || old.learning != p.learning {
		capSetMode(p.learning) // off restores the generated per-P caps (learn_cap.go)
	}
}
