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
	// recorded, for the size histogram (the routing classes, the shift
	// check), the lifetimes and the composite tie-breaker. A pooled hit is
	// picked by its P's tick and counted with atomic adds, booked at
	// fastHitNs (no clock, no lock); a slow-path request is drawn at random
	// and timed (two clock reads, ~25 ns each on this project's VMs, beside
	// a slow path of hundreds of ns) and recorded under the site's lock.
	// 64 keeps the records well under 1 ns per request.
	sampleEvery uint32
	// windowNs is the measured part of a window: the site's requests per
	// CPU-second of the process are counted over it (lifecycle.go). 100 ms
	// is long against the getrusage resolution (1 us) and the scheduler's
	// time slices, holds a few hundred requests even of a site that
	// touches a megabyte per request (~1,000 a second), and lets an A/B
	// test of 5 to 8 pairs end within 1-2 s.
	windowNs int64
	// settle is the share of windowNs that a window waits after a switch
	// of strategy before its measured part starts (20%: 20 ms): the
	// switch's warm-up (fresh mappings, the blocks of the other routing
	// coming back) is a one-off cost of trying, not of the strategy. It is
	// still counted in the cost of checks (windowMetrics.fullTput).
	settle float64
	// minWindowOps: a window lasts until the site made this many
	// requests in its measured part (at most maxWindowStretch windowNs;
	// a window closed with fewer is not rated). 50: two bursts of 24
	// blocks of a site that touches a megabyte per request (~1,000
	// requests a CPU-second, a few hundred a second on a loaded machine);
	// more makes each of its windows under a losing challenger last
	// seconds.
	minWindowOps uint64
	// tickNs is the longest the learner goroutine sleeps: it wakes at the
	// next window's end or settle, at most tickNs later.
	tickNs int64

	// initialRating (1500) and eloK (32) are the standard chess values
	// hakmem used: K = 32 moves a rating by at most 32 per game, so about
	// 10 games separate a clearly better strategy by 100 points (a 64%
	// expected score).
	initialRating float64
	eloK          float64
	// confidence is the confidence an A/B test needs to adopt a
	// challenger (95%): the one-sided sign test over its pairs rejects
	// "it wins a pair no more often than not" at 1-confidence, looked at
	// after every pair from minPairs (7) on. maxPairs (12) bounds a test:
	// at 95%, 7 of 7, 8 of 9, 9 of 10 or 10 of 12 pairs won adopt, and a
	// challenger that failed to win 3 pairs is rejected. Over all the
	// looks, a challenger no better than the incumbent is adopted with
	// probability 0.049, one that wins 9 pairs in 10 with 0.92
	// (TestSignTestRule). One lost pair in 12 is tolerated and two are
	// for a challenger far enough along: a single disturbed window (a GC,
	// another process) does not reject a clear winner.
	confidence float64
	minPairs   int
	maxPairs   int
	// drawMargin: a pair is won only by a throughput ratio above
	// 1 + max(drawMargin, the test's measured noise), and a challenger
	// whose median ratio is below 1 - drawMargin is never adopted (2%:
	// two windows of the same strategy differ by about that much on a
	// quiet machine). Within the band the composite decides, with the same
	// margin around 0.5.
	drawMargin float64
	// Composite weights (sum 1) of the tie-breaker: a pair whose
	// throughput ratio is within the noise band is decided by the
	// composite of sampled CPU time in the allocator (40%), page faults
	// (fresh pages mapped, 30%) and memory held (30%), so that between two
	// strategies the program cannot tell apart the one that maps and holds
	// less wins. They no longer score anything else: the time in the
	// allocator and the fresh mappings missed what a strategy costs the
	// program afterwards.
	wCPU, wFaults, wMem float64

	// freezeWindows: degradeWindows' twin, set by the same option (kept
	// for the policy of HAKMEM_LEARN_CONFIRM). minLearnNs: LEARN ->
	// FROZEN not before minLearnNs since the episode began, every
	// challenger tested (the incumbent runs meanwhile). hakmem waited
	// 180 s; 20 s.
	freezeWindows int
	minLearnNs    int64
	// degrade, degradeWindows: FROZEN -> LEARN when the throughput stays
	// more than 20% under the frozen baseline for 3 windows (one bad window is
	// a GC or a burst, three are a trend).
	degrade        float64
	degradeWindows int
	// shift: FROZEN -> LEARN when the window's size histogram is at total
	// variation distance >= 0.25 from the one learned on (profile.go).
	shift float64
	// canaryEvery: in FROZEN, a check (CANARY: an A/B test of the default
	// or the best other arm against the frozen one) starts at most every
	// canaryEvery-1 rated windows (20: 2 s of 100 ms windows).
	canaryEvery int
	// canaryBudget bounds what checks cost: a check of an arm whose last
	// test lost l of a window's throughput per challenger window waits
	// 2l/canaryBudget frozen windows (a losing check runs about two
	// challenger windows; at least canaryEvery-1, at most maxCanaryWait),
	// so that checks cost at most canaryBudget (1%) of the site's
	// throughput. 0: no budget, every canaryEvery windows.
	canaryBudget float64
}

// maxWindowStretch bounds a quiet site's window: windowNs times this.
const maxWindowStretch = 20

// maxCanaryWait is the longest wait between canaries, in frozen windows:
// one hour of 100 ms windows, so that even a very costly loser is checked
// again within the hour.
const maxCanaryWait = 36000

// The learning modes, learnOff, learnFrozen and learnLive, are the values
// of HAKMEM_LEARNING (config.go).

// defaultLearnSettings are the values above. mode is learnFrozen: nothing
// samples until a mode asks for learning.
func defaultLearnSettings() learnSettings {
	return learnSettings{
		mode:           learnFrozen,
		sampleEvery:    64,
		windowNs:       int64(100 * time.Millisecond),
		settle:         0.2,
		minWindowOps:   50,
		tickNs:         int64(100 * time.Millisecond),
		initialRating:  1500,
		eloK:           32,
		confidence:     0.95,
		minPairs:       7,
		maxPairs:       12,
		drawMargin:     0.02,
		wCPU:           0.4,
		wFaults:        0.3,
		wMem:           0.3,
		freezeWindows:  3,
		minLearnNs:     int64(20 * time.Second),
		degrade:        0.20,
		degradeWindows: 3,
		shift:          0.25,
		canaryEvery:    20,
		canaryBudget:   0.01,
	}
}
