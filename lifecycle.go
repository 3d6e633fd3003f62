package hakmem

import (
	"log/slog"
	"math"
	"sort"
	"sync"
)

// The lifecycle of a site's learning, one state machine per site, built
// so that learning cannot hurt.
//
// The score is the program's throughput: the site's requests per
// CPU-second of the process (siteOps over osProcessCPU; per wall second
// where CPU time cannot be read), measured over a window of windowNs while
// one strategy is in force. It counts everything the program pays for a
// strategy, inside hakmem and after it: the page faults when it touches
// memory the large path returned or purged, cold blocks, the learner's own
// goroutine. A strategy is only ever compared with the incumbent in
// windows interleaved with it (an A/B test: incumbent, challenger,
// incumbent, ...), so that drift and phase changes hit both alike; a pair
// is a challenger window against the mean of the incumbent windows on
// either side of it.
//
// A site learns two dimensions, one after the other: its routing threshold
// (the threshold arms, strats), then, if the incumbent threshold sends at
// least minLargeShare of its sampled requests to the large path and its
// BigCache churned, the BigCache policy of its large blocks (the cache
// arms, carms: default, lean, hold; bigcache.go).
//
//   - LEARN: the incumbent starts as the default (1 MiB, the default cache
//     policy). Once the window has a size histogram, the challengers are
//     listed: one threshold per routing class of the histogram other than
//     the incumbent's (thresholds with no sampled size between them route
//     every request alike: equivalent, profile.go), nearest the incumbent
//     first; in the cache phase the other two policies. Each is tested in
//     turn (abTest) against the incumbent.
//   - A pair is won when the challenger's throughput beats the incumbent's
//     by more than drawMargin (2%), lost when it is under by more; within
//     that band the composite of the old score (time in the allocator,
//     fresh pages, memory held; the HAKMEM_LEARN_WEIGHT_* weights) breaks
//     the tie. The noise of the measure is what the sign test is for: a
//     challenger that is no better wins about half of the pairs.
//   - Adopted: from minPairs (7) pairs on, the one-sided sign test over
//     the pairs rejects "the challenger wins a pair no more often than
//     not" at confidence (95%: P(Bin(n, 1/2) >= wins) <= 0.05: 7 of 7, 8
//     of 9, 9 of 10 or 10 of 12 pairs won), and the median throughput
//     ratio is no worse than 1 - drawMargin. Over all the looks, a
//     challenger no better than the incumbent is adopted with probability
//     0.049 (TestSignTestRule). It becomes the incumbent; the remaining
//     challengers are tested against it.
//   - Rejected: it can no longer reach that confidence within maxPairs
//     (12) pairs: three pairs not won. A clear loser costs three
//     challenger windows. The thresholds beyond it, on the far side from
//     the incumbent, are dropped untested (prune: throughput is taken to
//     be unimodal in the threshold).
//   - LEARN -> FROZEN: every challenger was tested and minLearnNs passed.
//     The incumbent is frozen; the histogram learned on becomes the
//     signature.
//   - LEARN(threshold) -> LEARN(bigcache): the same, when the cache
//     dimension is worth learning.
//   - FROZEN: the incumbent runs; each window is checked for a shift (the
//     histogram) and a degradation (throughput under the baseline).
//   - FROZEN -> CANARY: a check, the same A/B test with the default (a
//     rollback check, while the frozen choice is not the default) or, in
//     turn, the best other arm as the challenger. Checks are spaced so
//     that their measured cost stays within canaryBudget (1%) of the
//     site's throughput: a check of an arm that lost (1-r) of a window's
//     throughput per window waits 2(1-r)/canaryBudget windows, at least
//     canaryEvery-1.
//   - CANARY -> FROZEN: the challenger was rejected.
//   - CANARY -> FROZEN (adopted), or (rollback) when the challenger was
//     the default: it becomes the frozen strategy.
//   - FROZEN -> LEARN (degradation): throughput stayed more than degrade
//     (20%) under the baseline (the mean of the first degradeWindows frozen
//     windows) for degradeWindows (3) windows. Windows in which another
//     site runs a test count for neither.
//   - FROZEN -> LEARN (shift): a window's histogram is at TVD >= shift
//     (0.25) from the signature, beyond the sampling noise (tvdNoise).
//     LEARN starts again from the frozen strategy as the incumbent.
//   - FROZEN -> FROZEN (recalled): the same, but the histogram is within
//     the shift distance of a distribution an earlier episode froze on
//     (the last recallSlots are remembered): that choice is frozen again
//     at once, and the checks guard it like any other.
//
// Only one site runs a test at a time (learner.tester): the throughput is
// the process's, so a second site changing its strategy at the same time
// would move the first one's figures. A window that saw fewer than
// minWindowOps of the site's requests is not rated: it changes nothing.
// ELO ratings move with every pair (a game between the challenger and the
// incumbent) for the leaderboard; they decide nothing.

// learnState is a site's lifecycle state.
type learnState uint8

const (
	stateLearn  learnState = iota // challengers are tested against the incumbent
	stateFrozen                   // the incumbent runs; checks are spaced by the budget
	stateCanary                   // a check: an A/B test of one challenger
)

func (s learnState) String() string {
	switch s {
	case stateLearn:
		return "LEARN"
	case stateFrozen:
		return "FROZEN"
	}
	return "CANARY"
}

// Counted transitions (siteLearn.transitions).
const (
	trLearnFrozen  = iota // every challenger tested
	trFrozenCanary        // a check starts
	trCanaryFrozen        // the check's challenger was rejected
	trCanaryAdopt         // the check's challenger won and is frozen instead
	trDegraded            // FROZEN -> LEARN on degradation
	trShifted             // FROZEN -> LEARN on a distribution shift
	trLearnCache          // LEARN moves from the threshold to the BigCache policy
	trLearnAdopt          // a LEARN test adopted its challenger as the incumbent
	trRollback            // a check adopted the default over the frozen choice
	trRecalled            // FROZEN -> FROZEN on a shift to sizes learned before
	numTransitions
)

// transitionNames name the counted transitions for stats.
var transitionNames = [numTransitions]string{
	"LEARN->FROZEN", "FROZEN->CANARY", "CANARY->FROZEN", "CANARY->FROZEN(adopted)",
	"FROZEN->LEARN(degradation)", "FROZEN->LEARN(shift)", "LEARN(threshold)->LEARN(bigcache)",
	"LEARN(adopted)", "CANARY->FROZEN(rollback)", "FROZEN->FROZEN(recalled)",
}

// transition counts a lifecycle transition of sl and logs it in the
// verbose debug level (Research mode). Caller holds sl.mu.
func (sl *siteLearn) transition(tr int) {
	sl.transitions[tr]++
	cfg().logAttrs(debugVerbose, "learn transition", slog.String("site", sl.site.Name()), slog.String("transition", transitionNames[tr]),
		slog.Int("threshold", int(sl.strats[sl.cur].threshold)), slog.String("bigcache", cachePolicyNames[sl.ccur]))
}

// Cost floors of the composite tie-breaker (compositeScore): a measure
// this small counts as this, so that a baseline of zero faults does not
// make one fault an infinite difference. The floors are one price in three
// units: a per-P pop (cpuFloorNs), the faults that cost as much (a minor
// fault with its page zeroing is about 0.5 us on this project's VMs, 50
// pops: 0.02 per request), and a cache line of memory per request.
const (
	cpuFloorNs   = 10   // ns per request: a per-P pop is a few ns
	faultsFloor  = 0.02 // faults per request: cpuFloorNs / 500 ns per fault
	memFloorByte = 64   // bytes per request: below a cache line is noise
)

// The two dimensions a site learns, one after the other in a LEARN
// episode: the routing threshold (elo.go), then, when the threshold sends
// some of the site's requests to the large path, the BigCache policy of its
// blocks (cachePolicy, bigcache.go). Each has its own arms and ratings.
const (
	dimThreshold = iota // thresholdCandidates
	dimCache            // cachePolicy values
	numDims
)

// dimNames name the dimensions for stats.
var dimNames = [numDims]string{"threshold", "bigcache"}

// minLargeShare is the share of a site's sampled requests that must take
// the large path under its threshold for the BigCache policy to be
// learned: below 5%, the cache policy decides little of the site's cost,
// and windows spent on it would be exploration for nothing. The site's
// BigCache must also have churned in the episode: at least minChurnShare
// of its large requests saw a block evicted by a limit or unmapped by
// decay. A cache that rarely does keeps and hands back the same blocks
// under every policy.
const minLargeShare = 0.05

// minChurnShare: see minLargeShare. 5%: one large request in 20 that the
// cache policy could have served differently.
const minChurnShare = 0.05

// defaultArm is the threshold arm of the default threshold (1 MiB, all
// pooled).
const defaultArm = numStrategies - 1

// siteLearn is the learning state of one site. Created on the site's first
// sample (or by LoadPolicy); its mu guards everything but the immutable
// fields. The sampling hook takes mu for one record; the learner takes it
// to close a window.
type siteLearn struct {
	site *Site // immutable
	sid  int32 // immutable; the site's id, < maxSites

	mu     sync.Mutex                 // guards everything below
	prof   profile                    // the window in progress and the totals
	strats [numStrategies]strategy    // one per candidate threshold, in candidate order
	carms  [numCachePolicies]strategy // one per cachePolicy, in cachePolicy order (threshold 0)
	cur    int                        // threshold arm running now (its threshold is published)
	ccur   int                        // cache arm running now (its policy is published)
	best   int                        // the incumbent threshold arm: frozen, or what LEARN tests against
	cbest  int                        // the incumbent cache arm
	state  learnState                 // lifecycle state
	win    windowClock                // the measurement of the window in progress

	// LEARN
	phase        int      // the dimension being learned: dimThreshold, then dimCache
	cacheLearned bool     // the cache dimension was learned in some episode: checks may try it
	episodeStart int64    // when LEARN began, ns on the learner clock
	episodeHist  sizeHist // histograms of the episode's rated windows: the signature when freezing
	episodeChurn uint64   // the site's BigCache evictions and decays in the episode's rated windows
	episodeWins  int      // rated windows in the episode
	listed       bool     // todo was listed for the phase
	todo         []int    // the phase's challengers not tested yet, in order
	test         abTest   // the A/B test in progress (LEARN, CANARY)

	// FROZEN, CANARY
	signature   sizeHist              // the distribution learned on
	baseSum     float64               // summed throughput of the first baseN frozen windows
	baseN       int                   // windows summed so far
	baseline    float64               // their mean, once baseN == degradeWindows: degradation is checked
	degraded    int                   // rated windows in a row under baseline*(1-degrade)
	frozenRated int                   // rated frozen windows since the last check
	checkWait   int                   // rated frozen windows before the next check; 0: canaryEvery-1
	checks      int                   // checks started since the freeze (they take turns)
	recall      [recallSlots]recalled // what earlier episodes froze on, by signature
	nrecall     int                   // entries recorded; the next one replaces recall[nrecall%recallSlots]
	transitions [numTransitions]uint64
	lostPerWin  [numDims][numArmsMax]float64 // per arm, the throughput its last test lost per challenger window (the check budget)
}

// recallSlots is how many frozen choices a site remembers with the size
// distribution they were learned on: a program whose phases alternate
// between a few distributions relearns each only once.
const recallSlots = 4

// recalled is one remembered frozen choice.
type recalled struct {
	sig        sizeHist
	best, cbst int
	cache      bool // the cache dimension was learned on it
}

// numArmsMax is the larger of the two dimensions' arm counts.
const numArmsMax = max(numStrategies, int(numCachePolicies))

// windowClock is the measurement of a window: the site's requests and
// the process's CPU time at its start and, after the settle time that
// follows a switch of strategy, at the start of its measured part.
type windowClock struct {
	start       int64  // the window's start, learner clock
	measureFrom int64  // when its measured part starts (start + settle after a switch)
	measuring   bool   // the measured part began (ops0, cpu0, t0 are set)
	t0          int64  // when it began, learner clock
	ops0        uint64 // the site's requests then
	cpu0        int64  // the process's CPU time then, ns
	fullOps0    uint64 // the same at the window's start (the settle included)
	fullCPU0    int64
}

// abTest is an A/B test of one challenger against the incumbent: windows
// alternate, incumbent first; each challenger window is paired with the
// incumbent windows on either side of it.
type abTest struct {
	on          bool
	dim, arm    int     // the challenger
	inChal      bool    // the window in progress runs the challenger
	incTput     float64 // the last incumbent window's throughput
	incM        windowMetrics
	chal        windowMetrics // a challenger window awaiting the next incumbent window
	haveChal    bool
	ratios      []float64 // per pair: challenger / mean of the incumbent windows around it
	wins        int       // pairs won
	lost        float64   // the challenger windows' lost throughput, in windows (settle included)
	chalWindows int       // challenger windows in the test
}

// newSiteLearn starts site s (id sid) in LEARN at time t, the incumbent
// being the strategy nearest below its current threshold (the default:
// 1 MiB) and the default cache policy.
func newSiteLearn(s *Site, sid int32, t int64, st *learnSettings) *siteLearn {
	sl := &siteLearn{site: s, sid: sid}
	for i := range sl.strats {
		sl.strats[i] = strategy{threshold: thresholdCandidates[i], rating: st.initialRating}
	}
	for i := range sl.carms {
		sl.carms[i] = strategy{rating: st.initialRating}
	}
	th := siteThreshold(sid)
	sl.cur = 0
	for i, c := range thresholdCandidates {
		if c <= th {
			sl.cur = i
		}
	}
	sl.best = sl.cur
	sl.ccur, sl.cbest = int(cacheDefault), int(cacheDefault)
	sl.episodeStart = t
	sl.prof.start = t
	sl.prof.pages0, sl.prof.fresh0 = learnMaps[sid].pages.Load(), learnFresh.Load()
	_, sl.prof.churn0 = siteCacheState(sid)
	env := learner.env.Load()
	if f := env.faults; f != nil {
		sl.prof.flt0, _ = f()
	}
	sl.beginWindow(t, false, st, env)
	return sl
}

// siteOps is the site's requests so far: every allocation through it,
// counted per P (pcache.sites; the default site, which is not counted
// there, is estimated from its samples). Caller holds sl.mu.
func (sl *siteLearn) siteOps(env *learnEnv, st *learnSettings) uint64 {
	if env.ops != nil {
		return env.ops(sl.sid)
	}
	if sl.sid == 0 {
		n, _ := sl.prof.pending(st)
		return (sl.prof.traffic + n - sl.prof.samples) * uint64(max(st.sampleEvery, 1))
	}
	return siteAllocCount(sl.sid)
}

// processCPU is the process's CPU time now, ns (the environment's).
func processCPU(env *learnEnv) int64 {
	if env.cpu != nil {
		return env.cpu()
	}
	if c, ok := osProcessCPU(); ok {
		return c
	}
	return now()
}

// beginWindow starts a window at t: after a switch of strategy its
// measured part starts settle x windowNs later (the switch's warm-up:
// fresh mappings, empty caches), else now (always now in a manual
// environment: the test, or the acceptance benchmarks with
// learnMeasureAll, decide). Caller holds sl.mu.
func (sl *siteLearn) beginWindow(t int64, switched bool, st *learnSettings, env *learnEnv) {
	sl.win = windowClock{start: t, measureFrom: t, fullOps0: sl.siteOps(env, st), fullCPU0: processCPU(env)}
	if switched && !env.manual {
		sl.win.measureFrom = t + int64(float64(st.windowNs)*st.settle)
	}
	if sl.win.measureFrom <= t {
		sl.beginMeasure(t, env, st)
	}
}

// beginMeasure starts the window's measured part at t. Caller holds sl.mu.
func (sl *siteLearn) beginMeasure(t int64, env *learnEnv, st *learnSettings) {
	sl.win.measuring, sl.win.t0 = true, t
	sl.win.ops0, sl.win.cpu0 = sl.siteOps(env, st), processCPU(env)
}

// measure fills m's throughput figures from the window clock, at the
// window's close. Caller holds sl.mu.
func (sl *siteLearn) measure(m *windowMetrics, env *learnEnv, st *learnSettings) {
	ops, cpu := sl.siteOps(env, st), processCPU(env)
	if d := cpu - sl.win.fullCPU0; d > 0 && ops >= sl.win.fullOps0 {
		m.fullTput = float64(ops-sl.win.fullOps0) / float64(d) * 1e9
	}
	if !sl.win.measuring {
		return
	}
	m.siteOps = ops - min(sl.win.ops0, ops)
	if d := cpu - sl.win.cpu0; d > 0 {
		m.tput = float64(m.siteOps) / float64(d) * 1e9
	}
}

// step closes the window in progress at time t, runs the lifecycle and
// publishes the strategy of the next window.
func (sl *siteLearn) step(t int64, st *learnSettings, env *learnEnv) {
	cached, churn := siteCacheState(sl.sid)
	faults := env.faults
	if faults == nil {
		faults = noFaultCounter
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	m := sl.prof.close(t, sl.sid, cached, churn, sl.cur, sl.ccur, st, faults)
	sl.measure(&m, env, st)
	cur, ccur := sl.cur, sl.ccur
	if m.siteOps >= max(st.minWindowOps, 1) && m.tput > 0 {
		switch sl.state {
		case stateLearn:
			sl.stepLearn(&m, t, st)
		case stateFrozen:
			sl.stepFrozen(&m, t, st)
		case stateCanary:
			sl.stepCanary(&m, st)
		}
	} else {
		sl.prof.unrated++
	}
	sl.publish(st.mode)
	sl.beginWindow(t, cur != sl.cur || ccur != sl.ccur, st, env)
}

// noFaultCounter is learnEnv.faults when none is set (tests): every fresh
// page counts as a fault.
func noFaultCounter() (uint64, bool) { return 0, false }

// publish stores the threshold and the cache policy of the running arms
// where the allocation slow path and the BigCache read them; in learnOff
// the site runs the defaults; a site fixed by SetThreshold keeps its
// threshold and policy. Caller holds sl.mu.
func (sl *siteLearn) publish(mode int) {
	if sl.site.fixed.Load() {
		return // SetThreshold chose for the site
	}
	if mode == learnOff {
		sl.site.setThreshold(0)
		setSiteCachePolicy(sl.sid, cacheDefault)
		return
	}
	sl.site.setThreshold(thresholdCandidates[sl.cur])
	setSiteCachePolicy(sl.sid, cachePolicy(sl.ccur))
}

// arms returns dimension d's arms and a pointer to its arm running now.
func (sl *siteLearn) arms(d int) ([]strategy, *int) {
	if d == dimCache {
		return sl.carms[:], &sl.ccur
	}
	return sl.strats[:], &sl.cur
}

// incumbent returns a pointer to dimension d's incumbent arm.
func (sl *siteLearn) incumbent(d int) *int {
	if d == dimCache {
		return &sl.cbest
	}
	return &sl.best
}

// stepLearn handles a rated LEARN window m: the test in progress moves on,
// or the next challenger's test starts, or the phase ends.
func (sl *siteLearn) stepLearn(m *windowMetrics, t int64, st *learnSettings) {
	arms, _ := sl.arms(sl.phase)
	s := &arms[*sl.armRef(sl.phase)]
	s.samples += m.samples
	s.epWindows++
	sl.episodeWins++
	for i := range m.hist {
		sl.episodeHist[i] += m.hist[i]
	}
	sl.episodeChurn += m.churn
	if sl.test.on {
		switch sl.testStep(m, st) {
		case verdictAdopt:
			*sl.incumbent(sl.test.dim) = sl.test.arm
			sl.endTest()
			sl.transition(trLearnAdopt)
			// m ran the old incumbent: the next test starts from a
			// window of the new one.
			return
		case verdictReject:
			arms[sl.test.arm].retired = true
			sl.prune(sl.test.dim, sl.test.arm)
			sl.endTest()
		default:
			return
		}
	}
	if !sl.listed {
		var n uint64
		for _, c := range sl.episodeHist {
			n += c
		}
		if n == 0 || sl.episodeWins < 2 {
			// No sampled size yet: nothing tells the routings apart. And
			// the episode's first window is not a test's "before": it
			// holds the warm-up of the site (or of the shift).
			return
		}
		sl.todo, sl.listed = sl.challengers(sl.phase), true
	}
	if len(sl.todo) > 0 {
		if acquireTester(sl.sid) {
			c := sl.todo[0]
			sl.todo = sl.todo[1:]
			sl.startTest(sl.phase, c, m)
		}
		return
	}
	if t-sl.episodeStart < st.minLearnNs {
		return // the incumbent runs until the minimum learning time
	}
	if sl.phase == dimThreshold && sl.cacheWorth(sl.best, st) {
		sl.enterPhase(dimCache)
		sl.transition(trLearnCache)
		return
	}
	if sl.phase == dimCache {
		sl.cacheLearned = true
	}
	sl.freeze(sl.best, sl.cbest)
	sl.transition(trLearnFrozen)
}

// armRef is a pointer to dimension d's arm running now.
func (sl *siteLearn) armRef(d int) *int {
	_, p := sl.arms(d)
	return p
}

// cacheWorth reports whether the cache dimension is worth learning under
// threshold arm i: enough of the requests take the large path, and the
// BigCache churned.
func (sl *siteLearn) cacheWorth(i int, st *learnSettings) bool {
	return sl.largeShare(i) >= minLargeShare && sl.churnShare(i, st) >= minChurnShare
}

// challengers lists dimension d's challengers of the incumbent: for the
// threshold, one arm per routing class of the episode's histogram other
// than the incumbent's (the largest threshold of the class), nearest the
// incumbent first; for the cache, the other policies, hold first.
func (sl *siteLearn) challengers(d int) []int {
	var out []int
	if d == dimCache {
		for _, p := range []cachePolicy{cacheHold, cacheLean, cacheDefault} {
			if int(p) != sl.cbest {
				out = append(out, int(p))
			}
		}
		return out
	}
	h := &sl.episodeHist
	var reps []int
	for i := numStrategies - 1; i >= 0; i-- {
		if equivalent(i, sl.best, h) {
			continue
		}
		dup := false
		for _, r := range reps {
			if equivalent(i, r, h) {
				dup = true
			}
		}
		if !dup {
			reps = append(reps, i)
		}
	}
	sort.SliceStable(reps, func(a, b int) bool {
		return absInt(reps[a]-sl.best) < absInt(reps[b]-sl.best)
	})
	return reps
}

// prune drops from the challengers to test the thresholds beyond arm r,
// rejected, on the far side from the incumbent: throughput is taken to
// be unimodal in the threshold, so if sending the sizes between the
// incumbent and r to the other path lost, sending even more that way
// loses too. A losing challenger is the costly part of learning (a site
// that touches every page of 32 blocks of up to 2 MiB ran its 64 KiB
// threshold at a sixth of the default's throughput), and this tests one
// instead of four. The cache policies are not pruned.
func (sl *siteLearn) prune(d, r int) {
	if d != dimThreshold {
		return
	}
	up := r > sl.best
	kept := sl.todo[:0]
	for _, c := range sl.todo {
		if up && c > r || !up && c < r {
			sl.strats[c].retired = true
			// Its check, if one comes, waits at least as long as r's.
			sl.lostPerWin[d][c] = max(sl.lostPerWin[d][c], sl.lostPerWin[d][r])
			continue
		}
		kept = append(kept, c)
	}
	sl.todo = kept
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// churnShare is the site's BigCache churn in the episode over its large
// requests (estimated: the episode's sampled requests that threshold arm
// i sends to the large path, times sampleEvery).
func (sl *siteLearn) churnShare(i int, st *learnSettings) float64 {
	var n uint64
	for _, c := range sl.episodeHist {
		n += c
	}
	large := sl.largeShare(i) * float64(n) * float64(max(st.sampleEvery, 1))
	if large <= 0 {
		return 0
	}
	return float64(sl.episodeChurn) / large
}

// largeShare is the share of the episode's sampled requests that take the
// large path under threshold arm i: above the threshold, or above maxSmall.
func (sl *siteLearn) largeShare(i int) float64 {
	var all, large uint64
	for b, n := range sl.episodeHist {
		all += n
		if b == numClasses || uintptr(classes[b].size) > thresholdCandidates[i] {
			large += n
		}
	}
	if all == 0 {
		return 0
	}
	return float64(large) / float64(all)
}

// enterPhase starts learning dimension d: its challengers are listed at
// the next rated window, every arm of d active again.
func (sl *siteLearn) enterPhase(d int) {
	sl.endTest()
	sl.phase, sl.listed, sl.todo = d, false, nil
	arms, _ := sl.arms(d)
	for i := range arms {
		arms[i].retired, arms[i].epWindows = false, 0
	}
}

// The outcomes of an A/B test after a pair (testStep).
const (
	verdictNone   = iota // more pairs
	verdictAdopt         // the challenger wins with the stated confidence
	verdictReject        // it cannot any more within maxPairs
)

// startTest starts the A/B test of arm c of dimension d against the
// incumbent; m is the incumbent window that just closed (the first
// pair's "before"). The next window runs the challenger. Caller holds the
// tester token.
func (sl *siteLearn) startTest(d, c int, m *windowMetrics) {
	sl.test = abTest{on: true, dim: d, arm: c, inChal: true, incTput: m.tput, incM: *m}
	*sl.armRef(d) = c
}

// endTest ends the test in progress, if any: the incumbents run again and
// the tester token is given back.
func (sl *siteLearn) endTest() {
	if sl.test.on {
		sl.test = abTest{}
	}
	sl.cur, sl.ccur = sl.best, sl.cbest
	releaseTester(sl.sid)
}

// testStep adds window m to the test in progress and returns its verdict.
// A challenger window waits for the next incumbent window; an incumbent
// window closes the pair (the challenger against the mean of the
// incumbent windows around it) and sets up the next one.
func (sl *siteLearn) testStep(m *windowMetrics, st *learnSettings) int {
	ts := &sl.test
	if ts.inChal {
		ts.chal, ts.haveChal, ts.inChal = *m, true, false
		ts.chalWindows++
		*sl.armRef(ts.dim) = *sl.incumbent(ts.dim)
		return verdictNone
	}
	v := verdictNone
	if ts.haveChal {
		ref := (ts.incTput + m.tput) / 2
		r := ts.chal.tput / ref
		ts.ratios = append(ts.ratios, r)
		ts.lost += max(0, 1-ts.chal.fullTput/ref)
		if m.fullTput > 0 { // the incumbent's own settle after the challenger
			ts.lost += max(0, 1-m.fullTput/m.tput)
		}
		inc := ts.incM
		inc.add(m)
		inc.scale(0.5)
		res := pairResult(r, compositeScore(&ts.chal, &inc, st), st)
		arms, _ := sl.arms(ts.dim)
		play(&arms[ts.arm], &arms[*sl.incumbent(ts.dim)], res, st.eloK)
		if res == 1 {
			ts.wins++
		}
		ts.haveChal = false
		v = testVerdict(ts.wins, len(ts.ratios), median(ts.ratios), st)
		if v != verdictNone {
			lost := ts.lost / float64(max(ts.chalWindows, 1))
			arms, _ := sl.arms(ts.dim)
			for j := range arms { // the arm's routing class lost it
				if j == ts.arm || ts.dim == dimThreshold && equivalent(j, ts.arm, &sl.episodeHist) {
					sl.lostPerWin[ts.dim][j] = lost
				}
			}
			if v == verdictAdopt {
				// The incumbent it replaces now costs what it lost
				// against it: its next check waits by that.
				sl.lostPerWin[ts.dim][*sl.incumbent(ts.dim)] = max(0, 1-1/median(ts.ratios))
			}
			return v
		}
	}
	ts.incTput, ts.incM, ts.inChal = m.tput, *m, true
	*sl.armRef(ts.dim) = ts.arm
	return v
}

// pairResult is a pair's game result for the challenger (1 win, 0.5 draw,
// 0 loss): its throughput ratio r against the incumbent decides when it
// is beyond 1 +- drawMargin; within that band the composite score (time
// in the allocator, faults, memory) breaks the tie.
func pairResult(r, composite float64, st *learnSettings) float64 {
	switch {
	case r > 1+st.drawMargin:
		return 1
	case r < 1-st.drawMargin:
		return 0
	}
	return gameResult(composite, st.drawMargin)
}

// testVerdict is the verdict of a test with wins pairs won out of n and a
// median throughput ratio med: from minPairs pairs on, adopt when the
// one-sided sign test rejects "wins no more often than not" at the
// configured confidence and med is no worse than 1 - drawMargin; reject
// when even winning every pair left within maxPairs could not reach that
// confidence.
func testVerdict(wins, n int, med float64, st *learnSettings) int {
	alpha := 1 - st.confidence
	if n >= st.minPairs && signP(wins, n) <= alpha && med >= 1-st.drawMargin {
		return verdictAdopt
	}
	if n >= st.maxPairs || signP(wins+st.maxPairs-n, st.maxPairs) > alpha {
		return verdictReject
	}
	return verdictNone
}

// signP is the one-sided sign test's p-value: P(X >= k) for X binomial
// (n, 1/2), the chance that a challenger no better than the incumbent wins
// k or more of n pairs.
func signP(k, n int) float64 {
	if k <= 0 {
		return 1
	}
	p := 0.0
	for i := k; i <= n; i++ {
		p += binom(n, i)
	}
	return p / math.Pow(2, float64(n))
}

// binom is n choose k.
func binom(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

// median of xs (0 when empty); xs is not changed.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// freeze enters FROZEN on threshold arm b and cache arm c. The first
// check waits by the budget as if its challenger had just lost its LEARN
// test at the cost measured there.
func (sl *siteLearn) freeze(b, c int) {
	sl.endTest()
	sl.state, sl.best, sl.cur, sl.cbest, sl.ccur = stateFrozen, b, b, c, c
	sl.signature = sl.episodeHist
	sl.remember()
	sl.newBaseline()
	sl.checks = 0
	sl.checkWait = 0
	if d, ch := sl.checkChallenger(); ch >= 0 {
		sl.checkWait = checkWaitFor(sl.lostPerWin[d][ch], learner.st.Load())
	}
}

// remember records the frozen choice with its signature, replacing the
// entry of a signature within the shift distance of it, else the oldest.
// Caller holds sl.mu.
func (sl *siteLearn) remember() {
	st := learner.st.Load()
	e := recalled{sig: sl.signature, best: sl.best, cbst: sl.cbest, cache: sl.cacheLearned}
	for i := range min(sl.nrecall, recallSlots) {
		if tvd(&sl.recall[i].sig, &sl.signature) < st.shift {
			sl.recall[i] = e
			return
		}
	}
	sl.recall[sl.nrecall%recallSlots] = e
	sl.nrecall++
}

// recallFor looks for a remembered choice whose signature window m's
// histogram is within the shift distance of: a distribution learned
// before. Found, it is frozen again at once, with a new baseline, and
// true returned; the checks guard it as any frozen choice. Caller holds
// sl.mu.
func (sl *siteLearn) recallFor(m *windowMetrics, st *learnSettings) bool {
	for i := range min(sl.nrecall, recallSlots) {
		e := &sl.recall[i]
		if tvd(&m.hist, &e.sig) < st.shift {
			sl.best, sl.cur, sl.cbest, sl.ccur = e.best, e.best, e.cbst, e.cbst
			sl.signature, sl.cacheLearned = e.sig, e.cache
			sl.newBaseline()
			sl.checks, sl.checkWait = 0, 0
			return true
		}
	}
	return false
}

// newBaseline forgets the frozen baseline: the next degradeWindows rated
// frozen windows make the new one.
func (sl *siteLearn) newBaseline() {
	sl.baseSum, sl.baseN, sl.baseline = 0, 0, 0
	sl.degraded, sl.frozenRated = 0, 0
}

// relearn enters LEARN at time t on the threshold dimension, the frozen
// strategy being the incumbent.
func (sl *siteLearn) relearn(t int64) {
	sl.endTest()
	sl.state = stateLearn
	sl.episodeStart = t
	sl.episodeHist, sl.episodeChurn, sl.episodeWins = sizeHist{}, 0, 0
	sl.enterPhase(dimCache) // forget the cache arms' episode too
	sl.enterPhase(dimThreshold)
}

// stepFrozen handles a rated FROZEN window m: shift, degradation, check.
func (sl *siteLearn) stepFrozen(m *windowMetrics, t int64, st *learnSettings) {
	sl.strats[sl.cur].samples += m.samples
	if tvd(&m.hist, &sl.signature)-tvdNoise(&m.hist, &sl.signature, m.draws) >= st.shift {
		if sl.recallFor(m, st) {
			sl.transition(trRecalled)
			return
		}
		sl.transition(trShifted)
		sl.relearn(t)
		// The window that showed the shift ran the frozen arms on the new
		// sizes: it is the new episode's first.
		sl.stepLearn(m, t, st)
		return
	}
	if h := learner.tester.Load(); h != 0 && h != sl.sid+1 {
		// Another site is testing: its challenger windows move this
		// site's throughput too (the CPU time is the process's), which
		// is neither a degradation nor a baseline of this site's.
		sl.degraded = 0
	} else if sl.baseline == 0 {
		// The baseline is the mean of several windows: one window's
		// noise (a GC, a burst) would make every later window look
		// degraded or healthy by chance.
		sl.baseSum += m.tput
		sl.baseN++
		if sl.baseN >= max(st.degradeWindows, 1) {
			sl.baseline = sl.baseSum / float64(sl.baseN)
		}
	} else {
		if m.tput < sl.baseline*(1-st.degrade) {
			sl.degraded++
		} else {
			sl.degraded = 0
		}
		if sl.degraded >= st.degradeWindows {
			sl.transition(trDegraded)
			sl.relearn(t)
			return
		}
	}
	sl.frozenRated++
	wait := sl.checkWait
	if wait == 0 {
		wait = st.canaryEvery - 1
	}
	if st.canaryEvery > 1 && sl.frozenRated >= wait {
		if d, c := sl.checkChallenger(); c >= 0 && acquireTester(sl.sid) {
			sl.frozenRated = 0
			sl.checks++
			sl.state = stateCanary
			sl.startTest(d, c, m)
			sl.transition(trFrozenCanary)
		}
	}
}

// checkChallenger is the challenger of the next check, with its
// dimension: in turn, the default threshold and the default cache policy
// while the frozen choice differs from them (rollback checks), and the
// other arm that acts differently (a threshold routing the signature
// otherwise; a cache policy once that dimension was learned and matters)
// whose last test lost least. (dimThreshold, -1) when there is none.
func (sl *siteLearn) checkChallenger() (d, c int) {
	type cand struct{ d, c int }
	var cs []cand
	if sl.best != defaultArm && !equivalent(defaultArm, sl.best, &sl.signature) {
		cs = append(cs, cand{dimThreshold, defaultArm})
	}
	cacheMatters := sl.cacheLearned && sl.largeShare(sl.best) >= minLargeShare
	if cacheMatters && sl.cbest != int(cacheDefault) {
		cs = append(cs, cand{dimCache, int(cacheDefault)})
	}
	// The other arm most worth checking: the one whose last test lost
	// least (untested arms share the loss of their routing class, and
	// pruned ones that of the arm that pruned them), then the better
	// rated.
	better := func(d, i, j int) bool {
		arms, _ := sl.arms(d)
		li, lj := sl.lostPerWin[d][i], sl.lostPerWin[d][j]
		return li < lj || li == lj && arms[i].rating > arms[j].rating
	}
	bt := -1
	for i := range sl.strats {
		if i != sl.best && i != defaultArm && !equivalent(i, sl.best, &sl.signature) &&
			(len(cs) == 0 || !equivalent(i, defaultArm, &sl.signature) || sl.best == defaultArm) &&
			(bt < 0 || better(dimThreshold, i, bt)) {
			bt = i
		}
	}
	if bt >= 0 {
		cs = append(cs, cand{dimThreshold, bt})
	}
	if cacheMatters {
		bc := -1
		for i := range sl.carms {
			if i != sl.cbest && i != int(cacheDefault) && (bc < 0 || better(dimCache, i, bc)) {
				bc = i
			}
		}
		if bc >= 0 {
			cs = append(cs, cand{dimCache, bc})
		}
	}
	if len(cs) == 0 {
		return dimThreshold, -1
	}
	k := cs[sl.checks%len(cs)]
	return k.d, k.c
}

// stepCanary handles a rated CANARY window m: the check's test moves on;
// an adopted challenger becomes the frozen arm of its dimension (a
// rollback when it is the default), a rejected one waits by the budget.
func (sl *siteLearn) stepCanary(m *windowMetrics, st *learnSettings) {
	arms, _ := sl.arms(sl.test.dim)
	arms[sl.test.arm].samples += m.samples
	d, c := sl.test.dim, sl.test.arm
	switch sl.testStep(m, st) {
	case verdictAdopt:
		*sl.incumbent(d) = c
		if d == dimThreshold && c == defaultArm || d == dimCache && c == int(cacheDefault) {
			sl.transition(trRollback)
		} else {
			sl.transition(trCanaryAdopt)
		}
		sl.endTest()
		sl.state = stateFrozen
		sl.newBaseline()
		sl.checkWait = 0
	case verdictReject:
		sl.transition(trCanaryFrozen)
		sl.endTest()
		sl.state = stateFrozen
		sl.checkWait = checkWaitFor(sl.lostPerWin[d][c], st)
	}
}

// checkWaitFor is how many frozen windows to wait before a check whose
// challenger lost lost of a window's throughput per challenger window in
// its last test: a losing check runs about two challenger windows, so
// 2 lost / canaryBudget windows keep the checks' cost within the budget;
// at least canaryEvery-1 and at most maxCanaryWait.
func checkWaitFor(lost float64, st *learnSettings) int {
	w := float64(st.canaryEvery - 1)
	if st.canaryBudget > 0 && lost > 0 {
		w = max(w, math.Ceil(2*lost/st.canaryBudget))
	}
	return int(min(w, maxCanaryWait))
}

// The tester token: only one site runs an A/B test at a time (the
// throughput measured is the process's). learner.tester holds the site
// id + 1 of the holder, 0 when free.

// acquireTester takes the token for site sid, or reports that another
// site holds it.
func acquireTester(sid int32) bool {
	return learner.tester.CompareAndSwap(0, sid+1) || learner.tester.Load() == sid+1
}

// releaseTester gives the token back if site sid holds it.
func releaseTester(sid int32) { learner.tester.CompareAndSwap(sid+1, 0) }
