package hakmem

import "time"

// learnSettings are the knobs of the learning layer (learn.go, profile.go,
// elo.go, lifecycle.go). They are not options yet: the lead moves them into
// the option table and sets mode from HAKMEM_MODE (Learning and Research:
// learnLive; Fast and Balanced: learnFrozen; Minimal: learnOff). Read by the
// learner under a site's lock and by the sampling hook without one; written
// only by tests and setLearnMode while nothing samples.
type learnSettings struct {
	// mode: learnOff (no sampling, no goroutine; a loaded policy is still
	// applied), learnFrozen (the same: thresholds stay where the default
	// or a loaded policy put them), learnLive (sampling, windows, ELO,
	// lifecycle, one background goroutine).
	mode int
	// sampleEvery: one request in sampleEvery above minLargeThreshold is
	// recorded. A pooled hit is picked by its P's tick and counted with
	// atomic adds, booked at fastHitNs (no clock, no lock); a slow-path
	// request is drawn at random and timed (two
	// clock reads, ~25 ns each on this project's VMs, beside a slow path
	// of hundreds of ns) and recorded under the site's lock. 64 keeps the
	// records well under 1 ns per request, and a 10,000-request window
	// still gets ~156 samples, three times minSamples.
	sampleEvery uint32
	// windowOps and windowNs end a window: whichever comes first, 10,000
	// operations (estimated as samples x sampleEvery) or 2 s, as in
	// hakmem; a window stretches past 2 s until it has minSamples.
	windowOps uint64
	windowNs  int64
	// tickNs is how often the learner goroutine looks at windows closed by
	// time (a window closed by count kicks it). 100 ms: a 2 s window ends
	// at most 5% late.
	tickNs int64
	// kickNs is the shortest time between two kicks of the learner by a
	// full window. Each kick wakes the learner goroutine, a futex wake
	// paid by the allocating thread; a busy site fills a 10,000-request
	// window every few hundred microseconds, and waking the learner that
	// often measured ~4% of a 45 ns operation's time. 2 ms bounds the
	// wakes at 500 a second (about 0.1% of a core); a site busier than
	// 10,000 requests in 2 ms (5M a second) gets windows of 2 ms instead,
	// still 500 a second: learning within 10 windows takes 20 ms.
	kickNs int64

	// initialRating (1500) and eloK (32) are the standard chess values
	// hakmem used: K = 32 moves a rating by at most 32 per game, so about
	// 10 games separate a clearly better strategy by 100 points (a 64%
	// expected score).
	initialRating float64
	eloK          float64
	// epsilon is the exploration share while learning (10%): one window in
	// ten runs a random active strategy instead of the leader.
	epsilon float64
	// minSamples: a window with fewer sampled allocations is not rated
	// (its averages are noise), and a strategy counts as tried only after
	// that many samples (50, as hakmem).
	minSamples uint64
	// drawMargin: a composite score within 0.5 +- drawMargin is a draw
	// (2%: two windows of the same strategy differ by about that much on
	// a quiet machine).
	drawMargin float64
	// Composite weights (sum 1): CPU time in the allocator 40%, page
	// faults (fresh pages mapped, the mmap proxy) 30%, memory held 30%.
	// CPU time is what the program feels on every call, so it leads;
	// faults are CPU time too, but paid later by the toucher and only on
	// fresh mappings, and memory is a cost to the machine rather than to
	// the program: together they weigh more than CPU alone, so a strategy
	// that is a little faster but maps or holds much more loses.
	wCPU, wFaults, wMem float64

	// freezeGain, freezeWindows, minLearnNs: LEARN -> FROZEN once the best
	// strategy's cost improved by less than 1% for 3 windows in a row, every
	// active strategy was tried, and at least minLearnNs passed. hakmem
	// waited 180 s; 20 s (10 windows of 2 s at least) is enough for the
	// five candidates to each get a few windows.
	freezeGain    float64
	freezeWindows int
	minLearnNs    int64
	// degrade, degradeWindows: FROZEN -> LEARN when the cost stays more
	// than 20% above the frozen baseline for 3 windows (one bad window is
	// a GC or a burst, three are a trend).
	degrade        float64
	degradeWindows int
	// shift: FROZEN -> LEARN when the window's size histogram is at total
	// variation distance >= 0.25 from the one learned on (profile.go).
	shift float64
	// canaryEvery: in FROZEN, one window in canaryEvery runs the best
	// challenger (CANARY), so 1/20 = 5% of the site's traffic, by time.
	canaryEvery int
	// canaryBudget bounds what canaries cost: after a challenger lost its
	// canary at cost ratio r (its window against the frozen one), the next
	// canary waits until (r-1)/canaryBudget frozen windows have passed
	// (at least canaryEvery-1, at most maxCanaryWait), so that losing
	// canaries cost at most canaryBudget of the site's allocator time. A
	// fixed 5% of windows on a strategy 8x as costly (a mapping per
	// request where the per-P cache serves in 15 ns) would cost 35%; 1%
	// keeps the check and makes its price noise. 0: no budget, every
	// canaryEvery windows.
	canaryBudget float64
}

// maxCanaryWait is the longest wait between canaries, in frozen windows:
// one hour of 2 s windows, so that even a very costly loser is checked
// again within the hour.
const maxCanaryWait = 1800

// The learning modes, learnOff, learnFrozen and learnLive, are the values
// of HAKMEM_LEARNING (config.go).

// defaultLearnSettings are the values above. mode is learnFrozen: nothing
// samples until a mode asks for learning.
func defaultLearnSettings() learnSettings {
	return learnSettings{
		mode:           learnFrozen,
		sampleEvery:    64,
		windowOps:      10000,
		windowNs:       int64(2 * time.Second),
		tickNs:         int64(100 * time.Millisecond),
		kickNs:         int64(2 * time.Millisecond),
		initialRating:  1500,
		eloK:           32,
		epsilon:        0.10,
		minSamples:     50,
		drawMargin:     0.02,
		wCPU:           0.4,
		wFaults:        0.3,
		wMem:           0.3,
		freezeGain:     0.01,
		freezeWindows:  3,
		minLearnNs:     int64(20 * time.Second),
		degrade:        0.20,
		degradeWindows: 3,
		shift:          0.25,
		canaryEvery:    20,
		canaryBudget:   0.01,
	}
}
