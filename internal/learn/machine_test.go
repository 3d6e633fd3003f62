package learn

import (
	"math"
	"testing"
)

// TestSignTestRule: the sign test's p-values against hand-computed ones,
// the verdicts at the edges, and the rule's error rates over all its looks
// (the figures Settings.Confidence states): a challenger no better
// than the incumbent (wins a pair with probability 1/2) is adopted with
// probability 0.049; one that wins 9 pairs in 10 with 0.92.
func TestSignTestRule(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-4 }
	for _, c := range []struct {
		k, n int
		p    float64
	}{{7, 7, 1.0 / 128}, {5, 5, 1.0 / 32}, {10, 12, 79.0 / 4096}, {9, 12, 299.0 / 4096}, {0, 3, 1}, {3, 3, 0.125}} {
		if got := SignP(c.k, c.n); !near(got, c.p) {
			t.Errorf("SignP(%d, %d) = %v, want %v", c.k, c.n, got, c.p)
		}
	}
	st := Defaults()
	for _, c := range []struct {
		wins, n int
		med     float64
		want    int
	}{
		{6, 6, 1.5, VerdictNone},   // 6 of 6 would do (p 0.016) but adoption waits for minPairs
		{7, 7, 1.5, VerdictAdopt},  // p 0.008
		{7, 7, 0.97, VerdictNone},  // significant, but the median is worse than 1 - drawMargin
		{6, 7, 1.5, VerdictNone},   // p 0.06; 10 of 12 still possible
		{5, 7, 1.5, VerdictNone},   // 10 of 12 still possible
		{4, 7, 1.5, VerdictReject}, // 9 of 12 at best: p 0.07
		{0, 3, 0.5, VerdictReject}, // three pairs not won
		{1, 3, 0.5, VerdictNone},
		{10, 12, 1.2, VerdictAdopt},
		{9, 12, 1.2, VerdictReject},
	} {
		if got := TestVerdict(c.wins, c.n, c.med, &st); got != c.want {
			t.Errorf("TestVerdict(%d of %d, median %.2f) = %d, want %d", c.wins, c.n, c.med, got, c.want)
		}
	}
	// The rule's adoption probability, over every sequence of pair
	// outcomes, for a challenger that wins a pair with probability q.
	adopt := func(q float64) float64 {
		var walk func(wins, n int, pr float64) float64
		walk = func(wins, n int, pr float64) float64 {
			sum := 0.0
			for _, w := range []int{1, 0} {
				p := pr * q
				if w == 0 {
					p = pr * (1 - q)
				}
				switch TestVerdict(wins+w, n+1, 1.5, &st) {
				case VerdictAdopt:
					sum += p
				case VerdictNone:
					sum += walk(wins+w, n+1, p)
				}
			}
			return sum
		}
		return walk(0, 0, 1)
	}
	if a := adopt(0.5); a > 0.05 || !near(a, 0.0488) {
		t.Errorf("no better challenger adopted with probability %.4f, want 0.0488 (<= 1 - confidence)", a)
	}
	if a := adopt(0.9); a < 0.9 {
		t.Errorf("a challenger winning 9 pairs in 10 adopted with probability %.4f, want >= 0.9", a)
	}
	if a := adopt(0.2); a > 0.001 {
		t.Errorf("a challenger winning 1 pair in 5 adopted with probability %.4f", a)
	}
}

// token is a Token for one site alone.
type token struct{ held bool }

func (k *token) Acquire() bool { k.held = true; return true }
func (k *token) Release()      { k.held = false }
func (k *token) Busy() bool    { return false }

// TestMachineStep drives one machine with windows alone, no engine: every
// request is 300 KiB, so the thresholds split into two routings; the
// challenger (256 KiB, the largest of the other routing) runs at half the
// incumbent's throughput, loses three pairs, is rejected, and the site
// freezes on the default.
func TestMachineStep(t *testing.T) {
	var z Sizes
	for b := range NumBuckets - 1 {
		z[b] = uintptr(b+1) * 16 << 10 // bucket 18: 304 KiB
	}
	st := Defaults()
	st.MinLearnNs = 0
	var sm Machine
	sm.Sizes, sm.Tok = &z, &token{}
	sm.Init(AllPooled, 0, &st)
	if sm.Cur != DefaultArm || sm.State != StateLearn {
		t.Fatalf("start: arm %d, %v", sm.Cur, sm.State)
	}
	window := func(tput float64) Metrics {
		m := Metrics{SiteOps: 100, Tput: tput, Samples: 10, Draws: 10}
		m.Hist[18] = 10
		return m
	}
	var d Decision
	for i := 1; i <= 8; i++ {
		tput := 100.0
		if sm.Cur != sm.Best {
			tput = 50 // the challenger's window
		}
		m := window(tput)
		d = sm.Step(&m, int64(i), &st)
		if !d.Rated {
			t.Fatalf("window %d not rated", i)
		}
		if i == 2 && (d.Cur != 2 || !d.Switched || !sm.Test.On) {
			t.Fatalf("window 2: want the 256 KiB challenger's test, got arm %d (switched %v, test %v)", d.Cur, d.Switched, sm.Test.On)
		}
	}
	if sm.State != StateFrozen || sm.Best != DefaultArm || d.Cur != DefaultArm || !sm.Strats[2].Retired {
		t.Fatalf("after three lost pairs: %v on arm %d (decision %d), 256 KiB retired %v", sm.State, sm.Best, d.Cur, sm.Strats[2].Retired)
	}
	if len(d.Events) != 1 || d.Events[0].Tr != TrLearnFrozen || sm.Transitions[TrLearnFrozen] != 1 {
		t.Fatalf("events %+v, transitions %v", d.Events, sm.Transitions)
	}
	if sm.Strats[2].Losses != 3 || sm.Strats[DefaultArm].Wins != 3 {
		t.Fatalf("games: challenger %+v, incumbent %+v", sm.Strats[2], sm.Strats[DefaultArm])
	}
	unrated := Metrics{SiteOps: 1, Tput: 1}
	if d := sm.Step(&unrated, 9, &st); d.Rated || d.Switched {
		t.Fatalf("a window of one request: %+v", d)
	}
}

// testMachine is a machine on sizes of 16 KiB steps (bucket 18: 304 KiB,
// pooled under the default, large under 256 KiB and below), one site, no
// minimum learning time.
func testMachine() (*Machine, *Settings) {
	z := new(Sizes)
	for b := range NumBuckets - 1 {
		z[b] = uintptr(b+1) * 16 << 10
	}
	st := Defaults()
	st.MinLearnNs = 0
	sm := &Machine{Sizes: z, Tok: &token{}}
	sm.Init(AllPooled, 0, &st)
	return sm, &st
}

// win is a rated window of throughput tput (its settle included) whose
// 1000 sampled requests all fall in bucket b.
func win(tput float64, b int) Metrics {
	m := Metrics{SiteOps: 100, Tput: tput, FullTput: tput, Samples: 1000, Draws: 1000}
	m.Hist[b] = 1000
	return m
}

// frozenOn freezes sm on threshold arm th and cache arm c, the signature
// being bucket b.
func frozenOn(sm *Machine, st *Settings, th, c, b int) {
	sm.EpisodeHist = Hist{}
	sm.EpisodeHist[b] = 1000
	sm.Freeze(th, c, st)
}

// TestMachineAbort: a challenger whose first pair runs it at under
// AbortRatio of the incumbent is rejected after that one pair (one
// challenger window), the loss it measured kept for the check budget; at
// AbortRatio itself it runs its three pairs (TestMachineStep).
func TestMachineAbort(t *testing.T) {
	sm, st := testMachine()
	var i int64
	for sm.State == StateLearn {
		if i++; i > 4 {
			t.Fatalf("still in LEARN after %d windows: %+v", i-1, sm.Strats[2])
		}
		tput := 100.0
		if sm.Cur != sm.Best {
			tput = 30
		}
		m := win(tput, 18)
		sm.Step(&m, i, st)
	}
	if sm.Best != DefaultArm || sm.Strats[2].Losses != 1 || !sm.Strats[2].Retired || math.Abs(sm.LostPerWin[DimThreshold][2]-0.7) > 1e-9 {
		t.Fatalf("after one disastrous pair: best %d, challenger %+v, lost %v", sm.Best, sm.Strats[2], sm.LostPerWin[DimThreshold][2])
	}
	// A challenger that won pairs is not aborted by one bad window: it
	// wins 3 at 2x, loses one at 0.3x, wins 4 more and is adopted (7 of 8).
	sm, st = testMachine()
	chal := []float64{200, 200, 200, 30, 200, 200, 200, 200, 200}
	n := 0
	for i = 1; sm.Transitions[TrLearnAdopt] == 0; i++ {
		if i > 25 {
			t.Fatalf("not adopted after %d windows: %+v", i-1, sm.Strats[2])
		}
		tput := 100.0
		if sm.Cur != sm.Best {
			tput, n = chal[n], n+1
		}
		m := win(tput, 18)
		sm.Step(&m, i, st)
		if sm.State == StateLearn && !sm.Test.On && sm.Transitions[TrLearnAdopt] == 0 && n > 0 {
			t.Fatalf("the test ended after %d challenger windows, not adopted", n)
		}
	}
	if sm.Best != 2 || n != 8 || sm.Strats[2].Losses != 1 {
		t.Fatalf("adopted arm %d after %d challenger windows, %+v", sm.Best, n, sm.Strats[2])
	}
}

// TestMachineLostOutlasts: a challenger whose harm outlasts its window
// (the incumbent windows after it run at 60 against 100 before the test)
// is charged for the incumbent's lost throughput too, against the
// throughput before the test: 0.5 + 0.4 per challenger window, not the
// 0.24 the pairs' own references (80, 60, 60) give.
func TestMachineLostOutlasts(t *testing.T) {
	sm, st := testMachine()
	var i int64
	tested := false
	for sm.State == StateLearn {
		if i++; i > 10 {
			t.Fatalf("still in LEARN after %d windows", i-1)
		}
		tput := 100.0
		switch {
		case sm.Cur != sm.Best:
			tput, tested = 50, true
		case tested:
			tput = 60 // the incumbent, after the challenger's harm
		}
		m := win(tput, 18)
		sm.Step(&m, i, st)
	}
	if sm.Strats[2].Losses != 3 || math.Abs(sm.LostPerWin[DimThreshold][2]-0.9) > 1e-9 {
		t.Fatalf("challenger %+v, lost per window %v, want 0.9", sm.Strats[2], sm.LostPerWin[DimThreshold][2])
	}
	if w := CheckWaitFor(sm.LostPerWin[DimThreshold][2], st); w != 180 {
		t.Fatalf("its check waits %d windows, want 2*0.9/1%% = 180", w)
	}
}

// TestMachineDegradation: a degradation alarm (DegradeWindows windows
// under the baseline by more than Degrade) starts a rollback check at
// once when the frozen choice is not the default (the default threshold,
// else the default cache policy), and only a new baseline when it is:
// no arm is tested for an alarm there, and nothing re-learns.
func TestMachineDegradation(t *testing.T) {
	for _, c := range []struct {
		name         string
		th, cache, b int
		cacheLearned bool
		wantDim      int
		wantArm      int // -1: no check
	}{
		{"frozen on the default", DefaultArm, CacheDefault, 18, false, 0, -1},
		{"frozen on 256 KiB", 2, CacheDefault, 18, false, DimThreshold, DefaultArm},
		{"frozen on the hold policy", DefaultArm, CacheHold, NumBuckets - 1, true, DimCache, CacheDefault},
	} {
		sm, st := testMachine()
		st.CanaryEvery = 0 // no budgeted check in the way
		sm.CacheLearned = c.cacheLearned
		frozenOn(sm, st, c.th, c.cache, c.b)
		var i int64
		step := func(tput float64) {
			i++
			m := win(tput, c.b)
			sm.Step(&m, i, st)
		}
		for range st.DegradeWindows {
			step(100)
		}
		if sm.Baseline != 100 {
			t.Fatalf("%s: baseline %v", c.name, sm.Baseline)
		}
		for range st.DegradeWindows {
			step(70)
		}
		if sm.Transitions[TrDegraded] != 1 || sm.Baseline != 0 || sm.Transitions[TrShifted] != 0 || sm.State == StateLearn {
			t.Fatalf("%s: after the alarm %v, transitions %v, baseline %v", c.name, sm.State, sm.Transitions, sm.Baseline)
		}
		if c.wantArm < 0 {
			if sm.State != StateFrozen || sm.Test.On || sm.Cur != c.th || sm.CCur != c.cache {
				t.Fatalf("%s: %v, test %+v", c.name, sm.State, sm.Test)
			}
			continue
		}
		if sm.State != StateCanary || sm.Test.Dim != c.wantDim || sm.Test.Arm != c.wantArm || sm.Transitions[TrFrozenCanary] != 1 {
			t.Fatalf("%s: %v, test of dimension %d arm %d", c.name, sm.State, sm.Test.Dim, sm.Test.Arm)
		}
		// The default now wins every pair: rolled back.
		for w := 0; sm.State == StateCanary; w++ {
			if w > 2*st.MinPairs+2 {
				t.Fatalf("%s: the check runs on", c.name)
			}
			tput := 70.0
			if sm.Cur != sm.Best || sm.CCur != sm.CBest {
				tput = 100
			}
			step(tput)
		}
		if sm.Transitions[TrRollback] != 1 || sm.Cur != DefaultArm || sm.CCur != CacheDefault {
			t.Fatalf("%s: after the check %v on %d/%d, transitions %v", c.name, sm.State, sm.Cur, sm.CCur, sm.Transitions)
		}
	}
}

// TestMachineRecallWait: a recalled choice's first check waits by the
// budget, as after a freeze: the default that lost 30% of a window per
// challenger window waits 2*0.3/1% = 60 windows, not CanaryEvery-1.
func TestMachineRecallWait(t *testing.T) {
	sm, st := testMachine()
	frozenOn(sm, st, 2, CacheDefault, 18)
	var other Hist
	other[20] = 1000 // 336 KiB: the default pools it, 256 KiB does not
	sm.Recall[sm.NRecall] = Recalled{Sig: other, Best: 2, CBest: CacheDefault}
	sm.NRecall++
	sm.LostPerWin[DimThreshold][DefaultArm] = 0.3
	m := win(100, 20)
	sm.Step(&m, 1, st)
	if sm.Transitions[TrRecalled] != 1 || sm.State != StateFrozen || sm.Best != 2 {
		t.Fatalf("not recalled: %v on %d, %v", sm.State, sm.Best, sm.Transitions)
	}
	if want := CheckWaitFor(0.3, st); sm.CheckWait != want || want != 60 {
		t.Fatalf("check wait %d after the recall, want %d (60)", sm.CheckWait, want)
	}
}

// TestMachineShiftConfirmed: one window far from the signature (a window
// that straddles a change, its histogram a mix) changes nothing; the
// next one decides: back on the signature, nothing happened; near a
// remembered distribution, that choice is recalled; far from all, LEARN.
func TestMachineShiftConfirmed(t *testing.T) {
	sm, st := testMachine()
	frozenOn(sm, st, 2, CacheDefault, 18)
	var i int64
	step := func(b int) {
		i++
		m := win(100, b)
		sm.Step(&m, i, st)
	}
	step(30)
	step(18)
	if sm.State != StateFrozen || sm.ShiftSeen || sm.Transitions[TrShifted] != 0 {
		t.Fatalf("one odd window: %v, shift seen %v", sm.State, sm.ShiftSeen)
	}
	var other Hist
	other[20] = 1000
	sm.Recall[sm.NRecall] = Recalled{Sig: other, Best: 3, CBest: CacheDefault}
	sm.NRecall++
	step(30)
	step(20)
	if sm.State != StateFrozen || sm.Best != 3 || sm.Transitions[TrRecalled] != 1 || sm.Transitions[TrShifted] != 0 {
		t.Fatalf("a mixed window, then a remembered one: %v on %d, %v", sm.State, sm.Best, sm.Transitions)
	}
	step(30)
	step(30)
	if sm.State != StateLearn || sm.Transitions[TrShifted] != 1 || sm.Best != 3 {
		t.Fatalf("two windows far from all: %v on %d, %v", sm.State, sm.Best, sm.Transitions)
	}
}

// TestMachineLearnShift: the shift rule within a LEARN episode. A shift
// confirmed by a second window starts the episode's histogram anew, so
// the site freezes on the new distribution's signature, not a mix of
// both; a window near a remembered distribution ends the episode on that
// choice at once, its test dropped and the token given back.
func TestMachineLearnShift(t *testing.T) {
	sm, st := testMachine()
	var i int64
	step := func(b int) {
		i++
		tput := 100.0
		if sm.Cur != sm.Best {
			tput = 50 // every challenger loses
		}
		m := win(tput, b)
		sm.Step(&m, i, st)
	}
	step(18)
	step(18)
	step(18)
	if sm.State != StateLearn || !sm.Test.On {
		t.Fatalf("three windows on 304 KiB: %v, test %v", sm.State, sm.Test.On)
	}
	step(30)
	if sm.Transitions[TrLearnShift] != 0 || !sm.ShiftSeen {
		t.Fatalf("one odd window: %v, shift seen %v", sm.Transitions, sm.ShiftSeen)
	}
	step(30)
	if sm.Transitions[TrLearnShift] != 1 || sm.ShiftSeen || sm.EpisodeHist[18] != 0 || sm.State != StateLearn {
		t.Fatalf("a confirmed shift: %v, shift seen %v, episode histogram %v, %v", sm.Transitions, sm.ShiftSeen, sm.EpisodeHist, sm.State)
	}
	for sm.State == StateLearn {
		if i > 40 {
			t.Fatalf("still in LEARN after %d windows", i)
		}
		step(30)
	}
	if sm.Signature[18] != 0 || sm.Signature[30] == 0 {
		t.Fatalf("frozen on a mixed signature: %v", sm.Signature)
	}

	sm, st = testMachine()
	var other Hist
	other[20] = 1000
	sm.Recall[0] = Recalled{Sig: other, Best: 3, CBest: CacheDefault}
	sm.NRecall = 1
	i = 0
	step(18)
	step(18)
	step(18)
	if !sm.Test.On || !sm.Tok.(*token).held {
		t.Fatalf("no test in progress: %+v", sm.Test)
	}
	step(20)
	if sm.State != StateFrozen || sm.Best != 3 || sm.Cur != 3 || sm.Transitions[TrLearnRecalled] != 1 || sm.Test.On || sm.Tok.(*token).held {
		t.Fatalf("a remembered distribution in LEARN: %v on %d (running %d), %v, test %v, token held %v",
			sm.State, sm.Best, sm.Cur, sm.Transitions, sm.Test.On, sm.Tok.(*token).held)
	}
}

// TestMachineChurnJudged: a site whose requests all take the large path
// (every threshold routes them alike: no challenger) does not leave the
// threshold phase on a calm BigCache before MinChurnWindows windows; churn
// seen by then takes it to the cache phase, none freezes it.
func TestMachineChurnJudged(t *testing.T) {
	for _, churnAt := range []int{6, -1} {
		sm, st := testMachine()
		for i := 1; sm.State == StateLearn && sm.Phase == DimThreshold; i++ {
			if i > MinChurnWindows+1 {
				t.Fatalf("churn at %d: still in the threshold phase after %d windows", churnAt, i-1)
			}
			m := win(100, NumBuckets-1)
			if i == churnAt {
				m.Churn = 100000 // a quarter of the episode's estimated large requests
			}
			sm.Step(&m, int64(i), st)
			if i < min(churnAt, MinChurnWindows) && (sm.State != StateLearn || sm.Phase != DimThreshold) {
				t.Fatalf("churn at %d: left the threshold phase after %d windows: %v", churnAt, i, sm.State)
			}
		}
		switch {
		case churnAt > 0 && (sm.Phase != DimCache || sm.Transitions[TrLearnCache] != 1 || sm.EpisodeWins != churnAt):
			t.Errorf("churn at %d: phase %d after %d windows, want the cache phase after %d", churnAt, sm.Phase, sm.EpisodeWins, churnAt)
		case churnAt < 0 && (sm.State != StateFrozen || sm.EpisodeWins != MinChurnWindows):
			t.Errorf("no churn: %v after %d windows, want FROZEN after %d", sm.State, sm.EpisodeWins, MinChurnWindows)
		}
	}
}

// TestMachineCheckCacheUnlearned: a site frozen on the defaults without
// having learned the cache dimension (its churn judged too low), some of
// its requests on the large path, has the hold policy checked; one whose
// requests are all pooled has no cache check.
func TestMachineCheckCacheUnlearned(t *testing.T) {
	sm, st := testMachine()
	frozenOn(sm, st, DefaultArm, CacheDefault, NumBuckets-1)
	if d, c := sm.CheckChallenger(); sm.CacheLearned || d != DimCache || c != CacheHold {
		t.Fatalf("all large, cache not learned: check of dimension %d arm %d, want the hold policy", d, c)
	}
	sm, st = testMachine()
	frozenOn(sm, st, DefaultArm, CacheDefault, 18)
	if d, c := sm.CheckChallenger(); d != DimThreshold || c > 2 {
		t.Fatalf("all pooled: check of dimension %d arm %d, want a threshold of the other routing (64-256 KiB)", d, c)
	}
	// Some requests large, the cache not learned, and the thresholds that
	// route otherwise lost their tests (ring-touch-64K-2M, when its
	// threshold phase judged the churn too low): the untested hold policy
	// is checked first, and soon, not after the wait the thresholds' loss
	// sets (a round of the suite spent its measured half at a thirtieth
	// of hold's throughput, its one check a threshold's).
	sm, st = testMachine()
	for i := range DefaultArm {
		sm.LostPerWin[DimThreshold][i] = 0.9
	}
	sm.EpisodeHist = Hist{}
	sm.EpisodeHist[31] = 800 // 512 KiB: pooled by the default, large under 64-256 KiB
	sm.EpisodeHist[NumBuckets-1] = 200
	sm.Freeze(DefaultArm, CacheDefault, st)
	if d, c := sm.CheckChallenger(); sm.CacheLearned || d != DimCache || c != CacheHold {
		t.Fatalf("some large, cache not learned, thresholds lost: check of dimension %d arm %d, want the hold policy", d, c)
	}
	if want := CheckWaitFor(0, st); sm.CheckWait != want {
		t.Errorf("first check after %d windows, want %d (hold has lost nothing)", sm.CheckWait, want)
	}
	// The same with no threshold tested either (both lost nothing): the
	// dimension never learned, the cache, comes first.
	for i := range DefaultArm {
		sm.LostPerWin[DimThreshold][i] = 0
	}
	sm.Freeze(DefaultArm, CacheDefault, st)
	if d, c := sm.CheckChallenger(); d != DimCache || c != CacheHold {
		t.Fatalf("nothing lost, cache not learned: check of dimension %d arm %d, want the hold policy", d, c)
	}
}
