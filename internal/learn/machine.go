package learn

import (
	"math"
	"sort"
)

// Machine is the lifecycle of a site's learning: one state machine per
// site, built so that learning cannot hurt. It takes a closed window's
// measures (Metrics) and returns what the site runs next (Step); the
// engine samples, measures, publishes and logs.
//
// The score is the program's throughput: the site's requests per
// CPU-second of the process (per wall second where the engine cannot read
// CPU time), measured over a window of WindowNs while one strategy is in
// force. It counts everything the program pays for a
// strategy, inside hakmem and after it: the page faults when it touches
// memory the large path returned or purged, cold blocks, the learner's own
// goroutine. A strategy is only ever compared with the incumbent in
// windows interleaved with it (an A/B test: incumbent, challenger,
// incumbent, ...), so that drift and phase changes hit both alike; a pair
// is a challenger window against the mean of the incumbent windows on
// either side of it.
//
// A site learns two dimensions, one after the other: its routing threshold
// (the threshold arms, Strats), then, if the incumbent threshold sends at
// least MinLargeShare of its sampled requests to the large path and its
// BigCache churned, the BigCache policy of its large blocks (the cache
// arms, CArms: default, lean, hold).
//
//   - LEARN: the incumbent starts as the default (1 MiB, the default cache
//     policy). Once the window has a size histogram, the challengers are
//     listed: one threshold per routing class of the histogram other than
//     the incumbent's (thresholds with no sampled size between them route
//     every request alike: Sizes.Equivalent), nearest the incumbent first;
//     in the cache phase the other two policies. Each is tested in
//     turn (ABTest) against the incumbent.
//   - A pair is won when the challenger's throughput beats the incumbent's
//     by more than DrawMargin, lost when it is under by more; within
//     that band the composite of the old score (time in the allocator,
//     fresh pages, memory held; the HAKMEM_LEARN_WEIGHT_* weights) breaks
//     the tie. The noise of the measure is what the sign test is for: a
//     challenger that is no better wins about half of the pairs.
//   - Adopted: from MinPairs pairs on, the one-sided sign test over
//     the pairs rejects "the challenger wins a pair no more often than
//     not" at Confidence (P(Bin(n, 1/2) >= wins) <= 1 - Confidence), and
//     the median throughput ratio is no worse than 1 - DrawMargin. Over all the looks, a
//     challenger no better than the incumbent is adopted with probability
//     under 1 - Confidence (TestSignTestRule). It becomes the incumbent; the remaining
//     challengers are tested against it.
//   - Rejected: it can no longer reach that confidence within MaxPairs
//     pairs, or, before it won a pair, one pair ran it at under
//     AbortRatio of the incumbent's throughput. A clear loser costs three challenger windows, a
//     disastrous one a single window. The thresholds beyond it, on the far side from
//     the incumbent, are dropped untested (prune: throughput is taken to
//     be unimodal in the threshold).
//   - LEARN -> FROZEN: every challenger was tested and MinLearnNs passed.
//     The incumbent is frozen; the histogram learned on becomes the
//     signature.
//   - LEARN(threshold) -> LEARN(bigcache): the same, when the cache
//     dimension is worth learning (judged, when some requests take the
//     large path, over MinChurnWindows windows at least).
//   - FROZEN: the incumbent runs; each window is checked for a shift (the
//     histogram) and a degradation (throughput under the baseline).
//   - FROZEN -> CANARY: a check, the same A/B test with the default (a
//     rollback check, while the frozen choice is not the default) or, in
//     turn, the best other arm as the challenger. Checks are spaced so
//     that their measured cost stays within CanaryBudget of the site's
//     throughput: a check of an arm that lost (1-r) of a window's
//     throughput per window waits 2(1-r)/CanaryBudget windows, at least
//     CanaryEvery-1 (CheckWaitFor). What a test lost is measured against
//     the incumbent's throughput before the test, in the challenger's
//     windows and in the incumbent's windows between them: an arm whose
//     harm outlasts its window (two-sites' ring site at 512 KiB slows the
//     whole program for a second after) is charged for it.
//   - CANARY -> FROZEN: the challenger was rejected.
//   - CANARY -> FROZEN (adopted), or (rollback) when the challenger was
//     the default: it becomes the frozen strategy.
//   - FROZEN -> CANARY (degradation): throughput stayed more than Degrade
//     under the baseline (the mean of the first DegradeWindows frozen
//     windows) for DegradeWindows windows, and the frozen choice is not
//     the default: a rollback check starts at once (the default threshold,
//     else the default cache policy, against the frozen choice), the one
//     test that can undo a choice gone bad, not a re-learning of every arm.
//     Frozen on the default, an alarm only starts a new baseline: the
//     other arms are the budgeted checks' business, and an alarm set off by
//     noise (two-sites, where each site's windows swing by 2x) would
//     otherwise buy a test of arms known to lose. Windows in which another
//     site runs a test count for neither.
//   - FROZEN -> LEARN (shift): two windows in a row have histograms at
//     TVD >= Shift from the signature, beyond the sampling noise
//     (TVDNoise), and the second is near no remembered distribution (the
//     first may straddle the change, a mix that matches neither
//     phase: re-learning on it re-learned phases-ring-burst's
//     distributions again and again, and froze on mixed signatures).
//     LEARN starts again from the frozen strategy as the incumbent.
//   - FROZEN -> FROZEN (recalled): the same, but the histogram is within
//     the shift distance of a distribution an earlier episode froze on
//     (the last RecallSlots are remembered), in the first window or the
//     second: that choice is frozen again
//     at once, and the checks guard it like any other, spaced by the same
//     budget as after a freeze.
//   - LEARN -> FROZEN (recalled), LEARN -> LEARN (shift): the same rule
//     within an episode, against the episode's histogram (learnShift): an
//     episode can outlast a phase of the program. A remembered
//     distribution ends the episode on its choice; a new one starts the
//     episode's histogram anew while the tests go on, so that the
//     signature frozen on is one phase's, not a mix. Before this rule,
//     phases-ring-burst's episodes spanned its phase changes and froze on
//     mixed signatures that matched neither phase afterwards: every return
//     of a phase re-learned it.
//
// Only one site runs a test at a time (the Token): the throughput is
// the process's, so a second site changing its strategy at the same time
// would move the first one's figures. A window that saw fewer than
// MinWindowOps of the site's requests is not rated (Rated): it changes nothing.
// ELO ratings move with every pair (a game between the challenger and the
// incumbent) for the leaderboard; they decide nothing.

// State is a site's lifecycle state.
type State uint8

const (
	StateLearn  State = iota // challengers are tested against the incumbent
	StateFrozen              // the incumbent runs; checks are spaced by the budget
	StateCanary              // a check: an A/B test of one challenger
)

func (s State) String() string {
	switch s {
	case StateLearn:
		return "LEARN"
	case StateFrozen:
		return "FROZEN"
	}
	return "CANARY"
}

// Counted transitions (Machine.Transitions).
const (
	TrLearnFrozen   = iota // every challenger tested
	TrFrozenCanary         // a check starts
	TrCanaryFrozen         // the check's challenger was rejected
	TrCanaryAdopt          // the check's challenger won and is frozen instead
	TrDegraded             // a degradation alarm (a rollback check follows unless frozen on the default)
	TrShifted              // FROZEN -> LEARN on a distribution shift
	TrLearnCache           // LEARN moves from the threshold to the BigCache policy
	TrLearnAdopt           // a LEARN test adopted its challenger as the incumbent
	TrRollback             // a check adopted the default over the frozen choice
	TrRecalled             // FROZEN -> FROZEN on a shift to sizes learned before
	TrLearnShift           // LEARN -> LEARN: a shift within an episode starts its histogram anew
	TrLearnRecalled        // LEARN -> FROZEN on a shift, within an episode, to sizes learned before
	NumTransitions
)

// TransitionNames name the counted transitions for stats.
var TransitionNames = [NumTransitions]string{
	"LEARN->FROZEN", "FROZEN->CANARY", "CANARY->FROZEN", "CANARY->FROZEN(adopted)",
	"FROZEN(degraded)", "FROZEN->LEARN(shift)", "LEARN(threshold)->LEARN(bigcache)",
	"LEARN(adopted)", "CANARY->FROZEN(rollback)", "FROZEN->FROZEN(recalled)",
	"LEARN->LEARN(shift)", "LEARN->FROZEN(recalled)",
}

// The two dimensions a site learns, one after the other in a LEARN
// episode: the routing threshold (Thresholds), then, when the threshold sends
// some of the site's requests to the large path, the BigCache policy of its
// blocks (the cache arms). Each has its own arms and ratings.
const (
	DimThreshold = iota // Thresholds
	DimCache            // the cache arms
	NumDims
)

// DimNames name the dimensions for stats.
var DimNames = [NumDims]string{"threshold", "bigcache"}

// MinLargeShare is the share of a site's sampled requests that must take
// the large path under its threshold for the BigCache policy to be
// learned: below 5%, the cache policy decides little of the site's cost,
// and windows spent on it would be exploration for nothing. The site's
// BigCache must also have churned in the episode: at least MinChurnShare
// of its large requests saw a block evicted by a limit or unmapped by
// decay. A cache that rarely does keeps and hands back the same blocks
// under every policy.
const MinLargeShare = 0.05

// MinChurnShare: see MinLargeShare. 5%: one large request in 20 that the
// cache policy could have served differently.
const MinChurnShare = 0.05

// MinChurnWindows: while some of the site's requests take the large path,
// the threshold phase ends (on a freeze without the cache dimension) only
// after this many rated windows of the episode, the incumbent running
// meanwhile, so that the churn is judged on more than the first few
// windows of a BigCache that may not have filled yet. 10 windows (1 s):
// ring-touch-64K-2M's threshold phase ends after 4 to 10 windows when its
// first challenger is rejected at once (AbortRatio), its churn share
// measured there was 0.07 to 0.18, near MinChurnShare, and one round of 3
// froze on the default policy, at a thirtieth of the hold policy's
// throughput.
const MinChurnWindows = 10

// Machine is the learning state of one site: the arms of both dimensions,
// the lifecycle state and the test in progress. The engine guards it with
// the site's lock; nothing in it blocks or allocates but Step's list of
// challengers.
type Machine struct {
	Sizes *Sizes // the engine's bucket sizes; immutable
	Tok   Token  // the tester token, shared by every site; immutable

	Strats [NumStrategies]Strategy // one per threshold arm, in Thresholds order
	CArms  [NumCacheArms]Strategy  // one per cache arm, in cache arm order (threshold 0)
	Cur    int                     // threshold arm running now (its threshold is published)
	CCur   int                     // cache arm running now (its policy is published)
	Best   int                     // the incumbent threshold arm: frozen, or what LEARN tests against
	CBest  int                     // the incumbent cache arm
	State  State                   // lifecycle state

	// LEARN
	Phase        int    // the dimension being learned: DimThreshold, then DimCache
	CacheLearned bool   // the cache dimension was learned in some episode (recorded in the policy)
	EpisodeStart int64  // when LEARN began, ns on the learner clock
	EpisodeHist  Hist   // histograms of the episode's rated windows since its last shift (learnShift): the signature when freezing
	EpisodeChurn uint64 // the site's BigCache evictions and decays in the episode's rated windows
	EpisodeWins  int    // rated windows in the episode
	Listed       bool   // Todo was listed for the phase
	Todo         []int  // the phase's challengers not tested yet, in order
	Test         ABTest // the A/B test in progress (LEARN, CANARY)

	// FROZEN, CANARY
	Signature   Hist                  // the distribution learned on
	BaseSum     float64               // summed throughput of the first BaseN frozen windows
	BaseN       int                   // windows summed so far
	Baseline    float64               // their mean, once BaseN == DegradeWindows: degradation is checked
	Degraded    int                   // rated windows in a row under Baseline*(1-Degrade)
	ShiftSeen   bool                  // the last rated window (FROZEN or LEARN) showed a shift to no remembered distribution: this one confirms it
	FrozenRated int                   // rated frozen windows since the last check
	CheckWait   int                   // rated frozen windows before the next check; 0: CanaryEvery-1
	Checks      int                   // checks started since the freeze (they take turns)
	Recall      [RecallSlots]Recalled // what earlier episodes froze on, by signature
	NRecall     int                   // entries recorded; the next one replaces Recall[NRecall%RecallSlots]
	Transitions [NumTransitions]uint64
	LostPerWin  [NumDims][NumArmsMax]float64 // per arm, the throughput its last test lost per challenger window (the check budget)

	events []Event // the transitions of the Step in progress
}

// Token is the tester token: only one site runs an A/B test at a time
// (the throughput measured is the process's, so a second site changing its
// strategy at the same time would move the first one's figures). The
// engine holds it; each site's Machine asks for it by the site's name.
type Token interface {
	Acquire() bool // take the token for this site, or report that another site holds it
	Release()      // give it back if this site holds it
	Busy() bool    // another site holds it
}

// The cache arms: a site's BigCache policy. The engine's BigCache gives
// each its limits; the learner only orders them.
const (
	CacheDefault = iota // the configured per-site limits
	CacheLean           // fewer blocks kept, sooner given back
	CacheHold           // more blocks kept, longer
	NumCacheArms
)

// RecallSlots is how many frozen choices a site remembers with the size
// distribution they were learned on: a program whose phases alternate
// between a few distributions relearns each only once.
const RecallSlots = 4

// Recalled is one remembered frozen choice.
type Recalled struct {
	Sig         Hist
	Best, CBest int
	Cache       bool // the cache dimension was learned on it
}

// NumArmsMax is the larger of the two dimensions' arm counts.
const NumArmsMax = max(NumStrategies, NumCacheArms)

// Event is one transition of a Step, with the arms running right after
// it, for the engine's debug log.
type Event struct {
	Tr        int     // a Tr* constant
	Threshold uintptr // the threshold running then
	Cache     int     // the cache arm running then
}

// Decision is what Step decided for the next window.
type Decision struct {
	Rated    bool    // the window was rated (enough requests, a throughput)
	Cur      int     // threshold arm to run
	CCur     int     // cache arm to run
	Switched bool    // either changed: the next window settles first
	Events   []Event // the transitions taken, in order (valid until the next Step)
}

// Init starts the machine in LEARN at time t, the incumbent being the
// threshold arm nearest below threshold th (the site's current one) and
// the default cache arm.
func (sm *Machine) Init(th uintptr, t int64, st *Settings) {
	for i := range sm.Strats {
		sm.Strats[i] = Strategy{Threshold: Thresholds[i], Rating: st.InitialRating}
	}
	for i := range sm.CArms {
		sm.CArms[i] = Strategy{Rating: st.InitialRating}
	}
	sm.Cur = 0
	for i, c := range Thresholds {
		if c <= th {
			sm.Cur = i
		}
	}
	sm.Best = sm.Cur
	sm.CCur, sm.CBest = CacheDefault, CacheDefault
	sm.EpisodeStart = t
}

// Rated reports whether window m is rated: it saw at least MinWindowOps
// of the site's requests in its measured part, and a throughput. A window
// that is not changes nothing.
func Rated(m *Metrics, st *Settings) bool {
	return m.SiteOps >= max(st.MinWindowOps, 1) && m.Tput > 0
}

// Step runs the lifecycle on the window m that closed at time t and
// returns what the next window runs.
func (sm *Machine) Step(m *Metrics, t int64, st *Settings) Decision {
	cur, ccur := sm.Cur, sm.CCur
	sm.events = sm.events[:0]
	rated := Rated(m, st)
	if rated {
		switch sm.State {
		case StateLearn:
			sm.stepLearn(m, t, st)
		case StateFrozen:
			sm.stepFrozen(m, t, st)
		case StateCanary:
			sm.stepCanary(m, st)
		}
	}
	return Decision{Rated: rated, Cur: sm.Cur, CCur: sm.CCur, Switched: cur != sm.Cur || ccur != sm.CCur, Events: sm.events}
}

// Settle is what a site runs when learning stops being live: a CANARY
// goes back to its frozen arms, a site still in LEARN takes its incumbent.
func (sm *Machine) Settle() {
	switch sm.State {
	case StateCanary:
		sm.endTest()
		sm.State = StateFrozen
	case StateLearn:
		sm.endTest() // the incumbent runs
	}
}

// transition counts a lifecycle transition and records it for the Step's
// Decision.
func (sm *Machine) transition(tr int) {
	sm.Transitions[tr]++
	sm.events = append(sm.events, Event{Tr: tr, Threshold: sm.Strats[sm.Cur].Threshold, Cache: sm.CCur})
}

// ABTest is an A/B test of one challenger against the incumbent: windows
// alternate, incumbent first; each challenger window is paired with the
// incumbent windows on either side of it.
type ABTest struct {
	On          bool
	Dim, Arm    int     // the challenger
	inChal      bool    // the window in progress runs the challenger
	incTput     float64 // the last incumbent window's throughput
	incM        Metrics
	pre         float64 // the incumbent's throughput in the window before the test: what the test's windows lost is measured against it
	chal        Metrics // a challenger window awaiting the next incumbent window
	haveChal    bool
	ratios      []float64 // per pair: challenger / mean of the incumbent windows around it
	wins        int       // pairs won
	lost        float64   // the challenger windows' lost throughput, in windows (settle included)
	chalWindows int       // challenger windows in the test
}

// arms returns dimension d's arms and a pointer to its arm running now.
func (sm *Machine) arms(d int) ([]Strategy, *int) {
	if d == DimCache {
		return sm.CArms[:], &sm.CCur
	}
	return sm.Strats[:], &sm.Cur
}

// incumbent returns a pointer to dimension d's incumbent arm.
func (sm *Machine) incumbent(d int) *int {
	if d == DimCache {
		return &sm.CBest
	}
	return &sm.Best
}

// stepLearn handles a rated LEARN window m: the test in progress moves on,
// or the next challenger's test starts, or the phase ends.
func (sm *Machine) stepLearn(m *Metrics, t int64, st *Settings) {
	if sm.learnShift(m, st) {
		return
	}
	arms, _ := sm.arms(sm.Phase)
	s := &arms[*sm.armRef(sm.Phase)]
	s.Samples += m.Samples
	s.EpWindows++
	sm.EpisodeWins++
	for i := range m.Hist {
		sm.EpisodeHist[i] += m.Hist[i]
	}
	sm.EpisodeChurn += m.Churn
	if sm.Test.On {
		switch sm.testStep(m, st) {
		case VerdictAdopt:
			*sm.incumbent(sm.Test.Dim) = sm.Test.Arm
			sm.endTest()
			sm.transition(TrLearnAdopt)
			// m ran the old incumbent: the next test starts from a
			// window of the new one.
			return
		case VerdictReject:
			arms[sm.Test.Arm].Retired = true
			sm.prune(sm.Test.Dim, sm.Test.Arm)
			sm.endTest()
		default:
			return
		}
	}
	if !sm.Listed {
		var n uint64
		for _, c := range sm.EpisodeHist {
			n += c
		}
		if n == 0 || sm.EpisodeWins < 2 {
			// No sampled size yet: nothing tells the routings apart. And
			// the episode's first window is not a test's "before": it
			// holds the warm-up of the site (or of the shift).
			return
		}
		sm.Todo, sm.Listed = sm.challengers(sm.Phase), true
	}
	if len(sm.Todo) > 0 {
		if sm.Tok.Acquire() {
			c := sm.Todo[0]
			sm.Todo = sm.Todo[1:]
			sm.startTest(sm.Phase, c, m)
		}
		return
	}
	if t-sm.EpisodeStart < st.MinLearnNs {
		return // the incumbent runs until the minimum learning time
	}
	if sm.Phase == DimThreshold && sm.cacheWorth(sm.Best, st) {
		sm.enterPhase(DimCache)
		sm.transition(TrLearnCache)
		return
	}
	if sm.Phase == DimThreshold && sm.largeShare(sm.Best) >= MinLargeShare && sm.EpisodeWins < MinChurnWindows {
		return // the churn is judged over MinChurnWindows windows; the incumbent runs
	}
	if sm.Phase == DimCache {
		sm.CacheLearned = true
	}
	sm.Freeze(sm.Best, sm.CBest, st)
	sm.transition(TrLearnFrozen)
}

// armRef is a pointer to dimension d's arm running now.
func (sm *Machine) armRef(d int) *int {
	_, p := sm.arms(d)
	return p
}

// cacheWorth reports whether the cache dimension is worth learning under
// threshold arm i: enough of the requests take the large path, and the
// BigCache churned.
func (sm *Machine) cacheWorth(i int, st *Settings) bool {
	return sm.largeShare(i) >= MinLargeShare && sm.churnShare(i, st) >= MinChurnShare
}

// challengers lists dimension d's challengers of the incumbent: for the
// threshold, one arm per routing class of the episode's histogram other
// than the incumbent's (the largest threshold of the class), nearest the
// incumbent first; for the cache, the other policies, hold first.
func (sm *Machine) challengers(d int) []int {
	var out []int
	if d == DimCache {
		for _, p := range []int{CacheHold, CacheLean, CacheDefault} {
			if p != sm.CBest {
				out = append(out, p)
			}
		}
		return out
	}
	h := &sm.EpisodeHist
	var reps []int
	for i := NumStrategies - 1; i >= 0; i-- {
		if sm.Sizes.Equivalent(i, sm.Best, h) {
			continue
		}
		dup := false
		for _, r := range reps {
			if sm.Sizes.Equivalent(i, r, h) {
				dup = true
			}
		}
		if !dup {
			reps = append(reps, i)
		}
	}
	sort.SliceStable(reps, func(a, b int) bool {
		return absInt(reps[a]-sm.Best) < absInt(reps[b]-sm.Best)
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
func (sm *Machine) prune(d, r int) {
	if d != DimThreshold {
		return
	}
	up := r > sm.Best
	kept := sm.Todo[:0]
	for _, c := range sm.Todo {
		if up && c > r || !up && c < r {
			sm.Strats[c].Retired = true
			// Its check, if one comes, waits at least as long as r's.
			sm.LostPerWin[d][c] = max(sm.LostPerWin[d][c], sm.LostPerWin[d][r])
			continue
		}
		kept = append(kept, c)
	}
	sm.Todo = kept
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// churnShare is the site's BigCache churn in the episode over its large
// requests (estimated: the episode's sampled requests that threshold arm
// i sends to the large path, times SampleEvery).
func (sm *Machine) churnShare(i int, st *Settings) float64 {
	var n uint64
	for _, c := range sm.EpisodeHist {
		n += c
	}
	large := sm.largeShare(i) * float64(n) * float64(max(st.SampleEvery, 1))
	if large <= 0 {
		return 0
	}
	return float64(sm.EpisodeChurn) / large
}

// largeShare is the share of the episode's sampled requests that take the
// large path under threshold arm i: above the threshold, or above maxSmall.
func (sm *Machine) largeShare(i int) float64 {
	var all, large uint64
	for b, n := range sm.EpisodeHist {
		all += n
		if b == NumBuckets-1 || sm.Sizes[b] > Thresholds[i] {
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
func (sm *Machine) enterPhase(d int) {
	sm.endTest()
	sm.Phase, sm.Listed, sm.Todo = d, false, nil
	arms, _ := sm.arms(d)
	for i := range arms {
		arms[i].Retired, arms[i].EpWindows = false, 0
	}
}

// The outcomes of an A/B test after a pair (testStep).
const (
	VerdictNone   = iota // more pairs
	VerdictAdopt         // the challenger wins with the stated confidence
	VerdictReject        // it cannot any more within maxPairs
)

// startTest starts the A/B test of arm c of dimension d against the
// incumbent; m is the incumbent window that just closed (the first
// pair's "before"). The next window runs the challenger. Caller holds the
// tester token.
func (sm *Machine) startTest(d, c int, m *Metrics) {
	sm.Test = ABTest{On: true, Dim: d, Arm: c, inChal: true, incTput: m.Tput, incM: *m, pre: m.Tput}
	*sm.armRef(d) = c
}

// endTest ends the test in progress, if any: the incumbents run again and
// the tester token is given back.
func (sm *Machine) endTest() {
	if sm.Test.On {
		sm.Test = ABTest{}
	}
	sm.Cur, sm.CCur = sm.Best, sm.CBest
	sm.Tok.Release()
}

// testStep adds window m to the test in progress and returns its verdict.
// A challenger window waits for the next incumbent window; an incumbent
// window closes the pair (the challenger against the mean of the
// incumbent windows around it) and sets up the next one.
func (sm *Machine) testStep(m *Metrics, st *Settings) int {
	ts := &sm.Test
	if ts.inChal {
		ts.chal, ts.haveChal, ts.inChal = *m, true, false
		ts.chalWindows++
		*sm.armRef(ts.Dim) = *sm.incumbent(ts.Dim)
		return VerdictNone
	}
	v := VerdictNone
	if ts.haveChal {
		ref := (ts.incTput + m.Tput) / 2
		r := ts.chal.Tput / ref
		ts.ratios = append(ts.ratios, r)
		// What the pair cost, against the incumbent before the test (or
		// the pair's, if higher): the challenger's window, settle
		// included, and the incumbent's window after it, settle included,
		// which also pays for a harm that outlasts the challenger.
		base := max(ref, ts.pre)
		ts.lost += max(0, 1-ts.chal.FullTput/base)
		if m.FullTput > 0 {
			ts.lost += max(0, 1-m.FullTput/max(m.Tput, ts.pre))
		}
		inc := ts.incM
		inc.add(m)
		inc.scale(0.5)
		res := PairResult(r, CompositeScore(&ts.chal, &inc, st), st)
		arms, _ := sm.arms(ts.Dim)
		Play(&arms[ts.Arm], &arms[*sm.incumbent(ts.Dim)], res, st.EloK)
		if res == 1 {
			ts.wins++
		}
		ts.haveChal = false
		v = TestVerdict(ts.wins, len(ts.ratios), median(ts.ratios), st)
		if v == VerdictNone && r < st.AbortRatio && ts.wins == 0 {
			// A disastrous window of an arm that has won nothing: no
			// more of them. One that won pairs is not disastrous, and
			// its bad window is noise (ring-touch-64K-2M's hold policy
			// won 3 pairs at 3-15x, then lost one at 0.495).
			v = VerdictReject
		}
		if v != VerdictNone {
			lost := ts.lost / float64(max(ts.chalWindows, 1))
			arms, _ := sm.arms(ts.Dim)
			for j := range arms { // the arm's routing class lost it
				if j == ts.Arm || ts.Dim == DimThreshold && sm.Sizes.Equivalent(j, ts.Arm, &sm.EpisodeHist) {
					sm.LostPerWin[ts.Dim][j] = lost
				}
			}
			if v == VerdictAdopt {
				// The incumbent it replaces now costs what it lost
				// against it: its next check waits by that.
				sm.LostPerWin[ts.Dim][*sm.incumbent(ts.Dim)] = max(0, 1-1/median(ts.ratios))
			}
			return v
		}
	}
	ts.incTput, ts.incM, ts.inChal = m.Tput, *m, true
	*sm.armRef(ts.Dim) = ts.Arm
	return v
}

// PairResult is a pair's game result for the challenger (1 win, 0.5 draw,
// 0 loss): its throughput ratio r against the incumbent decides when it
// is beyond 1 +- DrawMargin; within that band the composite score (time
// in the allocator, faults, memory) breaks the tie.
func PairResult(r, composite float64, st *Settings) float64 {
	switch {
	case r > 1+st.DrawMargin:
		return 1
	case r < 1-st.DrawMargin:
		return 0
	}
	return GameResult(composite, st.DrawMargin)
}

// TestVerdict is the verdict of a test with wins pairs won out of n and a
// median throughput ratio med: from MinPairs pairs on, adopt when the
// one-sided sign test rejects "wins no more often than not" at the
// configured confidence and med is no worse than 1 - DrawMargin; reject
// when even winning every pair left within MaxPairs could not reach that
// confidence.
func TestVerdict(wins, n int, med float64, st *Settings) int {
	alpha := 1 - st.Confidence
	if n >= st.MinPairs && SignP(wins, n) <= alpha && med >= 1-st.DrawMargin {
		return VerdictAdopt
	}
	if n >= st.MaxPairs || SignP(wins+st.MaxPairs-n, st.MaxPairs) > alpha {
		return VerdictReject
	}
	return VerdictNone
}

// SignP is the one-sided sign test's p-value: P(X >= k) for X binomial
// (n, 1/2), the chance that a challenger no better than the incumbent wins
// k or more of n pairs.
func SignP(k, n int) float64 {
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

// Freeze enters FROZEN on threshold arm b and cache arm c (a LEARN
// episode's end, or a loaded policy). The first check waits by the budget
// as if its challenger had just lost its LEARN test at the cost measured
// there.
func (sm *Machine) Freeze(b, c int, st *Settings) {
	sm.endTest()
	sm.State, sm.Best, sm.Cur, sm.CBest, sm.CCur = StateFrozen, b, b, c, c
	sm.Signature, sm.ShiftSeen = sm.EpisodeHist, false
	sm.remember(st)
	sm.newBaseline()
	sm.Checks = 0
	sm.waitByBudget(st)
}

// waitByBudget sets the wait before the next check by what its
// challenger lost in its last test (CheckWaitFor): after a freeze or a
// recall, the first check is spaced as if it had just lost again.
func (sm *Machine) waitByBudget(st *Settings) {
	sm.CheckWait = 0
	if d, ch := sm.CheckChallenger(); ch >= 0 {
		sm.CheckWait = CheckWaitFor(sm.LostPerWin[d][ch], st)
	}
}

// remember records the frozen choice with its signature, replacing the
// entry of a signature within the shift distance of it, else the oldest.
func (sm *Machine) remember(st *Settings) {
	e := Recalled{Sig: sm.Signature, Best: sm.Best, CBest: sm.CBest, Cache: sm.CacheLearned}
	for i := range min(sm.NRecall, RecallSlots) {
		if TVD(&sm.Recall[i].Sig, &sm.Signature) < st.Shift {
			sm.Recall[i] = e
			return
		}
	}
	sm.Recall[sm.NRecall%RecallSlots] = e
	sm.NRecall++
}

// recallFor looks for a remembered choice whose signature window m's
// histogram is within the shift distance of: a distribution learned
// before. Found, it is frozen again at once, with a new baseline, and
// true returned; the checks guard it as any frozen choice.
func (sm *Machine) recallFor(m *Metrics, st *Settings) bool {
	for i := range min(sm.NRecall, RecallSlots) {
		e := &sm.Recall[i]
		if TVD(&m.Hist, &e.Sig) < st.Shift {
			sm.Best, sm.Cur, sm.CBest, sm.CCur = e.Best, e.Best, e.CBest, e.CBest
			sm.Signature, sm.CacheLearned = e.Sig, e.Cache
			sm.newBaseline()
			sm.Checks = 0
			sm.waitByBudget(st)
			return true
		}
	}
	return false
}

// newBaseline forgets the frozen baseline: the next degradeWindows rated
// frozen windows make the new one.
func (sm *Machine) newBaseline() {
	sm.BaseSum, sm.BaseN, sm.Baseline = 0, 0, 0
	sm.Degraded, sm.FrozenRated = 0, 0
}

// relearn enters LEARN at time t on the threshold dimension, the frozen
// strategy being the incumbent.
func (sm *Machine) relearn(t int64) {
	sm.endTest()
	sm.State = StateLearn
	sm.EpisodeStart = t
	sm.EpisodeHist, sm.EpisodeChurn, sm.EpisodeWins = Hist{}, 0, 0
	sm.enterPhase(DimCache) // forget the cache arms' episode too
	sm.enterPhase(DimThreshold)
}

// The shift rule's verdicts on a rated window (shifted).
const (
	shiftNone     = iota // near the reference distribution
	shiftSeen            // far from it, once: the window may straddle the change
	shiftRecalled        // near a remembered distribution: its choice is in force again
	shiftNew             // far from it twice in a row, near nothing remembered
)

// shifted applies the shift rule to rated window m against ref (the
// frozen signature, or a LEARN episode's histogram): TVD >= Shift beyond
// the sampling noise, a remembered distribution recalled at once
// (recallFor), a new one confirmed by a second window. It keeps
// ShiftSeen; the caller acts on the verdict.
func (sm *Machine) shifted(m *Metrics, ref *Hist, st *Settings) int {
	if TVD(&m.Hist, ref)-TVDNoise(&m.Hist, ref, m.Draws) < st.Shift {
		sm.ShiftSeen = false
		return shiftNone
	}
	if sm.recallFor(m, st) {
		sm.ShiftSeen = false
		return shiftRecalled
	}
	if !sm.ShiftSeen {
		// The window may straddle the change, its histogram a mix that
		// matches neither distribution: the next one decides.
		sm.ShiftSeen = true
		return shiftSeen
	}
	sm.ShiftSeen = false
	return shiftNew
}

// learnShift applies the shift rule to a rated LEARN window m, against
// the episode's histogram: an episode may outlast a phase of the program.
// Near a remembered distribution, that choice is frozen again at once and
// learnShift reports true: the episode ends, as a FROZEN site's would. A
// confirmed shift to a new distribution starts the episode's histogram
// anew from m, so that the signature frozen on is the distribution in
// force at the freeze, not a mix of phases (a mixed signature matches
// neither phase later, and each return of either phase re-learned it);
// the tests go on, their windows interleaved, so that a phase change hits
// incumbent and challenger alike.
func (sm *Machine) learnShift(m *Metrics, st *Settings) bool {
	if sm.EpisodeHist == (Hist{}) {
		sm.ShiftSeen = false
		return false
	}
	switch sm.shifted(m, &sm.EpisodeHist, st) {
	case shiftRecalled:
		sm.endTest() // the recalled arms run
		sm.State = StateFrozen
		sm.transition(TrLearnRecalled)
		return true
	case shiftNew:
		sm.transition(TrLearnShift)
		sm.EpisodeHist = Hist{}
	}
	return false
}

// stepFrozen handles a rated FROZEN window m: shift, degradation, check.
func (sm *Machine) stepFrozen(m *Metrics, t int64, st *Settings) {
	sm.Strats[sm.Cur].Samples += m.Samples
	switch sm.shifted(m, &sm.Signature, st) {
	case shiftRecalled:
		sm.transition(TrRecalled)
		return
	case shiftSeen:
		return
	case shiftNew:
		sm.transition(TrShifted)
		sm.relearn(t)
		// The window that showed the shift ran the frozen arms on the new
		// sizes: it is the new episode's first.
		sm.stepLearn(m, t, st)
		return
	}
	if sm.Tok.Busy() {
		// Another site is testing: its challenger windows move this
		// site's throughput too (the CPU time is the process's), which
		// is neither a degradation nor a baseline of this site's.
		sm.Degraded = 0
	} else if sm.Baseline == 0 {
		// The baseline is the mean of several windows: one window's
		// noise (a GC, a burst) would make every later window look
		// degraded or healthy by chance.
		sm.BaseSum += m.Tput
		sm.BaseN++
		if sm.BaseN >= max(st.DegradeWindows, 1) {
			sm.Baseline = sm.BaseSum / float64(sm.BaseN)
		}
	} else {
		if m.Tput < sm.Baseline*(1-st.Degrade) {
			sm.Degraded++
		} else {
			sm.Degraded = 0
		}
		if sm.Degraded >= st.DegradeWindows {
			sm.transition(TrDegraded)
			// Whatever the check finds, the throughput measured before
			// the alarm is no baseline any more.
			sm.newBaseline()
			if d, c := sm.rollbackChallenger(); c >= 0 && sm.Tok.Acquire() {
				sm.State = StateCanary
				sm.startTest(d, c, m)
				sm.transition(TrFrozenCanary)
			}
			return
		}
	}
	sm.FrozenRated++
	wait := sm.CheckWait
	if wait == 0 {
		wait = st.CanaryEvery - 1
	}
	if st.CanaryEvery > 1 && sm.FrozenRated >= wait {
		if d, c := sm.CheckChallenger(); c >= 0 && sm.Tok.Acquire() {
			sm.FrozenRated = 0
			sm.Checks++
			sm.State = StateCanary
			sm.startTest(d, c, m)
			sm.transition(TrFrozenCanary)
		}
	}
}

// CheckChallenger is the challenger of the next check, with its
// dimension: in turn, the default threshold and the default cache policy
// while the frozen choice differs from them (rollback checks), and the
// other arms that act differently (a threshold routing the signature
// otherwise; a cache policy, hold first, when some requests take the large path)
// whose last test lost least, the one of the two dimensions that lost
// less first. (DimThreshold, -1) when there is none.
func (sm *Machine) CheckChallenger() (d, c int) {
	type cand struct{ d, c int }
	var cs []cand
	thOff, cacheMatters, cacheOff := sm.offDefault()
	if thOff {
		cs = append(cs, cand{DimThreshold, DefaultArm})
	}
	if cacheOff {
		cs = append(cs, cand{DimCache, CacheDefault})
	}
	// The other arm most worth checking: the one whose last test lost
	// least (untested arms share the loss of their routing class, and
	// pruned ones that of the arm that pruned them), then the better
	// rated.
	better := func(d, i, j int) bool {
		arms, _ := sm.arms(d)
		li, lj := sm.LostPerWin[d][i], sm.LostPerWin[d][j]
		return li < lj || li == lj && arms[i].Rating > arms[j].Rating
	}
	bt := -1
	for i := range sm.Strats {
		if i != sm.Best && i != DefaultArm && !sm.Sizes.Equivalent(i, sm.Best, &sm.Signature) &&
			(len(cs) == 0 || !sm.Sizes.Equivalent(i, DefaultArm, &sm.Signature) || sm.Best == DefaultArm) &&
			(bt < 0 || better(DimThreshold, i, bt)) {
			bt = i
		}
	}
	bc := -1
	if cacheMatters {
		for _, i := range []int{CacheHold, CacheLean} { // hold first, as in LEARN
			if i != sm.CBest && (bc < 0 || better(DimCache, i, bc)) {
				bc = i
			}
		}
	}
	// Of the two dimensions' candidates, the one that lost less comes
	// first; on a tie, the cache policy when the cache dimension was never
	// learned, else the threshold. So a cache policy the threshold phase
	// never tested (it judged the churn too low) is checked before a
	// threshold, and the wait before the first check (waitByBudget) is its
	// own, not a loser's.
	lc, lt := sm.LostPerWin[DimCache][max(bc, 0)], sm.LostPerWin[DimThreshold][max(bt, 0)]
	switch {
	case bt >= 0 && bc >= 0 && (lc < lt || lc == lt && !sm.CacheLearned):
		cs = append(cs, cand{DimCache, bc}, cand{DimThreshold, bt})
	case bt >= 0 && bc >= 0:
		cs = append(cs, cand{DimThreshold, bt}, cand{DimCache, bc})
	case bt >= 0:
		cs = append(cs, cand{DimThreshold, bt})
	case bc >= 0:
		cs = append(cs, cand{DimCache, bc})
	}
	if len(cs) == 0 {
		return DimThreshold, -1
	}
	k := cs[sm.Checks%len(cs)]
	return k.d, k.c
}

// offDefault reports whether the frozen threshold routes the signature
// otherwise than the default (th), whether the cache policy matters under
// it (cacheMatters: some requests take the large path, whether or not the
// cache dimension was learned: a threshold phase that judged the churn too
// low, on a BigCache not yet churning, is corrected by the checks), and
// whether the frozen cache policy is then not the default (cache).
func (sm *Machine) offDefault() (th, cacheMatters, cache bool) {
	th = sm.Best != DefaultArm && !sm.Sizes.Equivalent(DefaultArm, sm.Best, &sm.Signature)
	cacheMatters = sm.largeShare(sm.Best) >= MinLargeShare
	return th, cacheMatters, cacheMatters && sm.CBest != CacheDefault
}

// rollbackChallenger is the challenger of a degradation's check: the
// default threshold while the frozen one routes otherwise, else the
// default cache policy while the frozen one differs and matters;
// (DimThreshold, -1) when the site runs the defaults.
func (sm *Machine) rollbackChallenger() (d, c int) {
	th, _, cache := sm.offDefault()
	switch {
	case th:
		return DimThreshold, DefaultArm
	case cache:
		return DimCache, CacheDefault
	}
	return DimThreshold, -1
}

// stepCanary handles a rated CANARY window m: the check's test moves on;
// an adopted challenger becomes the frozen arm of its dimension (a
// rollback when it is the default), a rejected one waits by the budget.
func (sm *Machine) stepCanary(m *Metrics, st *Settings) {
	arms, _ := sm.arms(sm.Test.Dim)
	arms[sm.Test.Arm].Samples += m.Samples
	d, c := sm.Test.Dim, sm.Test.Arm
	switch sm.testStep(m, st) {
	case VerdictAdopt:
		*sm.incumbent(d) = c
		if d == DimThreshold && c == DefaultArm || d == DimCache && c == CacheDefault {
			sm.transition(TrRollback)
		} else {
			sm.transition(TrCanaryAdopt)
		}
		sm.endTest()
		sm.State = StateFrozen
		sm.newBaseline()
		sm.CheckWait = 0
	case VerdictReject:
		sm.transition(TrCanaryFrozen)
		sm.endTest()
		sm.State = StateFrozen
		sm.CheckWait = CheckWaitFor(sm.LostPerWin[d][c], st)
	}
}

// CheckWaitFor is how many frozen windows to wait before a check whose
// challenger lost lost of a window's throughput per challenger window in
// its last test: a losing check runs about two challenger windows, so
// 2 lost / canaryBudget windows keep the checks' cost within the budget;
// at least CanaryEvery-1 and at most MaxCanaryWait.
func CheckWaitFor(lost float64, st *Settings) int {
	w := float64(st.CanaryEvery - 1)
	if st.CanaryBudget > 0 && lost > 0 {
		w = max(w, math.Ceil(2*lost/st.CanaryBudget))
	}
	return int(min(w, MaxCanaryWait))
}
