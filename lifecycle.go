package hakmem

import (
	"log/slog"
	"math"
	"sync"
)

// The lifecycle of a site's learning, one state machine per site. A site
// learns two dimensions, one after the other: its routing threshold (the
// threshold arms, strats), then, if the chosen threshold sends at least
// minLargeShare of its sampled requests to the large path, the BigCache
// policy of its large blocks (the cache arms, carms: default, lean, hold;
// bigcache.go). Each dimension is a phase of LEARN with its own arms,
// ratings and freeze rule; the arm of the other dimension stays fixed
// meanwhile. Learning one dimension at a time keeps the arms few (5 and 3,
// not 15 pairs) and the threshold phase as short as before; the two
// interact little (the cache policy only matters for what the threshold
// sends to the large path).
//
//   - LEARN: every window is rated against the one before (elo.go); the next
//     window runs each untried strategy first, then (once the weaker half
//     is retired, after every strategy was tried) each survivor a second
//     time, then the leader, or with probability epsilon a random active
//     strategy that routes differently from it. Strategies are equivalent
//     when no sampled size lies between their thresholds (equivalent,
//     profile.go): they route every request alike, so one window tries
//     them all, they share ratings, and they never play each other.
//   - LEARN -> FROZEN: the best smoothed cost improved on the phase's
//     lowest by less than freezeGain (1%) for freezeWindows (3) rated
//     windows in a row, every active arm ran twice (the first window of an
//     arm pays its warm-up; the second replaces its cost), and minLearnNs
//     passed since LEARN began. The leader is frozen; the histogram learned
//     on is kept as the signature, and the mean of the first
//     degradeWindows frozen windows becomes the baseline.
//   - LEARN(threshold) -> LEARN(bigcache): the same condition in the
//     threshold phase, when the leader sends minLargeShare or more of the
//     sampled requests to the large path: the leader's threshold stays,
//     and the cache arms are learned the same way before FROZEN.
//   - FROZEN: no ratings move; each window is checked against the baseline
//     and the signature.
//   - FROZEN -> CANARY: after canaryEvery-1 frozen windows, one window runs
//     the best challenger (5% of the traffic, by time): a threshold that
//     routes the signature differently, or, once the cache dimension was
//     learned, another cache policy. After a lost canary at cost ratio r the next
//     waits (r-1)/canaryBudget windows (canaryWait), so that losing
//     canaries cost at most canaryBudget (1%) of the site's allocator
//     time. No challenger routes differently: no canary.
//   - CANARY -> FROZEN: the challenger did not win its game against the last
//     frozen window; the incumbent runs again.
//   - CANARY -> FROZEN (adopted): the challenger won; it becomes the frozen
//     strategy, with a new baseline. Learning does not restart: a winning
//     challenger is a better known strategy, not a sign that the workload
//     changed (a shift or a degradation is), and restarting would explore
//     every strategy again, the worst ones included, for nothing.
//   - FROZEN -> LEARN (degradation): the cost stayed above the baseline by
//     more than degrade (20%) for degradeWindows (3) windows.
//   - FROZEN -> LEARN (shift): a window's histogram is at TVD >= shift
//     (0.25) from the signature, beyond the sampling noise (tvdNoise).
//
// A window with fewer than minSamples samples is unrated: it changes no
// state and no strategy. Ratings survive a return to LEARN (they are what
// was learned); the retired arms come back, and each is tried again, the
// threshold first.

// learnState is a site's lifecycle state.
type learnState uint8

const (
	stateLearn  learnState = iota // ratings move, strategies explored
	stateFrozen                   // the leader runs; nothing moves
	stateCanary                   // one window of the best challenger
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
	trLearnFrozen  = iota // improvement under freezeGain for freezeWindows
	trFrozenCanary        // a canary window starts
	trCanaryFrozen        // the challenger lost or drew
	trCanaryAdopt         // the challenger won and is frozen instead
	trDegraded            // FROZEN -> LEARN on degradation
	trShifted             // FROZEN -> LEARN on a distribution shift
	trLearnCache          // LEARN moves from the threshold to the BigCache policy
	numTransitions
)

// transitionNames name the counted transitions for stats.
var transitionNames = [numTransitions]string{
	"LEARN->FROZEN", "FROZEN->CANARY", "CANARY->FROZEN", "CANARY->FROZEN(adopted)",
	"FROZEN->LEARN(degradation)", "FROZEN->LEARN(shift)", "LEARN(threshold)->LEARN(bigcache)",
}

// transition counts a lifecycle transition of sl and logs it in the
// verbose debug level (Research mode). Caller holds sl.mu.
func (sl *siteLearn) transition(tr int) {
	sl.transitions[tr]++
	cfg().logAttrs(debugVerbose, "learn transition", slog.String("site", sl.site.Name()), slog.String("transition", transitionNames[tr]),
		slog.Int("threshold", int(sl.strats[sl.cur].threshold)), slog.String("bigcache", cachePolicyNames[sl.ccur]))
}

// Cost floors (costOf, compositeScore): a measure this small counts as
// this, so that a baseline of zero faults does not make one fault an
// infinite degradation, and a difference below what the cheapest operation
// costs is not a difference. The floors are one price in three units: a
// per-P pop (cpuFloorNs), the faults that cost as much (a minor fault with
// its page zeroing is about 0.5 us on this project's VMs, 50 pops: 0.02
// per request), and a cache line of memory per request.
const (
	cpuFloorNs   = 10   // ns per request: a per-P pop is a few ns
	faultsFloor  = 0.02 // faults per request: cpuFloorNs / 500 ns per fault
	memFloorByte = 64   // bytes per request: below a cache line is noise
)

// costOf is window m's composite cost against reference ref: the weighted
// mean of the three measures' ratios, so ref itself costs 1.
func costOf(m, ref *windowMetrics, st *learnSettings) float64 {
	return weighMeasures(m, ref, st, 1, func(x, r float64) float64 { return x / r })
}

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
	best   int                        // the frozen threshold arm (FROZEN, CANARY)
	cbest  int                        // the frozen cache arm (FROZEN, CANARY)
	state  learnState                 // lifecycle state

	// LEARN
	phase        int           // the dimension being learned: dimThreshold, then dimCache
	cacheLearned bool          // the cache dimension was learned in some episode: canaries may try it
	episodeStart int64         // when LEARN began, ns on the learner clock
	ref          windowMetrics // the phase's first rated window: costs are relative to it
	haveRef      bool          // ref is set
	prev         windowMetrics // the last rated window (what the next one plays against)
	havePrev     bool          // prev is set
	bestCost     float64       // lowest best smoothed cost seen in the phase; 0: none
	calm         int           // rated windows in a row with improvement under freezeGain
	retiredDone  bool          // retireWeakest ran in this phase
	episodeHist  sizeHist      // rated histograms of the episode: the signature when freezing
	episodeChurn uint64        // the site's BigCache evictions and decays in the episode's rated windows

	// FROZEN, CANARY
	signature    sizeHist      // the distribution learned on
	baseline     windowMetrics // the mean of the first degradeWindows rated frozen windows
	baseN        int           // windows summed into baseline so far
	haveBaseline bool          // baseline is complete (baseN == degradeWindows): degradation is checked
	degraded     int           // rated windows in a row above baseline*(1+degrade)
	frozenRated  int           // rated frozen windows since the last canary
	canaryWait   int           // rated frozen windows before the next canary (canaryBudget); 0: canaryEvery-1
	canaryDim    int           // the dimension of the challenger a CANARY runs

	transitions [numTransitions]uint64 // counted transitions
}

// newSiteLearn starts site s (id sid) in LEARN at time t, on the strategy
// nearest below its current threshold and the default cache policy.
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
	if f := learner.env.Load().faults; f != nil {
		sl.prof.flt0, _ = f()
	}
	return sl
}

// step closes the window in progress at time t, runs the lifecycle and
// publishes the strategy of the next window; rnd draws from [0, 1).
func (sl *siteLearn) step(t int64, st *learnSettings, rnd func() float64) {
	cached, churn := siteCacheState(sl.sid)
	faults := learner.env.Load().faults
	if faults == nil {
		faults = noFaultCounter
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	m := sl.prof.close(t, sl.sid, cached, churn, sl.cur, sl.ccur, st, faults)
	if m.samples >= st.minSamples {
		switch sl.state {
		case stateLearn:
			sl.stepLearn(&m, t, st, rnd)
		case stateFrozen:
			sl.stepFrozen(&m, t, st, rnd)
		case stateCanary:
			sl.stepCanary(&m, t, st)
		}
	}
	sl.publish(st.mode)
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

// armOf is the arm of dimension d that ran window m.
func armOf(m *windowMetrics, d int) int {
	if d == dimCache {
		return m.cache
	}
	return m.strategy
}

// equiv reports whether arms i and j of dimension d act alike on the
// requests of h: thresholds with no sampled size between them (equivalent,
// profile.go); cache policies only when they are the same.
func equiv(d, i, j int, h *sizeHist) bool {
	if d == dimCache {
		return i == j
	}
	return equivalent(i, j, h)
}

// stepLearn handles a rated LEARN window m of the phase's dimension: it
// rates the game against the previous window, retires the weaker half once
// all were tried, tracks the improvement, and moves on: the next arm, the
// cache phase, or FROZEN.
func (sl *siteLearn) stepLearn(m *windowMetrics, t int64, st *learnSettings, rnd func() float64) {
	d := sl.phase
	arms, cur := sl.arms(d)
	s := &arms[*cur]
	s.samples += m.samples
	s.epSamples += m.samples
	s.epWindows++
	for i := range m.hist {
		sl.episodeHist[i] += m.hist[i]
	}
	sl.episodeChurn += m.churn
	if !sl.haveRef {
		sl.ref, sl.haveRef = *m, true
	}
	if c := costOf(m, &sl.ref, st); s.cost == 0 || s.epWindows == 2 {
		// The first window of an arm in a phase pays its warm-up (fresh
		// mappings, empty caches): the second replaces it.
		s.cost = c
	} else {
		s.cost = (s.cost + c) / 2 // smoothing: half the weight on the latest window
	}
	h := &sl.episodeHist
	if p := armOf(&sl.prev, d); sl.havePrev && !equiv(d, p, *cur, h) {
		play(s, &arms[p], gameResult(compositeScore(m, &sl.prev, st), st.drawMargin), st.eloK)
		sl.shareRating(p, h)
	}
	sl.shareRating(*cur, h)
	sl.prev, sl.havePrev = *m, true
	tried := sl.allTried(1)
	if tried && !sl.retiredDone {
		sl.retireWeaker(*cur)
		sl.retiredDone = true
	}
	best := 0.0
	for i := range arms {
		if c := arms[i].cost; !arms[i].retired && c > 0 && (best == 0 || c < best) {
			best = c
		}
	}
	// Improvement is measured against the lowest best cost of the phase,
	// not the last window's: a noisy window that is worse and the next
	// that is merely back are no improvement. An arm's second window,
	// which replaces its warm-up cost, is calibration, not improvement.
	if sl.bestCost > 0 {
		if (sl.bestCost-best)/sl.bestCost < st.freezeGain || s.epWindows == 2 {
			sl.calm++
		} else {
			sl.calm = 0
		}
	}
	if sl.bestCost == 0 || best < sl.bestCost {
		sl.bestCost = best
	}
	// One routing: when every threshold routes the sampled sizes alike
	// (all of them above maxSmall, say), there is nothing to compare and
	// the threshold is decided by its first window.
	single := d == dimThreshold && sl.oneRouting()
	if single || sl.allTried(2) && sl.calm >= st.freezeWindows && t-sl.episodeStart >= st.minLearnNs {
		l := leader(arms)
		cacheWorth := sl.largeShare(l) >= minLargeShare && sl.churnShare(l, st) >= minChurnShare
		if single && (!cacheWorth || t-sl.episodeStart < st.minLearnNs) {
			if t-sl.episodeStart >= st.minLearnNs && sl.calm >= st.freezeWindows {
				sl.freeze(l, sl.ccur) // one routing, a cache that never churned: nothing to learn
				sl.transition(trLearnFrozen)
				return
			}
			*cur = l // keep sampling: the cache may churn yet
			return
		}
		if d == dimThreshold && cacheWorth {
			sl.cur = l
			sl.enterPhase(dimCache)
			sl.ccur = sl.next(st, rnd)
			sl.transition(trLearnCache)
			return
		}
		if d == dimCache {
			sl.cacheLearned = true
			sl.freeze(sl.cur, l)
		} else {
			sl.freeze(l, sl.ccur)
		}
		sl.transition(trLearnFrozen)
		return
	}
	*cur = sl.next(st, rnd)
}

// oneRouting reports whether every threshold arm routes the episode's
// sampled requests like every other.
func (sl *siteLearn) oneRouting() bool {
	for i := 1; i < numStrategies; i++ {
		if !equivalent(0, i, &sl.episodeHist) {
			return false
		}
	}
	return true
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

// enterPhase starts learning dimension d: a new reference, no previous
// window to play, every arm of d active and untried.
func (sl *siteLearn) enterPhase(d int) {
	sl.phase = d
	sl.haveRef, sl.havePrev, sl.bestCost, sl.calm, sl.retiredDone = false, false, 0, 0, false
	arms, _ := sl.arms(d)
	for i := range arms {
		arms[i].retired, arms[i].cost, arms[i].epSamples, arms[i].epWindows = false, 0, 0, 0
	}
}

// allTried reports whether every active arm of the phase ran n rated
// windows in it, itself or an equivalent one (after a shift, what was
// tried before says little). One window tries an arm (then the weaker half
// retires); a freeze needs two for every survivor: an arm's first window
// after a switch pays its warm-up (fresh mappings, empty caches), and one
// cold window must not decide against it.
func (sl *siteLearn) allTried(n int) bool {
	arms, _ := sl.arms(sl.phase)
	for i := range arms {
		if !arms[i].retired && !sl.covered(i, n) {
			return false
		}
	}
	return true
}

// covered reports whether arm i of the phase and the arms equivalent to it
// on the episode's histogram (retired or not: their windows are evidence
// still) ran n rated windows in the phase between them.
func (sl *siteLearn) covered(i, n int) bool {
	arms, _ := sl.arms(sl.phase)
	w := 0
	for j := range arms {
		if equiv(sl.phase, i, j, &sl.episodeHist) {
			w += arms[j].epWindows
		}
	}
	return w >= n
}

// retireWeaker retires the weaker half of the phase's routing classes (arms
// equivalent on the episode's histogram form one class, retired together),
// never the class of arm cur: retireWeakest over one representative per
// class.
func (sl *siteLearn) retireWeaker(cur int) {
	d, h := sl.phase, &sl.episodeHist
	arms, _ := sl.arms(d)
	var reps []int
	rc := -1 // cur's class in reps
	for i := range arms {
		if arms[i].retired {
			continue
		}
		k := -1
		for r, j := range reps {
			if equiv(d, i, j, h) {
				k = r
			}
		}
		if k < 0 {
			k = len(reps)
			reps = append(reps, i)
		}
		if i == cur {
			rc = k
		}
	}
	rs := make([]strategy, len(reps))
	for r, i := range reps {
		rs[r] = arms[i]
	}
	retireWeakest(rs, max(rc, 0))
	for r, i := range reps {
		if rs[r].retired {
			for j := range arms {
				if equiv(d, i, j, h) {
					arms[j].retired = true
				}
			}
		}
	}
}

// shareRating gives arm i's rating and smoothed cost to every arm of the
// phase equivalent to it on h: they route every sampled request alike, so
// i's windows are theirs, and an untried equivalent of a loser must not
// keep the initial rating and lead.
func (sl *siteLearn) shareRating(i int, h *sizeHist) {
	arms, _ := sl.arms(sl.phase)
	for j := range arms {
		if j != i && equiv(sl.phase, i, j, h) {
			arms[j].rating, arms[j].cost = arms[i].rating, arms[i].cost
		}
	}
}

// next chooses the phase's arm for the next LEARN window: an active arm
// not yet tried in the phase (itself or an equivalent); else, once the
// weaker half retired, a survivor not yet confirmed by a second window;
// else with probability epsilon a random active one that acts differently
// from the leader; else the leader.
func (sl *siteLearn) next(st *learnSettings, rnd func() float64) int {
	arms, _ := sl.arms(sl.phase)
	for _, n := range []int{1, 2} {
		if n == 2 && !sl.retiredDone {
			break
		}
		// An untried class: its least sampled arm. A class to confirm: the
		// arm that ran its first window, so that its second window
		// replaces that arm's warm-up cost.
		u := -1
		for i := range arms {
			s := &arms[i]
			if !s.retired && !sl.covered(i, n) && (u < 0 ||
				n == 1 && s.epSamples < arms[u].epSamples || n == 2 && s.epWindows > arms[u].epWindows) {
				u = i
			}
		}
		if u >= 0 {
			return u
		}
	}
	l := leader(arms)
	if rnd() < st.epsilon {
		var others []int // exploring an equivalent of the leader would learn nothing
		for i := range arms {
			if i != l && !arms[i].retired && !equiv(sl.phase, i, l, &sl.episodeHist) {
				others = append(others, i)
			}
		}
		if len(others) > 0 {
			return others[min(int(rnd()*float64(len(others))), len(others)-1)]
		}
	}
	return l
}

// freeze enters FROZEN on threshold arm b and cache arm c. The first
// canary waits as if the challenger it will run had lost a canary at the
// cost ratio its LEARN windows showed (canaryWait): an arm that cost five
// times the leader there is not worth a window in twenty.
func (sl *siteLearn) freeze(b, c int) {
	sl.state, sl.best, sl.cur, sl.cbest, sl.ccur = stateFrozen, b, b, c, c
	sl.signature = sl.episodeHist
	sl.newBaseline()
	sl.canaryWait = 0
	st := learner.st.Load()
	if d, ch := sl.challenger(); ch >= 0 && st.canaryBudget > 0 {
		arms, _ := sl.arms(d)
		best := b
		if d == dimCache {
			best = c
		}
		if x, y := arms[ch].cost, arms[best].cost; x > 0 && y > 0 {
			sl.canaryWait = canaryWait(x/y, st)
		}
	}
}

// newBaseline forgets the frozen baseline: the next degradeWindows rated
// frozen windows make the new one.
func (sl *siteLearn) newBaseline() {
	sl.baseline, sl.baseN, sl.haveBaseline = windowMetrics{}, 0, false
	sl.degraded, sl.frozenRated = 0, 0
}

// relearn enters LEARN at time t on the threshold dimension, running
// threshold arm from and the frozen cache policy.
func (sl *siteLearn) relearn(t int64, from int) {
	sl.state, sl.cur, sl.ccur = stateLearn, from, sl.cbest
	sl.episodeStart = t
	sl.episodeHist, sl.episodeChurn = sizeHist{}, 0
	sl.enterPhase(dimCache) // forget the cache arms' episode too
	sl.enterPhase(dimThreshold)
}

// stepFrozen handles a rated FROZEN window m: shift, degradation, canary.
func (sl *siteLearn) stepFrozen(m *windowMetrics, t int64, st *learnSettings, rnd func() float64) {
	sl.strats[sl.cur].samples += m.samples
	if tvd(&m.hist, &sl.signature)-tvdNoise(&m.hist, &sl.signature, m.draws) >= st.shift {
		sl.transition(trShifted)
		sl.relearn(t, sl.cur)
		// The window that showed the shift ran the frozen arms on the new
		// sizes: it is the new episode's first window, not a lost one.
		sl.stepLearn(m, t, st, rnd)
		return
	}
	sl.prev, sl.havePrev = *m, true
	if !sl.haveBaseline {
		// The baseline is the mean of several windows: one window's
		// noise (a GC, a burst) would make every later window look
		// degraded or healthy by chance.
		sl.baseline.add(m)
		sl.baseN++
		if sl.baseN >= max(st.degradeWindows, 1) {
			sl.baseline.scale(1 / float64(sl.baseN))
			sl.haveBaseline = true
		}
	} else {
		if costOf(m, &sl.baseline, st) > 1+st.degrade {
			sl.degraded++
		} else {
			sl.degraded = 0
		}
		if sl.degraded >= st.degradeWindows {
			sl.transition(trDegraded)
			sl.relearn(t, sl.cur)
			return
		}
	}
	sl.frozenRated++
	wait := sl.canaryWait
	if wait == 0 {
		wait = st.canaryEvery - 1
	}
	if st.canaryEvery > 1 && sl.frozenRated >= wait {
		sl.frozenRated = 0
		if d, c := sl.challenger(); c >= 0 {
			sl.state, sl.canaryDim = stateCanary, d
			if d == dimCache {
				sl.ccur = c
			} else {
				sl.cur = c
			}
			sl.transition(trFrozenCanary)
		}
	}
}

// challenger is the best active arm that acts differently from the frozen
// one of its dimension: a threshold routing the signature's requests
// otherwise, or (once the cache dimension was learned) another cache
// policy; with its dimension. (dimThreshold, -1) when there is none (a
// canary would measure the same policy). Ratings of both dimensions share
// one scale (every arm starts at initialRating); a tie goes to the
// threshold.
func (sl *siteLearn) challenger() (d, c int) {
	d, c = dimThreshold, -1
	rating := func(d, i int) float64 {
		arms, _ := sl.arms(d)
		return arms[i].rating
	}
	for i := range sl.strats {
		if i != sl.best && !sl.strats[i].retired && !equivalent(i, sl.best, &sl.signature) &&
			(c < 0 || sl.strats[i].rating > rating(d, c)) {
			d, c = dimThreshold, i
		}
	}
	if sl.cacheLearned && sl.largeShare(sl.best) >= minLargeShare {
		for i := range sl.carms {
			if i != sl.cbest && !sl.carms[i].retired && (c < 0 || sl.carms[i].rating > rating(d, c)) {
				d, c = dimCache, i
			}
		}
	}
	return d, c
}

// stepCanary handles a rated CANARY window m: the challenger plays the last
// frozen window; a win makes it the frozen arm of its dimension, else the
// incumbent resumes.
func (sl *siteLearn) stepCanary(m *windowMetrics, t int64, st *learnSettings) {
	arms, cur := sl.arms(sl.canaryDim)
	bestp := &sl.best
	if sl.canaryDim == dimCache {
		bestp = &sl.cbest
	}
	ch := &arms[*cur]
	ch.samples += m.samples
	r := gameResult(compositeScore(m, &sl.prev, st), st.drawMargin)
	play(ch, &arms[*bestp], r, st.eloK)
	if r == 1 {
		sl.transition(trCanaryAdopt)
		sl.state, *bestp = stateFrozen, *cur
		sl.newBaseline()
		sl.canaryWait = 0
		return
	}
	sl.transition(trCanaryFrozen)
	sl.state, *cur = stateFrozen, *bestp
	// The budget is the program's time, so the CPU ratio counts when it is
	// worse than the composite one (a challenger ten times slower that
	// holds less memory is still ten times slower for its window).
	cpu := max(m.cpuNsPerOp, cpuFloorNs) / max(sl.prev.cpuNsPerOp, cpuFloorNs)
	sl.canaryWait = canaryWait(max(costOf(m, &sl.prev, st), cpu), st)
}

// canaryWait is how many frozen windows to wait after a canary that lost
// at cost ratio r to the frozen strategy: (r-1)/canaryBudget, so that the
// canaries' extra cost stays within the budget, at least canaryEvery-1
// and at most maxCanaryWait.
func canaryWait(r float64, st *learnSettings) int {
	w := float64(st.canaryEvery - 1)
	if st.canaryBudget > 0 && r > 1 {
		w = max(w, math.Ceil((r-1)/st.canaryBudget))
	}
	return int(min(w, maxCanaryWait))
}
