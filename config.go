package hakmem

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
// The effective values live in one immutable policy snapshot behind an
// atomic pointer. The slow paths load it (one atomic load) and read fields;
// a change (SetMode) builds a new snapshot and swaps it in. The fast paths
// in malloc.go read nothing of it.

// maxOptions bounds the option table: hakmem's configuration grew to 282
// variables and was called a crisis; this one stays small. Also the length
// of the per-policy value arrays (a policy is copied by value). 40: the
// checked mode and the heap profile (issue 12) took the last of 32.
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
	set   func(p *policy, v int) // stores the value into the snapshot
}

// policy is one immutable snapshot of the effective configuration. Never
// written after it is published in pol (tests publish copies).
type policy struct {
	mode    Mode
	modeSrc Source
	vals    [maxOptions]int    // every option's value, in its own unit, by index in options
	srcs    [maxOptions]Source // where each value came from

	segmentCache    int           // empty segments kept mapped
	pcacheScale     int           // percent applied to the per-P cache caps (read when a cache is made)
	largeThreshold  int           // default routing threshold, bytes: larger requests go to the large path
	bigCacheBytes   int           // BigCache limit, all sites, bytes
	bigCacheBlocks  int           // BigCache limit, all sites, blocks
	siteCacheBytes  int           // BigCache limit per site, bytes
	siteCacheBlocks int           // BigCache limit per site, blocks
	warmNs          int64         // age at which a cached block or segment gets MADV_FREE, ns
	coldNs          int64         // age at which it gets MADV_DONTNEED, ns
	decayNs         int64         // age at which it is unmapped (and free pages purged), ns
	memLimit        int64         // HAKMEM_MEMORY_LIMIT in bytes, or memLimitAuto; applied to memLimit (or the shared budget) at first use and by Configure
	memHeadroom     int           // HAKMEM_MEMORY_HEADROOM: the shared budget's headroom, percent of the total (sharelimit.go)
	thp             int           // thpOff, thpAuto or thpOn
	learning        int           // learnOff, learnFrozen or learnLive: the learning layer's mode (learn.go)
	learn           learnSettings // the learning layer's settings (learn_settings.go), mode included
	callsiteSample  int           // sample one plain slow-path allocation in N for its call site (callsite.go); 0: off
	capTarget       float64       // capacity learner: per-class capacity hit rate to reach, 0 .. 1 (caplearn.go)
	capBudget       int64         // capacity learner: the least budget for learned per-P caps, bytes
	debug           int           // debugOff, debugMinimal or debugVerbose (debuglog.go)
	check           bool          // checked mode (check.go); fixed at first use
	checkQuarantine uint64        // checked mode: bytes the quarantine holds, at most (check_quarantine.go)
	checkStacks     int           // checked mode: one block in N records full stacks; 0: none
	checkGuard      int           // checked mode: one allocation in N gets guard pages (check_guard.go); 0: none
	checkSweep      time.Duration // checked mode: period of the quarantine's background sweep (check_sweep.go); 0: none
	profileRate     int           // heap profile: one sample per this many bytes allocated on average; 0: off (heapprof.go)
}

// pol is the current policy; never nil (a default snapshot until first use).
var pol atomic.Pointer[policy]

// cfg returns the current policy snapshot. Slow paths only.
func cfg() *policy { return pol.Load() }

// configuredThreshold is the policy's largeThreshold in bytes once the
// configuration was read (0 before): siteThreshold's answer for a site
// without a threshold of its own, one load instead of ensureInit and cfg.
var configuredThreshold atomic.Uintptr

// storePolicy installs p after the configuration was read (not the
// package's defaults at init) and returns the policy it replaces.
func storePolicy(p *policy) *policy {
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

// Learning states (HAKMEM_LEARNING), for the learning layer.
const (
	learnOff    = 0 // no profiles, no decisions: every site uses the defaults
	learnFrozen = 1 // apply what was learned, learn nothing new
	learnLive   = 2 // learn and apply
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
		set:   func(p *policy, v int) { p.segmentCache = v },
	},
	{
		name: "pcache_scale", env: "HAKMEM_PCACHE_SCALE", typ: typeInt, def: 100, min: 0, max: 1600, unit: "percent",
		doc: "Scales every per-P cache cap; 0 turns per-P caching off (every operation goes to the central lists). Read when a P's cache is made (first use).",
		set: func(p *policy, v int) { p.pcacheScale = v },
	},
	{
		name: "large_threshold", env: "HAKMEM_LARGE_THRESHOLD", typ: typeInt, def: 1024, min: 64, max: 1 << 30, unit: "KiB",
		doc: "Routing threshold, every site's default: requests above it get their own mapping (large path, BigCache); at or below, the pooled size classes. Above 1024 means 1024 (the largest class).",
		set: func(p *policy, v int) { p.largeThreshold = min(v, maxSmall/kib) * kib },
	},
	{
		name: "bigcache_mb", env: "HAKMEM_BIGCACHE_MB", typ: typeInt, def: 256, min: 0, max: 1 << 20, unit: "MiB",
		doc:   "BigCache: freed large blocks kept mapped for reuse, all sites together; 0 turns the BigCache off.",
		modes: map[Mode]int{Minimal: 0},
		set:   func(p *policy, v int) { p.bigCacheBytes = v * mib },
	},
	{
		name: "bigcache_blocks", env: "HAKMEM_BIGCACHE_BLOCKS", typ: typeInt, def: 64, min: 0, max: 1 << 16, unit: "blocks",
		doc: "BigCache: the most freed large blocks kept, all sites together; the coldest go first.",
		set: func(p *policy, v int) { p.bigCacheBlocks = v },
	},
	{
		name: "bigcache_site_mb", env: "HAKMEM_BIGCACHE_SITE_MB", typ: typeInt, def: 128, min: 0, max: 1 << 20, unit: "MiB",
		doc: "BigCache: bytes kept per site; a block bigger than this is never cached.",
		set: func(p *policy, v int) { p.siteCacheBytes = v * mib },
	},
	{
		name: "bigcache_site_blocks", env: "HAKMEM_BIGCACHE_SITE_BLOCKS", typ: typeInt, def: 16, min: 0, max: 1 << 16, unit: "blocks",
		doc: "BigCache: blocks kept per site (also the longest list a large allocation scans).",
		set: func(p *policy, v int) { p.siteCacheBlocks = v },
	},
	{
		name: "warm_ms", env: "HAKMEM_WARM_MS", typ: typeInt, def: 250, min: 1, max: 1 << 30, unit: "ms",
		doc:   "Free policy: a cached large block or empty segment this old is WARM: madvise(MADV_FREE), reclaimed by the kernel only under pressure.",
		modes: map[Mode]int{Fast: 1000},
		set:   func(p *policy, v int) { p.warmNs = int64(v) * ms },
	},
	{
		name: "cold_ms", env: "HAKMEM_COLD_MS", typ: typeInt, def: 2000, min: 1, max: 1 << 30, unit: "ms",
		doc:   "Free policy: this old it is COLD: madvise(MADV_DONTNEED), its pages are dropped at once.",
		modes: map[Mode]int{Fast: 5000},
		set:   func(p *policy, v int) { p.coldNs = int64(v) * ms },
	},
	{
		name: "decay_ms", env: "HAKMEM_DECAY_MS", typ: typeInt, def: 10000, min: 1, max: 1 << 30, unit: "ms",
		doc:   "Free policy: this old it is unmapped by the background scavenger; free slab pages of live segments are purged after as long. A stage not younger than this never happens.",
		modes: map[Mode]int{Fast: 30000},
		set:   func(p *policy, v int) { p.decayNs = int64(v) * ms },
	},
	{
		name: "memory_limit", env: "HAKMEM_MEMORY_LIMIT", typ: typeInt, def: 0, min: 0, max: 1 << 30, unit: "MiB",
		words: map[string]int{"auto": memLimitAutoMiB},
		doc:   "Most memory hakmem maps (segments and large blocks, cached ones included); past it caches are emptied, then allocations fail with ErrMemoryLimit. 0: no limit. SetMemoryLimit overrides it. auto: one budget shared with the Go runtime (ShareMemoryLimit), read from GOMEMLIMIT, else from the cgroup's memory limit (v2 memory.max, v1 memory.limit_in_bytes); none found: no limit.",
		set: func(p *policy, v int) {
			if v == memLimitAutoMiB {
				p.memLimit = memLimitAuto
			} else {
				p.memLimit = int64(v) * mib
			}
		},
	},
	{
		name: "memory_headroom", env: "HAKMEM_MEMORY_HEADROOM", typ: typeInt, def: 5, min: 0, max: 50, unit: "percent",
		doc: "Shared budget (ShareMemoryLimit, HAKMEM_MEMORY_LIMIT=auto): the share of the total left to memory neither the Go runtime nor hakmem counts (the binary, C allocations) and to the lag of the updates; the Go limit is the total less hakmem's mappings less this, and hakmem stops at the total less the Go runtime's memory less this.",
		set: func(p *policy, v int) { p.memHeadroom = v },
	},
	{
		name: "thp", env: "HAKMEM_THP", typ: typeEnum, def: thpAuto, min: thpOff, max: thpOn, unit: "0 off, 1 auto, 2 on",
		enum:  []string{"off", "auto", "on"},
		doc:   "Transparent huge pages: auto asks for them (MADV_HUGEPAGE) on large blocks of 2 MiB and more, on also on every segment, off never. New mappings only.",
		modes: map[Mode]int{Minimal: thpOff, Research: thpOn},
		set:   func(p *policy, v int) { p.thp = v },
	},
	{
		name: "learning", env: "HAKMEM_LEARNING", typ: typeEnum, def: learnFrozen, min: learnOff, max: learnLive, unit: "0 off, 1 frozen, 2 live",
		enum:  []string{"off", "frozen", "live"},
		doc:   "Learning layer (learn.go) and per-class per-P cache capacity learner (caplearn.go): off uses the defaults for every site and the generated per-P caps; frozen applies what was learned or loaded (LoadPolicy: thresholds, BigCache policies, caps); live samples named sites' large requests, learns and applies, and adjusts the per-P caps from the refills and flushes the slow paths count.",
		modes: map[Mode]int{Minimal: learnOff, Learning: learnLive, Research: learnLive},
		set:   func(p *policy, v int) { p.learning, p.learn.mode = v, v },
	},
	{
		name: "callsite_sample", env: "HAKMEM_CALLSITE_SAMPLE", typ: typeInt, def: 64, min: 0, max: 1 << 20, unit: "slow paths",
		doc: "Call-site discovery: one plain Alloc in N that takes the slow path records its caller, so WriteStats can list sites worth naming; 0: off. The fast path is never sampled.",
		set: func(p *policy, v int) { p.callsiteSample = v },
	},
	{
		name: "learn_sample", env: "HAKMEM_LEARN_SAMPLE", typ: typeInt, def: 64, min: 1, max: 1 << 16, unit: "requests",
		doc: "Learning: one request above 64 KiB in N through a named site is profiled (pooled hits picked by a per-P tick, slow paths drawn and timed; 1 in 64 keeps the record under 1 ns a request on average).",
		set: func(p *policy, v int) { p.learn.sampleEvery = uint32(v) },
	},
	{
		name: "learn_window_ops", env: "HAKMEM_LEARN_WINDOW_OPS", typ: typeInt, def: 50, min: 1, max: 1 << 30, unit: "requests",
		doc: "Learning: a window lasts until the site made this many requests in it (at most 20 times HAKMEM_LEARN_WINDOW_MS; a window with fewer is not rated): its throughput is not a handful of requests' noise.",
		set: func(p *policy, v int) { p.learn.minWindowOps = uint64(v) },
	},
	{
		name: "learn_window_ms", env: "HAKMEM_LEARN_WINDOW_MS", typ: typeInt, def: 100, min: 10, max: 1 << 30, unit: "ms",
		doc: "Learning: a window's measured part: the site's requests per CPU-second of the process are counted over it while one strategy is in force (after a switch the window first waits a fifth of this, the switch's warm-up).",
		set: func(p *policy, v int) { p.learn.windowNs = int64(v) * ms },
	},
	{
		name: "learn_confidence", env: "HAKMEM_LEARN_CONFIDENCE", typ: typeInt, def: 95, min: 50, max: 99, unit: "percent",
		doc: "Learning: a challenger replaces the incumbent only when a one-sided sign test over its A/B window pairs (challenger window against the incumbent windows around it) says it wins more often than not at this confidence; else the incumbent (the default first) stays.",
		set: func(p *policy, v int) { p.learn.confidence = float64(v) / 100 },
	},
	{
		name: "learn_pairs", env: "HAKMEM_LEARN_PAIRS", typ: typeInt, def: 12, min: 7, max: 64, unit: "pairs",
		doc: "Learning: the most A/B window pairs a test runs (adoption is looked at from 7 pairs on); a challenger that can no longer reach HAKMEM_LEARN_CONFIDENCE within them is rejected (at 95% and 12 pairs: adopted on 7 of 7, 8 of 9, 9 of 10 or 10 of 12 pairs won, rejected after 3 not won).",
		set: func(p *policy, v int) { p.learn.maxPairs = v },
	},
	{
		name: "learn_weight_cpu", env: "HAKMEM_LEARN_WEIGHT_CPU", typ: typeInt, def: 40, min: 0, max: 100, unit: "percent",
		doc: "Learning: weight of sampled time spent in the allocator in the composite that breaks a tie (a pair whose throughput ratio is within the noise); the three weights are normalised.",
		set: func(p *policy, v int) { p.learn.wCPU = float64(v) / 100 },
	},
	{
		name: "learn_weight_faults", env: "HAKMEM_LEARN_WEIGHT_FAULTS", typ: typeInt, def: 30, min: 0, max: 100, unit: "percent",
		doc: "Learning: weight of fresh pages mapped (page faults, mmap calls) in the tie-breaking composite.",
		set: func(p *policy, v int) { p.learn.wFaults = float64(v) / 100 },
	},
	{
		name: "learn_weight_memory", env: "HAKMEM_LEARN_WEIGHT_MEMORY", typ: typeInt, def: 30, min: 0, max: 100, unit: "percent",
		doc: "Learning: weight of memory held (rounding waste and cached bytes) in the tie-breaking composite.",
		set: func(p *policy, v int) { p.learn.wMem = float64(v) / 100 },
	},
	{
		name: "learn_confirm", env: "HAKMEM_LEARN_CONFIRM", typ: typeInt, def: 3, min: 1, max: 1000, unit: "windows",
		doc: "Learning: how many windows in a row confirm a return to LEARN on degradation.",
		set: func(p *policy, v int) { p.learn.freezeWindows, p.learn.degradeWindows = v, v },
	},
	{
		name: "learn_min_ms", env: "HAKMEM_LEARN_MIN_MS", typ: typeInt, def: 20000, min: 0, max: 1 << 30, unit: "ms",
		doc: "Learning: the shortest time a site learns before it may freeze (the incumbent runs once every challenger was tested).",
		set: func(p *policy, v int) { p.learn.minLearnNs = int64(v) * ms },
	},
	{
		name: "learn_canary", env: "HAKMEM_LEARN_CANARY", typ: typeInt, def: 5, min: 1, max: 100, unit: "percent",
		doc: "Learning: a FROZEN site starts a check (CANARY: an A/B test of the default, or of the best other strategy, against the frozen one) at most once in 100/this windows.",
		set: func(p *policy, v int) { p.learn.canaryEvery = max(1, 100/v) },
	},
	{
		name: "learn_canary_budget", env: "HAKMEM_LEARN_CANARY_BUDGET", typ: typeInt, def: 10, min: 0, max: 1000, unit: "permille",
		doc: "Learning: checks are spaced by the throughput their challenger lost in its last test, so that they cost at most this share of the site's throughput (0: every 100/HAKMEM_LEARN_CANARY windows).",
		set: func(p *policy, v int) { p.learn.canaryBudget = float64(v) / 1000 },
	},
	{
		name: "learn_degrade", env: "HAKMEM_LEARN_DEGRADE", typ: typeInt, def: 20, min: 1, max: 1000, unit: "percent",
		doc: "Learning: FROZEN -> LEARN when the site's throughput per CPU-second stays this much under the frozen baseline for HAKMEM_LEARN_CONFIRM windows.",
		set: func(p *policy, v int) { p.learn.degrade = float64(v) / 100 },
	},
	{
		name: "learn_shift", env: "HAKMEM_LEARN_SHIFT", typ: typeInt, def: 25, min: 1, max: 100, unit: "percent",
		doc: "Learning: FROZEN -> LEARN when the site's size distribution moves this far (total variation distance between size-class histograms).",
		set: func(p *policy, v int) { p.learn.shift = float64(v) / 100 },
	},
	{
		name: "cap_target", env: "HAKMEM_CAP_TARGET", typ: typeInt, def: 98, min: 50, max: 100, unit: "percent",
		doc: "Capacity learner (caplearn.go; adjusts only while HAKMEM_LEARNING is live, frozen keeps its caps, off restores the generated ones): a size class whose per-P hit rate, counting only misses a bigger cap would save (a P refilling and flushing the class in one window), stays under this gets its per-P cap doubled. A miss costs a trip to the central list (a lock and a batch: ~90-350 ns measured by BenchmarkCapThrash, against ~12 ns for a hit on the same VM): at 98% the trips cost 2-7 ns per operation, under a hit's time, and a tiny class thrashing with the generated caps (one trip per 32 blocks) is just under it.",
		set: func(p *policy, v int) { p.capTarget = float64(v) / 100 },
	},
	{
		name: "cap_budget_mb", env: "HAKMEM_CAP_BUDGET_MB", typ: typeInt, def: 16, min: 0, max: 1 << 20, unit: "MiB",
		doc: "Capacity learner: what raised per-P caps may hold beyond the generated ones, every P's list full, is at most this or 1/8 of mapped memory, whichever is larger (over it, the classes reserving most are halved first). 16 MiB is about two Ps' worth of the generated caps (7.8 MiB each at worst); 1/8 is the worst size-class rounding waste.",
		set: func(p *policy, v int) { p.capBudget = int64(v) * mib },
	},
	{
		name: "debug", env: "HAKMEM_DEBUG", typ: typeEnum, def: debugOff, min: debugOff, max: debugVerbose, unit: "0 off, 1 minimal, 2 verbose",
		enum:  []string{"off", "minimal", "verbose"},
		doc:   "Debug log through log/slog (SetLogger; text on stderr by default), one record per slow-path event, never on the fast path: minimal logs memory-limit hits and mode changes (slog.LevelInfo); verbose also segment and large-block maps and unmaps and scavenger passes (slog.LevelDebug), and keeps the slow-path size histogram.",
		modes: map[Mode]int{Learning: debugMinimal, Research: debugVerbose},
		set:   func(p *policy, v int) { p.debug = v },
	},
	{
		name: "profile_rate", env: "HAKMEM_PROFILE_RATE", typ: typeInt, def: 512, min: 0, max: 1 << 30, unit: "KiB",
		doc: "Heap profile (WriteHeapProfile, Leaks): one sample per this many KiB allocated on average, drawn only on slow paths (a small one is charged the bytes refilled into its P's list since the P's last draw, a large block its size; in checked mode each allocation its size); 0: off. Sampled small blocks live in pages of their own: at most 16 sample segments of 2 MiB, within the memory limit, counted in ReadStats as blocks of their class.",
		set: func(p *policy, v int) { p.profileRate = v * kib },
	},
	{
		name: "check", env: "HAKMEM_CHECK", typ: typeEnum, def: checkDefault, min: 0, max: 1, unit: "0 off, 1 on",
		enum: []string{"off", "on"},
		doc:  "Checked mode (check.go), read at first use: every block records its allocating and freeing caller; a freed block is poisoned and held in a FIFO quarantine, verified when it leaves; bytes past len are canaries checked on free; double frees (racing ones too) and interior frees are reported with both callers. Per-P caches and call-site discovery are off: every operation takes the slow path. The default is on when built with -tags hakmem_check.",
		set:  func(p *policy, v int) { p.check = v != 0; p.callsiteSample *= 1 - v }, // every operation is a slow path: call-site discovery has nothing to find
	},
	{
		name: "check_quarantine_mb", env: "HAKMEM_CHECK_QUARANTINE_MB", typ: typeInt, def: 16, min: 0, max: 1 << 20, unit: "MiB",
		doc: "Checked mode: freed bytes held (poisoned) in the quarantine before reuse; the oldest leave first and are verified. 0: verified and reused at once.",
		set: func(p *policy, v int) { p.checkQuarantine = uint64(v) * mib },
	},
	{
		name: "check_stacks", env: "HAKMEM_CHECK_STACKS", typ: typeInt, def: 64, min: 0, max: 1 << 20, unit: "blocks",
		doc: "Checked mode: one block in N records full allocation and free stacks, interned in a bounded table; every block records one caller each way. 0: callers only.",
		set: func(p *policy, v int) { p.checkStacks = v },
	},
	{
		name: "check_guard", env: "HAKMEM_CHECK_GUARD", typ: typeInt, def: 10000, min: 0, max: 1 << 30, unit: "allocations",
		doc: "Checked mode: one allocation in N gets a mapping of its own, the block at the end of its pages and followed by an inaccessible page; freed, its pages become inaccessible (64 such blocks are held). A touch faults at once: with debug.SetPanicOnFault(true) it is a panic, and Describe names the block. 0: none; 1: every allocation (slow: a few system calls each).",
		set: func(p *policy, v int) { p.checkGuard = v },
	},
	{
		name: "check_sweep_ms", env: "HAKMEM_CHECK_SWEEP_MS", typ: typeInt, def: 1000, min: 0, max: 1 << 20, unit: "ms",
		doc: "Checked mode: a background goroutine verifies the poison of every block in the quarantine this often (started by the first checked free; StopScavenger stops it). A failure it finds is logged to stderr and counted (Stats.CheckFailures; the OnCheckFailure handler sees Background set), never a panic, and is reported again when the block leaves the quarantine. 0: no sweep.",
		set: func(p *policy, v int) { p.checkSweep = time.Duration(v) * time.Millisecond },
	},
}

// modeEnv is the variable that selects the mode.
const modeEnv = "HAKMEM_MODE"

func init() {
	if len(options) > maxOptions {
		panic("hakmem: more options than maxOptions")
	}
	pol.Store(buildPolicy(&cfgState))
}

// modeValue is the option's value in mode m, before environment and API.
func (o *option) modeValue(m Mode) int {
	if v, ok := o.modes[m]; ok {
		return v
	}
	return o.def
}

// format renders a value of the option for people: the enum name, or the
// number.
func (o *option) format(v int) string {
	if o.typ == typeEnum && v >= 0 && v < len(o.enum) {
		return o.enum[v]
	}
	for w, wv := range o.words {
		if v == wv {
			return w
		}
	}
	return strconv.Itoa(v)
}

// accepted describes the values the option accepts, for messages.
func (o *option) accepted() string {
	if o.typ == typeEnum {
		return fmt.Sprintf("one of %s (or %d .. %d)", strings.Join(o.enum, ", "), o.min, o.max)
	}
	if len(o.words) > 0 {
		return fmt.Sprintf("an integer from %d to %d (%s) or %s", o.min, o.max, o.unit, strings.Join(o.wordList(), ", "))
	}
	return fmt.Sprintf("an integer from %d to %d (%s)", o.min, o.max, o.unit)
}

// valid reports whether v is a value of the option: in its range, or a
// word's value.
func (o *option) valid(v int) bool {
	if v >= o.min && v <= o.max {
		return true
	}
	for _, w := range o.words {
		if v == w {
			return true
		}
	}
	return false
}

// wordList is the option's words, sorted, for messages and the README.
func (o *option) wordList() []string {
	ws := make([]string, 0, len(o.words))
	for w := range o.words {
		ws = append(ws, w)
	}
	sort.Strings(ws)
	return ws
}

// parse reads a value of the option from text.
func (o *option) parse(s string) (int, error) {
	t := strings.TrimSpace(s)
	for w, v := range o.words {
		if strings.EqualFold(t, w) {
			return v, nil
		}
	}
	if o.typ == typeEnum {
		for i, name := range o.enum {
			if strings.EqualFold(t, name) {
				return i, nil
			}
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < o.min || n > o.max {
		return 0, fmt.Errorf("%s=%q is not valid: want %s", o.env, s, o.accepted())
	}
	return n, nil
}

// optionIndex finds an option by name or variable (case-insensitive).
func optionIndex(key string) int {
	for i := range options {
		if strings.EqualFold(key, options[i].name) || strings.EqualFold(key, options[i].env) {
			return i
		}
	}
	return -1
}

// configState holds what the environment and the API chose; the policy is
// built from it.
type configState struct {
	mu      sync.Mutex
	envMode Mode        // HAKMEM_MODE, or 0; guarded by mu
	apiMode Mode        // Configure's or SetMode's mode, or 0; guarded by mu
	envVals map[int]int // option index -> value from the environment; guarded by mu
	apiVals map[int]int // option index -> value from Configure; guarded by mu
}

// cfgState is written at first use, by Configure and by SetMode.
var cfgState configState

// buildPolicy makes a snapshot from st (caller holds st.mu, or owns st).
func buildPolicy(st *configState) *policy {
	p := &policy{mode: Balanced, modeSrc: SourceDefault, learn: defaultLearnSettings()}
	if st.envMode != 0 {
		p.mode, p.modeSrc = st.envMode, SourceEnv
	}
	if st.apiMode != 0 {
		p.mode, p.modeSrc = st.apiMode, SourceAPI
	}
	for i := range options {
		o := &options[i]
		v, src := o.def, SourceDefault
		if mv, ok := o.modes[p.mode]; ok {
			v, src = mv, SourceMode
		}
		if ev, ok := st.envVals[i]; ok {
			v, src = ev, SourceEnv
		}
		if av, ok := st.apiVals[i]; ok {
			v, src = av, SourceAPI
		}
		p.vals[i], p.srcs[i] = v, src
		o.set(p, v)
	}
	return p
}

// loadConfig reads the environment at first use and publishes the policy.
func loadConfig() { loadConfigFrom(os.LookupEnv, os.Stderr) }

// loadConfigFrom reads the options from getenv, warns on w, and publishes
// the resulting policy. Unknown HAKMEM_ variables are not warned about
// here (tests and tools set their own); CheckEnvironment and `hakmem
// config` list them.
func loadConfigFrom(getenv func(string) (string, bool), w io.Writer) {
	cfgState.mu.Lock()
	cfgState.envMode, cfgState.envVals = readEnv(getenv, w)
	p := buildPolicy(&cfgState)
	cfgState.mu.Unlock()
	// Not publish: first use may come from a path that holds heap.mu, and
	// there is nothing cached yet to drop.
	storePolicy(p)
	applyMemLimit(p.memLimit) // after storePolicy: the shared budget reads the headroom
	// Nothing has been learned or started yet: only the learner's settings.
	initLearnSettings(p.learn)
}

// readEnv parses HAKMEM_MODE and every option from getenv; invalid values
// are written to w, one line each, and ignored.
func readEnv(getenv func(string) (string, bool), w io.Writer) (Mode, map[int]int) {
	var mode Mode
	vals := map[int]int{}
	if s, ok := getenv(modeEnv); ok {
		m, err := ParseMode(s)
		if err != nil {
			fmt.Fprintf(w, "hakmem: %s=%q is not valid: want one of %s; ignored\n", modeEnv, s, strings.Join(modeNames[1:], ", "))
		} else {
			mode = m
		}
	}
	for i := range options {
		o := &options[i]
		if s, ok := getenv(o.env); ok {
			v, err := o.parse(s)
			if err != nil {
				fmt.Fprintf(w, "hakmem: %v; ignored\n", err)
				continue
			}
			vals[i] = v
		}
	}
	return mode, vals
}

// unknownVars lists the HAKMEM_ variables in environ that hakmem does not
// know, each with the closest known name.
func unknownVars(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "HAKMEM_") || k == modeEnv || optionIndex(k) >= 0 && options[optionIndex(k)].env == k {
			continue
		}
		out = append(out, fmt.Sprintf("unknown variable %s (did you mean %s?)", k, closestVar(k)))
	}
	sort.Strings(out)
	return out
}

// closestVar is the known variable nearest to k by edit distance.
func closestVar(k string) string {
	best, bestD := modeEnv, editDistance(k, modeEnv)
	for i := range options {
		if d := editDistance(k, options[i].env); d < bestD {
			best, bestD = options[i].env, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// CheckEnvironment validates the HAKMEM_ variables of environ (in the form
// os.Environ returns) and returns one line per problem: an invalid value
// with the accepted ones, or an unknown variable with the closest known
// name. It reads nothing else and changes nothing.
func CheckEnvironment(environ []string) []string {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var b strings.Builder
	readEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &b)
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line != "" {
			out = append(out, strings.TrimPrefix(line, "hakmem: "))
		}
	}
	return append(out, unknownVars(environ)...)
}

// Config is the configuration Configure applies: a mode and option values,
// both above the environment in precedence.
type Config struct {
	// Mode, when not zero, replaces HAKMEM_MODE.
	Mode Mode
	// Options sets options by name ("segment_cache") or variable
	// ("HAKMEM_SEGMENT_CACHE"), in the option's unit; enum options take
	// their number (thp: 0 off, 1 auto, 2 on).
	Options map[string]int
}

// errConfigured is returned by Configure after first use.
var errConfigured = errors.New("hakmem: Configure must be called before the first use of hakmem (an allocation, ReadStats, Settings or SetMode already read the configuration); use SetMode to change the mode at run time")

// Configure sets the configuration before first use: c's mode and options
// take precedence over the environment (which is still read). It returns
// an error, and changes nothing, when c names an unknown option or an
// invalid value or mode, or when hakmem has already been used.
func Configure(c Config) error {
	if c.Mode != 0 && !c.Mode.valid() {
		return fmt.Errorf("hakmem: Configure: invalid mode %v", c.Mode)
	}
	api := map[int]int{}
	keys := make([]string, 0, len(c.Options))
	for k := range c.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i := optionIndex(k)
		if i < 0 {
			near := closestVar("HAKMEM_" + strings.TrimPrefix(strings.ToUpper(k), "HAKMEM_"))
			if j := optionIndex(near); j >= 0 {
				near = options[j].name
			}
			return fmt.Errorf("hakmem: Configure: unknown option %q (did you mean %s?)", k, near)
		}
		o := &options[i]
		v := c.Options[k]
		if !o.valid(v) {
			return fmt.Errorf("hakmem: Configure: %s = %d is not valid: want %s", o.name, v, o.accepted())
		}
		api[i] = v
	}
	ran := false
	initOnce.Do(func() {
		ran = true
		cfgState.mu.Lock()
		cfgState.apiMode, cfgState.apiVals = c.Mode, api
		cfgState.mu.Unlock()
		loadConfig()
	})
	if !ran {
		return errConfigured
	}
	return nil
}

// SetMode switches to mode m at run time. Options set by the environment
// or Configure keep their values (they take precedence over any mode).
// Effects: a BigCache turned off is emptied, and a smaller segment cache is
// trimmed, at once; THP applies to new mappings; the per-P cache caps
// (pcache_scale) are unchanged; the memory limit is unchanged. Safe at any
// time from any goroutine: the slow paths see either the old policy or the
// new one, whole.
func SetMode(m Mode) error {
	if !m.valid() {
		return fmt.Errorf("hakmem: SetMode: invalid mode %v", m)
	}
	ensureInit()
	cfgState.mu.Lock()
	cfgState.apiMode = m
	p := buildPolicy(&cfgState)
	cfgState.mu.Unlock()
	publish(p)
	return nil
}

// CurrentMode returns the mode in effect.
func CurrentMode() Mode {
	ensureInit()
	return cfg().mode
}

// publish swaps in policy p and applies what cannot wait for the next
// slow path: an emptied BigCache, a trimmed segment cache.
func publish(p *policy) {
	heap.mu.Lock()
	old := storePolicy(p)
	var unmap []*segment
	if !p.bigCacheOn() {
		for s := heap.big.lru.tail; s != nil; s = heap.big.lru.tail {
			heap.big.evict(s)
			heap.dropLarge(s)
			unmap = append(unmap, s)
		}
	}
	for heap.cache.n > p.segmentCache {
		s := heap.cache.tail
		heap.cache.remove(s)
		heap.unmapSegment(s)
		heap.segEvicted++
	}
	for _, s := range unmap {
		osUnmap(s.base, s.largeSize)
		freeSegment(s)
	}
	heap.mu.Unlock()
	if old != nil && old.mode != p.mode {
		p.logAttrs(debugMinimal, "mode change", slog.String("from", old.mode.String()), slog.String("to", p.mode.String()))
	}
	if old == nil || old.learn != p.learn {
		applyLearnSettings(p.learn)
	}
	if old == nil || old.learning != p.learning {
		capSetMode(p.learning) // off restores the generated per-P caps (caplearn.go)
	}
}

// Setting is one effective option, as Settings reports it.
type Setting struct {
	Name    string // option name, the key of Config.Options
	Env     string // its environment variable
	Type    string // "int" or "enum"
	Value   int    // effective value, in Unit
	Text    string // the value for people: the enum name, or the number
	Unit    string
	Default int    // the value with no mode, environment or API
	Source  Source // where Value came from
	Modes   string // the modes that change it, "minimal=0 fast=32", or ""
	Doc     string
}

// Settings returns the effective configuration: the mode first (Name
// "mode", Value the Mode), then every option, with the source of each
// value. It reads the environment if nothing has yet. The memory limit is
// the one in effect (SetMemoryLimit's, with Source "api", when it was
// changed that way).
func Settings() []Setting {
	ensureInit()
	p := cfg()
	out := []Setting{{
		Name: "mode", Env: modeEnv, Type: typeEnum, Value: int(p.mode), Text: p.mode.String(),
		Unit: strings.Join(modeNames[1:], ", "), Default: int(Balanced), Source: p.modeSrc,
		Doc: "The preset of the options below (see the modes table).",
	}}
	for i := range options {
		o := &options[i]
		s := Setting{Name: o.name, Env: o.env, Type: o.typ, Value: p.vals[i], Unit: o.unit,
			Default: o.def, Source: p.srcs[i], Doc: o.doc}
		if o.name == "memory_limit" {
			if lim := memLimit.Load(); lim != p.memLimit && (p.memLimit != memLimitAuto || lim != 0) {
				s.Value, s.Source = int(lim/mib), SourceAPI
			}
		}
		s.Text = o.format(s.Value)
		var ms []string
		for _, m := range modes {
			if v, ok := o.modes[m]; ok {
				ms = append(ms, m.String()+"="+o.format(v))
			}
		}
		s.Modes = strings.Join(ms, " ")
		out = append(out, s)
	}
	return out
}

// optionsMarkdown renders the option table for the README.
func optionsMarkdown() string {
	var b strings.Builder
	b.WriteString("| variable | name | type | default | range | unit | modes | meaning |\n|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| `%s` | mode | enum | balanced | %s | | | The preset of the options below (see Modes); case-insensitive. |\n",
		modeEnv, strings.Join(modeNames[1:], ", "))
	for i := range options {
		o := &options[i]
		var ms []string
		for _, m := range modes {
			if v, ok := o.modes[m]; ok {
				ms = append(ms, m.String()+" "+o.format(v))
			}
		}
		rng := fmt.Sprintf("%d .. %d", o.min, o.max)
		if len(o.words) > 0 {
			rng += ", " + strings.Join(o.wordList(), ", ")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n",
			o.env, o.name, o.typ, o.format(o.def), rng, o.unit, strings.Join(ms, ", "), o.doc)
	}
	return b.String()
}
