package learn

import "time"

// The learning modes, the values of the learning option (HAKMEM_LEARNING).
const (
	Off    = 0 // no profiles, no decisions: every site uses the defaults
	Frozen = 1 // apply what was learned, learn nothing new
	Live   = 2 // learn and apply
)

// Settings are the knobs of the learning layer: the site learner (the
// lifecycle, Machine) and the capacity learner (Caps). The options in
// Options set some of them; the others are constants of the design, each
// with its reason. The engine reads them from an immutable copy: replaced
// whole, never written in place.
type Settings struct {
	// Mode: Off (no sampling, no goroutine; a loaded policy is still
	// applied), Frozen (the same: thresholds stay where the default or a
	// loaded policy put them), Live (sampling, windows, ELO, lifecycle,
	// one background goroutine).
	Mode int
	// SampleEvery: one request in SampleEvery above the smallest routing
	// threshold is recorded, for the size histogram (the routing classes,
	// the shift check), the lifetimes and the composite tie-breaker. A
	// pooled hit is picked by its P's tick and counted with atomic adds,
	// booked at a fixed cost (no clock, no lock); a slow-path request is
	// drawn at random and timed (two clock reads, ~25 ns each on this
	// project's VMs, beside a slow path of hundreds of ns) and recorded
	// under the site's lock. 64 keeps the records well under 1 ns per
	// request.
	SampleEvery uint32
	// WindowNs is the measured part of a window: the site's requests per
	// CPU-second of the process are counted over it. 100 ms is long
	// against the getrusage resolution (1 us) and the scheduler's time
	// slices, holds a few hundred requests even of a site that touches a
	// megabyte per request (~1,000 a second), and lets an A/B test of 5 to
	// 8 pairs end within 1-2 s.
	WindowNs int64
	// Settle is the share of WindowNs that a window waits after a switch
	// of strategy before its measured part starts (20%: 20 ms): the
	// switch's warm-up (fresh mappings, the blocks of the other routing
	// coming back) is a one-off cost of trying, not of the strategy. It is
	// still counted in the cost of checks (Metrics.FullTput).
	Settle float64
	// MinWindowOps: a window lasts until the site made this many requests
	// in its measured part (at most MaxWindowStretch windows; a window
	// closed with fewer is not rated). 50: two bursts of 24 blocks of a
	// site that touches a megabyte per request (~1,000 requests a
	// CPU-second, a few hundred a second on a loaded machine); more makes
	// each of its windows under a losing challenger last seconds.
	MinWindowOps uint64
	// TickNs is the longest the learner goroutine sleeps: it wakes at the
	// next window's end or settle, at most TickNs later.
	TickNs int64

	// InitialRating (1500) and EloK (32) are the standard chess values
	// hakmem used: K = 32 moves a rating by at most 32 per game, so about
	// 10 games separate a clearly better strategy by 100 points (a 64%
	// expected score).
	InitialRating float64
	EloK          float64
	// Confidence is the confidence an A/B test needs to adopt a challenger
	// (95%): the one-sided sign test over its pairs rejects "it wins a
	// pair no more often than not" at 1-Confidence, looked at after every
	// pair from MinPairs (7) on. MaxPairs (12) bounds a test: at 95%, 7 of
	// 7, 8 of 9, 9 of 10 or 10 of 12 pairs won adopt, and a challenger
	// that failed to win 3 pairs is rejected. Over all the looks, a
	// challenger no better than the incumbent is adopted with probability
	// 0.049, one that wins 9 pairs in 10 with 0.92 (TestSignTestRule). One
	// lost pair in 12 is tolerated and two are for a challenger far enough
	// along: a single disturbed window (a GC, another process) does not
	// reject a clear winner.
	Confidence float64
	MinPairs   int
	MaxPairs   int
	// DrawMargin: a pair is won only by a throughput ratio above
	// 1 + DrawMargin, and a challenger whose median ratio is below
	// 1 - DrawMargin is never adopted (2%: two windows of the same
	// strategy differ by about that much on a quiet machine). Within the
	// band the composite decides, with the same margin around 0.5.
	DrawMargin float64
	// AbortRatio: a pair whose throughput ratio is under AbortRatio
	// rejects a challenger that has won no pair yet at once, without the
	// two more pairs a loser otherwise runs (0.5: the challenger window
	// ran at under half the incumbent's throughput). The costly tests are of such arms: a
	// threshold that sends a site's touched blocks to the large path ran
	// at a tenth of the default (two-sites' burst site) down to a
	// seventieth (phases-ring-burst's bursts at 256 KiB), so each more
	// window of them costs nearly a whole window of the program. Two
	// windows of one strategy differ by a few percent on a quiet machine,
	// but by up to 2x where a test's harm outlasts it (two-sites): a
	// winner rejected by such a window is tried again only by a check.
	// It only ever rejects, so the sign test's bound on false adoptions
	// holds.
	AbortRatio float64
	// Composite weights of the tie-breaker, normalised: a pair whose
	// throughput ratio is within the draw band is decided by the composite
	// of sampled CPU time in the allocator, page faults (fresh pages
	// mapped) and memory held, so that between two strategies the program
	// cannot tell apart the one that maps and holds less wins. They score
	// nothing else: the time in the allocator and the fresh mappings miss
	// what a strategy costs the program afterwards.
	WCPU, WFaults, WMem float64

	// FreezeWindows: DegradeWindows' twin, set by the same option (kept
	// for the policy of HAKMEM_LEARN_CONFIRM). MinLearnNs: LEARN -> FROZEN
	// not before MinLearnNs since the episode began, every challenger
	// tested (the incumbent runs meanwhile).
	FreezeWindows int
	MinLearnNs    int64
	// Degrade, DegradeWindows: a degradation alarm when the throughput stays
	// more than Degrade under the frozen baseline for DegradeWindows
	// windows (one bad window is a GC or a burst, three are a trend). It
	// starts a rollback check (the default against the frozen choice) at
	// once, unless the site is frozen on the default: an alarm never
	// re-learns every arm, so one set off by noise costs at most one test
	// whose challenger is the default.
	Degrade        float64
	DegradeWindows int
	// Shift: FROZEN -> LEARN when two windows in a row have size
	// histograms at total variation distance >= Shift from the one learned
	// on (TVD), the second near no distribution learned before.
	Shift float64
	// CanaryEvery: in FROZEN, a check (CANARY: an A/B test of the default
	// or the best other arm against the frozen one) starts at most every
	// CanaryEvery-1 rated windows.
	CanaryEvery int
	// CanaryBudget bounds what checks cost: a check of an arm whose last
	// test lost l of a window's throughput per challenger window waits
	// 2l/CanaryBudget frozen windows (a losing check runs about two
	// challenger windows; at least CanaryEvery-1, at most MaxCanaryWait),
	// so that checks cost at most CanaryBudget of the site's throughput.
	// 0: no budget, every CanaryEvery windows.
	CanaryBudget float64

	// CapTarget is the capacity learner's per-class capacity hit rate to
	// reach, 0 .. 1; CapBudget the least budget of the learned per-P caps,
	// bytes (Caps).
	CapTarget float64
	CapBudget int64
}

// MaxWindowStretch bounds a quiet site's window: WindowNs times this.
const MaxWindowStretch = 20

// MaxCanaryWait is the longest wait between canaries, in frozen windows:
// one hour of 100 ms windows, so that even a very costly loser is checked
// again within the hour.
const MaxCanaryWait = 36000

// Defaults returns the settings with every option at its default (Options)
// and the design constants. Mode is Frozen: nothing samples until a mode
// asks for learning.
func Defaults() Settings {
	s := Settings{
		Settle:        0.2,
		TickNs:        int64(100 * time.Millisecond),
		InitialRating: 1500,
		EloK:          32,
		MinPairs:      7,
		DrawMargin:    0.02,
		AbortRatio:    0.5,
	}
	for i := range Options {
		Options[i].Set(&s, Options[i].Def)
	}
	return s
}

const (
	ms  = int64(time.Millisecond)
	mib = 1 << 20
)

// Option is one learning option: the engine's option table (config.go in
// the root package) takes these rows as they are, in this order around its
// own, and stores a value with Set.
type Option struct {
	Name     string   // Settings key, e.g. "learn_sample"
	Env      string   // environment variable
	Enum     []string // an enum option: the name of each value (index = value); nil for an integer
	Def      int      // default
	Min, Max int      // accepted range, inclusive
	Unit     string
	Doc      string // what it does, its unit and bounds
	Set      func(s *Settings, v int)
}

// Options are the learning options, in the order the option table lists
// them: a table, its rows alike in shape by design. The figures behind
// the defaults are in docs/BENCHMARKS.md.
var Options = []Option{
	{
		Name: "learning", Env: "HAKMEM_LEARNING", Enum: []string{"off", "frozen", "live"}, Def: Frozen, Min: Off, Max: Live, Unit: "0 off, 1 frozen, 2 live",
		Doc: "Learning layer and per-class per-P cache capacity learner: off uses the defaults for every site and the generated per-P caps; frozen applies what was learned or loaded (LoadPolicy: thresholds, BigCache policies, caps); live samples named sites' large requests, learns and applies, and adjusts the per-P caps from the refills and flushes the slow paths count.",
		Set: func(s *Settings, v int) { s.Mode = v },
	},
	{
		Name: "learn_sample", Env: "HAKMEM_LEARN_SAMPLE", Def: 64, Min: 1, Max: 1 << 16, Unit: "requests",
		Doc: "Learning: one request above 64 KiB in N through a named site is profiled (pooled hits picked by a per-P tick, slow paths drawn and timed).",
		Set: func(s *Settings, v int) { s.SampleEvery = uint32(v) },
	},
	{
		Name: "learn_window_ops", Env: "HAKMEM_LEARN_WINDOW_OPS", Def: 50, Min: 1, Max: 1 << 30, Unit: "requests",
		Doc: "Learning: a window lasts until the site made this many requests in it (at most 20 times HAKMEM_LEARN_WINDOW_MS; a window with fewer is not rated).",
		Set: func(s *Settings, v int) { s.MinWindowOps = uint64(v) },
	},
	{
		Name: "learn_window_ms", Env: "HAKMEM_LEARN_WINDOW_MS", Def: 100, Min: 10, Max: 1 << 30, Unit: "ms",
		Doc: "Learning: a window's measured part: the site's requests per CPU-second of the process are counted over it while one strategy is in force (after a switch the window first waits a fifth of this).",
		Set: func(s *Settings, v int) { s.WindowNs = int64(v) * ms },
	},
	{
		Name: "learn_confidence", Env: "HAKMEM_LEARN_CONFIDENCE", Def: 95, Min: 50, Max: 99, Unit: "percent",
		Doc: "Learning: a challenger replaces the incumbent only when a one-sided sign test over its A/B window pairs (challenger window against the incumbent windows around it) says it wins more often than not at this confidence; else the incumbent (the default first) stays.",
		Set: func(s *Settings, v int) { s.Confidence = float64(v) / 100 },
	},
	{
		Name: "learn_pairs", Env: "HAKMEM_LEARN_PAIRS", Def: 12, Min: 7, Max: 64, Unit: "pairs",
		Doc: "Learning: the most A/B window pairs a test runs (adoption is looked at from 7 pairs on); a challenger that can no longer reach HAKMEM_LEARN_CONFIDENCE within them is rejected.",
		Set: func(s *Settings, v int) { s.MaxPairs = v },
	},
	{
		Name: "learn_weight_cpu", Env: "HAKMEM_LEARN_WEIGHT_CPU", Def: 40, Min: 0, Max: 100, Unit: "percent",
		Doc: "Learning: weight of sampled time spent in the allocator in the composite that breaks a tie (a pair whose throughput ratio is within the noise); the three weights are normalised.",
		Set: func(s *Settings, v int) { s.WCPU = float64(v) / 100 },
	},
	{
		Name: "learn_weight_faults", Env: "HAKMEM_LEARN_WEIGHT_FAULTS", Def: 30, Min: 0, Max: 100, Unit: "percent",
		Doc: "Learning: weight of fresh pages mapped (page faults, mmap calls) in the tie-breaking composite.",
		Set: func(s *Settings, v int) { s.WFaults = float64(v) / 100 },
	},
	{
		Name: "learn_weight_memory", Env: "HAKMEM_LEARN_WEIGHT_MEMORY", Def: 30, Min: 0, Max: 100, Unit: "percent",
		Doc: "Learning: weight of memory held (rounding waste and cached bytes) in the tie-breaking composite.",
		Set: func(s *Settings, v int) { s.WMem = float64(v) / 100 },
	},
	{
		Name: "learn_confirm", Env: "HAKMEM_LEARN_CONFIRM", Def: 3, Min: 1, Max: 1000, Unit: "windows",
		Doc: "Learning: how many windows in a row under the frozen baseline confirm a degradation (HAKMEM_LEARN_DEGRADE), which starts a rollback check of the default.",
		Set: func(s *Settings, v int) { s.FreezeWindows, s.DegradeWindows = v, v },
	},
	{
		Name: "learn_min_ms", Env: "HAKMEM_LEARN_MIN_MS", Def: 20000, Min: 0, Max: 1 << 30, Unit: "ms",
		Doc: "Learning: the shortest time a site learns before it may freeze (the incumbent runs once every challenger was tested).",
		Set: func(s *Settings, v int) { s.MinLearnNs = int64(v) * ms },
	},
	{
		Name: "learn_canary", Env: "HAKMEM_LEARN_CANARY", Def: 5, Min: 1, Max: 100, Unit: "percent",
		Doc: "Learning: a FROZEN site starts a check (CANARY: an A/B test of the default, or of the best other strategy, against the frozen one) at most once in 100/this windows.",
		Set: func(s *Settings, v int) { s.CanaryEvery = max(1, 100/v) },
	},
	{
		Name: "learn_canary_budget", Env: "HAKMEM_LEARN_CANARY_BUDGET", Def: 10, Min: 0, Max: 1000, Unit: "permille",
		Doc: "Learning: checks are spaced by the throughput their challenger lost in its last test, so that they cost at most this share of the site's throughput (0: every 100/HAKMEM_LEARN_CANARY windows).",
		Set: func(s *Settings, v int) { s.CanaryBudget = float64(v) / 1000 },
	},
	{
		Name: "learn_degrade", Env: "HAKMEM_LEARN_DEGRADE", Def: 20, Min: 1, Max: 1000, Unit: "percent",
		Doc: "Learning: a degradation, when the site's throughput per CPU-second stays this much under the frozen baseline for HAKMEM_LEARN_CONFIRM windows: a site frozen on another choice than the default checks the default at once (an A/B test, rolled back if it wins); one frozen on the default only takes a new baseline.",
		Set: func(s *Settings, v int) { s.Degrade = float64(v) / 100 },
	},
	{
		Name: "learn_shift", Env: "HAKMEM_LEARN_SHIFT", Def: 25, Min: 1, Max: 100, Unit: "percent",
		Doc: "Learning: FROZEN -> LEARN when the site's size distribution moves this far (total variation distance between size-class histograms) in two windows in a row; a distribution learned before takes back the choice frozen on it at once.",
		Set: func(s *Settings, v int) { s.Shift = float64(v) / 100 },
	},
	{
		Name: "cap_target", Env: "HAKMEM_CAP_TARGET", Def: 98, Min: 50, Max: 100, Unit: "percent",
		Doc: "Capacity learner (adjusts only while HAKMEM_LEARNING is live; frozen keeps its caps, off restores the generated ones): a size class whose per-P hit rate, counting only misses a bigger cap would save (a P refilling and flushing the class in one window), stays under this gets its per-P cap doubled.",
		Set: func(s *Settings, v int) { s.CapTarget = float64(v) / 100 },
	},
	{
		Name: "cap_budget_mb", Env: "HAKMEM_CAP_BUDGET_MB", Def: 16, Min: 0, Max: 1 << 20, Unit: "MiB",
		Doc: "Capacity learner: what raised per-P caps may hold beyond the generated ones, every P's list full, is at most this or 1/8 of mapped memory, whichever is larger (over it, the classes reserving most are halved first).",
		Set: func(s *Settings, v int) { s.CapBudget = int64(v) * mib },
	},
}

// OptionIndex is the index in Options of the option named name, or -1.
func OptionIndex(name string) int {
	for i := range Options {
		if Options[i].Name == name {
			return i
		}
	}
	return -1
}
