package hakmem

import (
	"bytes"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeLearn installs test settings and a manual environment: a clock the
// test moves (clk, ns), every request sampled, the process CPU time and
// the sites' requests from testCPU and testOps, no goroutine. It forgets
// every site's learning state and restores everything afterwards.
func fakeLearn(t *testing.T, st learnSettings, clk *atomic.Int64) {
	t.Helper()
	ensureInit() // first use installs the configured settings: do it before ours
	stopLearner()
	oldSt, oldEnv, oldOn := learner.st.Load(), learner.env.Load(), learner.on.Load()
	learner.st.Store(&st)
	learner.env.Store(&learnEnv{clock: clk.Load, sample: func() bool { return true }, manual: true,
		cpu: testCPU.Load, ops: func(sid int32) uint64 { return testOps[sid].Load() }})
	forgetLearning()
	t.Cleanup(func() {
		learner.on.Store(oldOn)
		stopLearner()
		forgetLearning()
		learner.st.Store(oldSt)
		learner.env.Store(oldEnv)
	})
}

// testCPU and testOps are fakeLearn's process CPU clock and per-site
// request counts: feed moves them, so that a window's throughput is the
// requests it fed over their cost.
var (
	testCPU atomic.Int64
	testOps [maxSites]atomic.Uint64
)

// forgetLearning drops every site's learning state and gives each site
// that had one its default threshold back (fakeLearn, acceptLearnEnv), and
// frees the tester token.
func forgetLearning() {
	learner.tester.Store(0)
	for i := range learner.sites {
		if sl := learner.sites[i].Load(); sl != nil {
			sl.site.setThreshold(0)
			learner.sites[i].Store(nil)
		}
	}
}

// testSettings are the defaults with sampling of every request, no minimum
// learning time and ratings that move after 50 samples.
func testSettings() learnSettings {
	st := defaultLearnSettings()
	st.mode = learnLive
	st.sampleEvery = 1
	st.minLearnNs = 0
	st.minWindowOps = 50
	return st
}

// spread, as feed's size, cycles through one size between every two
// neighbouring candidate thresholds (and one above the last but pooled), so
// that no two strategies are equivalent.
const spread = -1

// spreadSizes are spread's sizes: 100, 200, 400 and 800 KiB.
var spreadSizes = [...]int{100 << 10, 200 << 10, 400 << 10, 800 << 10}

// feed records n synthetic samples of size bytes (spread: spreadSizes in
// turn) costing ns each in sl's window, as many requests of the site
// costing as much process CPU time (the window's throughput is 1e9/ns
// requests per CPU-second), adds pages fresh pages, moves the clock by a
// window and closes it.
func feed(sl *siteLearn, clk *atomic.Int64, n, size int, ns int64, pages uint64) {
	testOps[sl.sid].Add(uint64(n))
	testCPU.Add(int64(n) * ns)
	sl.mu.Lock()
	for i := range n {
		sz := size
		if size == spread {
			sz = spreadSizes[i%len(spreadSizes)]
		}
		sl.prof.record(sz, uintptr(sz), ns)
	}
	sl.mu.Unlock()
	learnMaps[sl.sid].pages.Add(pages)
	st := learner.st.Load()
	clk.Add(st.windowNs)
	sl.step(clk.Load(), st, learner.env.Load())
}

// newTestSiteLearn creates the learning state of a fresh site named name.
func newTestSiteLearn(t *testing.T, name string, clk *atomic.Int64) *siteLearn {
	t.Helper()
	s := NewSite(name)
	if s.id >= maxSites {
		t.Skip("too many sites")
	}
	return learnSite(s, s.id, clk.Load(), learner.st.Load(), learner.env.Load())
}

func TestELOArithmetic(t *testing.T) {
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	// Equal ratings: E = 1/(1+10^0) = 0.5; a win moves both by 32*0.5 = 16.
	if e := eloExpected(1500, 1500); e != 0.5 {
		t.Errorf("E(1500,1500) = %v, want 0.5", e)
	}
	if a, b := eloUpdate(1500, 1500, 1, 32); a != 1516 || b != 1484 {
		t.Errorf("win at 1500/1500: %v %v, want 1516 1484", a, b)
	}
	// 1600 against 1400: E = 1/(1+10^(-200/400)) = 1/(1+0.316227766) =
	// 0.759746926647958. A loss: 1600 - 32*0.759746926647958 =
	// 1575.688098347265; 1400 + 24.311901652735 = 1424.311901652735.
	if e := eloExpected(1600, 1400); !near(e, 0.759746926647958) {
		t.Errorf("E(1600,1400) = %.15f", e)
	}
	if a, b := eloUpdate(1600, 1400, 0, 32); !near(a, 1575.688098347265) || !near(b, 1424.311901652735) {
		t.Errorf("loss at 1600/1400: %.12f %.12f", a, b)
	}
	// A draw: 1600 + 32*(0.5-0.759746926647958) = 1591.688098347265.
	if a, b := eloUpdate(1600, 1400, 0.5, 32); !near(a, 1591.688098347265) || !near(b, 1408.311901652735) {
		t.Errorf("draw at 1600/1400: %.12f %.12f", a, b)
	}
	// The sum of the ratings is conserved.
	if a, b := eloUpdate(1437, 1712, 1, 32); !near(a+b, 1437+1712) {
		t.Errorf("ratings not conserved: %v + %v", a, b)
	}
	var x, y strategy
	x.rating, y.rating = 1500, 1500
	play(&x, &y, 1, 32)
	play(&x, &y, 0.5, 32)
	if x.wins != 1 || y.losses != 1 || x.draws != 1 || y.draws != 1 {
		t.Errorf("counts: %+v %+v", x, y)
	}
}

func TestCompositeScore(t *testing.T) {
	st := defaultLearnSettings()
	// CPU 100 vs 300: share 300/400 = 0.75; faults 0 vs 0: 0.5; memory 50
	// vs 50: 0.5. 0.4*0.75 + 0.3*0.5 + 0.3*0.5 = 0.6.
	a := windowMetrics{cpuNsPerOp: 100, memBytes: 50}
	b := windowMetrics{cpuNsPerOp: 300, memBytes: 50}
	if s := compositeScore(&a, &b, &st); math.Abs(s-0.6) > 1e-12 {
		t.Errorf("score = %v, want 0.6", s)
	}
	// Faults 1 vs 3 (share 0.75), the rest equal: 0.4*0.5 + 0.3*0.75 + 0.3*0.5 = 0.575.
	a, b = windowMetrics{cpuNsPerOp: 1, faultsPerOp: 1, memBytes: 1}, windowMetrics{cpuNsPerOp: 1, faultsPerOp: 3, memBytes: 1}
	if s := compositeScore(&a, &b, &st); math.Abs(s-0.575) > 1e-12 {
		t.Errorf("score = %v, want 0.575", s)
	}
	for _, c := range []struct{ score, want float64 }{{0.6, 1}, {0.4, 0}, {0.51, 0.5}, {0.49, 0.5}} {
		if g := gameResult(c.score, 0.02); g != c.want {
			t.Errorf("gameResult(%v) = %v, want %v", c.score, g, c.want)
		}
	}
}

func TestTVD(t *testing.T) {
	var a, b sizeHist
	a[0], a[1] = 1, 1
	b[1], b[2] = 5, 5
	// (0.5, 0.5, 0) against (0, 0.5, 0.5): (0.5 + 0 + 0.5)/2 = 0.5.
	if d := tvd(&a, &b); math.Abs(d-0.5) > 1e-12 {
		t.Errorf("tvd = %v, want 0.5", d)
	}
	if d := tvd(&a, &a); d != 0 {
		t.Errorf("tvd(a, a) = %v", d)
	}
	var c sizeHist
	c[7] = 3
	if d := tvd(&a, &c); d != 1 {
		t.Errorf("disjoint tvd = %v, want 1", d)
	}
	if d := tvd(&a, &sizeHist{}); d != 0 {
		t.Errorf("tvd with empty = %v, want 0", d)
	}
	if sizeBucket(maxSmall+1) != numClasses || sizeBucket(100<<10) != int(sizeClass(100<<10)) {
		t.Error("sizeBucket")
	}
}

// costModel is a synthetic site: ns per request for each strategy, the
// best being 256 KiB (index 2).
func costModel(i int) int64 { return []int64{900, 600, 200, 500, 800}[i] }

// learnToFrozen drives sl through LEARN on costModel until it freezes and
// returns the number of windows it took.
func learnToFrozen(t *testing.T, sl *siteLearn, clk *atomic.Int64) int {
	t.Helper()
	return learnToFrozenOn(t, sl, clk, spread)
}

// learnToFrozenOn is learnToFrozen with requests of size bytes (or spread).
func learnToFrozenOn(t *testing.T, sl *siteLearn, clk *atomic.Int64, size int) int {
	t.Helper()
	for w := 1; w <= 100; w++ {
		feed(sl, clk, 100, size, costModel(sl.cur), 0)
		if sl.state == stateFrozen {
			return w
		}
	}
	t.Fatalf("still %v after 100 windows: %+v", sl.state, sl.strats)
	return 0
}

func TestLearnConverges(t *testing.T) {
	var clk atomic.Int64
	fakeLearn(t, testSettings(), &clk)
	sl := newTestSiteLearn(t, "learn-converges", &clk)
	if sl.cur != numStrategies-1 || sl.state != stateLearn {
		t.Fatalf("starts on %d in %v, want the default (1 MiB) in LEARN", sl.cur, sl.state)
	}
	w := learnToFrozen(t, sl, &clk)
	if sl.cur != 2 || sl.best != 2 {
		t.Fatalf("frozen on %d, want 2 (256 KiB): %+v", sl.cur, sl.strats)
	}
	if got := sl.site.threshold.Load(); got != 256<<10 {
		t.Fatalf("published threshold %d, want 256 KiB", got)
	}
	if sl.transitions[trLearnFrozen] != 1 {
		t.Errorf("LEARN->FROZEN counted %d", sl.transitions[trLearnFrozen])
	}
	var retired int
	for _, s := range sl.strats {
		if s.retired {
			retired++
		}
	}
	if retired != 2 {
		t.Errorf("%d retired, want 2 (the two challengers rejected against 256 KiB)", retired)
	}
	// 512 KiB then 256 KiB were adopted (one test each), 128 and 64 KiB
	// rejected.
	if sl.transitions[trLearnAdopt] != 2 || !sl.strats[0].retired || !sl.strats[1].retired {
		t.Errorf("adoptions %d, retired %v %v", sl.transitions[trLearnAdopt], sl.strats[0].retired, sl.strats[1].retired)
	}
	t.Logf("frozen after %d windows", w)
	var b bytes.Buffer
	if err := writeLeaderboard(&b); err != nil || !strings.Contains(b.String(), "256 KiB") || !strings.Contains(b.String(), "FROZEN") {
		t.Errorf("leaderboard (%v):\n%s", err, b.String())
	}
	t.Log("\n" + b.String())
}

func TestLearnMinSamplesAndTime(t *testing.T) {
	var clk atomic.Int64
	st := testSettings()
	st.minLearnNs = int64(time.Hour)
	fakeLearn(t, st, &clk)
	sl := newTestSiteLearn(t, "learn-min", &clk)
	// 49 requests: unrated; nothing moves, the strategy stays.
	feed(sl, &clk, 49, spread, 100, 0)
	if sl.cur != numStrategies-1 || sl.episodeWins != 0 || sl.strats[sl.cur].samples != 0 || sl.prof.unrated != 1 {
		t.Fatalf("an unrated window changed the state: cur %d %+v", sl.cur, sl.strats[sl.cur])
	}
	for range 100 {
		feed(sl, &clk, 100, spread, costModel(sl.cur), 0)
	}
	if sl.state != stateLearn {
		t.Fatalf("froze before minLearnNs")
	}
	if len(sl.todo) != 0 || sl.test.on || sl.best != 2 || sl.cur != 2 {
		t.Fatalf("todo %v, test %v, incumbent %d running %d: the only obstacle should be the time", sl.todo, sl.test.on, sl.best, sl.cur)
	}
}

// TestSignTestRule: the sign test's p-values against hand-computed ones,
// the verdicts at the edges, and the rule's error rates over all its looks
// (the figures learnSettings.confidence states): a challenger no better
// than the incumbent (wins a pair with probability 1/2) is adopted with
// probability 0.049; one that wins 9 pairs in 10 with 0.92.
func TestSignTestRule(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-4 }
	for _, c := range []struct {
		k, n int
		p    float64
	}{{7, 7, 1.0 / 128}, {5, 5, 1.0 / 32}, {10, 12, 79.0 / 4096}, {9, 12, 299.0 / 4096}, {0, 3, 1}, {3, 3, 0.125}} {
		if got := signP(c.k, c.n); !near(got, c.p) {
			t.Errorf("signP(%d, %d) = %v, want %v", c.k, c.n, got, c.p)
		}
	}
	st := defaultLearnSettings()
	for _, c := range []struct {
		wins, n int
		med     float64
		want    int
	}{
		{6, 6, 1.5, verdictNone},   // 6 of 6 would do (p 0.016) but adoption waits for minPairs
		{7, 7, 1.5, verdictAdopt},  // p 0.008
		{7, 7, 0.97, verdictNone},  // significant, but the median is worse than 1 - drawMargin
		{6, 7, 1.5, verdictNone},   // p 0.06; 10 of 12 still possible
		{5, 7, 1.5, verdictNone},   // 10 of 12 still possible
		{4, 7, 1.5, verdictReject}, // 9 of 12 at best: p 0.07
		{0, 3, 0.5, verdictReject}, // three pairs not won
		{1, 3, 0.5, verdictNone},
		{10, 12, 1.2, verdictAdopt},
		{9, 12, 1.2, verdictReject},
	} {
		if got := testVerdict(c.wins, c.n, c.med, &st); got != c.want {
			t.Errorf("testVerdict(%d of %d, median %.2f) = %d, want %d", c.wins, c.n, c.med, got, c.want)
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
				switch testVerdict(wins+w, n+1, 1.5, &st) {
				case verdictAdopt:
					sum += p
				case verdictNone:
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

// TestLearnKeepsDefault: a challenger that is no better, or a little
// worse, is not adopted (the default stays), and one whose throughput is
// the same wins only through the composite (here: it maps fewer pages).
func TestLearnKeepsDefault(t *testing.T) {
	var clk atomic.Int64
	fakeLearn(t, testSettings(), &clk)
	// 300 KiB: two routings. Large (0-2) within the noise of pooled (3, 4)
	// but 3% slower: never adopted.
	sl := newTestSiteLearn(t, "learn-keeps-default", &clk)
	for w := 0; sl.state != stateFrozen; w++ {
		if w > 60 {
			t.Fatalf("not frozen after 60 windows")
		}
		ns := int64(1000)
		if sl.cur <= 2 {
			ns = 1030 + int64(w%3)*20 // 3-7% slower
		}
		feed(sl, &clk, 100, 300<<10, ns, 0)
	}
	if sl.best != defaultArm || sl.transitions[trLearnAdopt] != 0 {
		t.Errorf("froze on %d KiB after %d adoptions, want the default", thresholdCandidates[sl.best]>>10, sl.transitions[trLearnAdopt])
	}
	// The same throughput, but the default maps 100 fresh pages a window
	// (1 fault per request) and the challenger none: the composite breaks
	// every tie for the challenger.
	sl2 := newTestSiteLearn(t, "learn-tie-break", &clk)
	for w := 0; sl2.state != stateFrozen; w++ {
		if w > 60 {
			t.Fatalf("not frozen after 60 windows")
		}
		pages := uint64(0)
		if sl2.cur > 2 {
			pages = 100
		}
		feed(sl2, &clk, 100, 300<<10, 1000, pages)
	}
	if sl2.best > 2 || sl2.transitions[trLearnAdopt] != 1 {
		t.Errorf("tie-break: froze on %d KiB after %d adoptions, want a large routing", thresholdCandidates[sl2.best]>>10, sl2.transitions[trLearnAdopt])
	}
}

// frozenSite returns a site frozen on costModel's best (index 2).
func frozenSite(t *testing.T, name string, st learnSettings) (*siteLearn, *atomic.Int64) {
	t.Helper()
	return frozenSiteOn(t, name, st, spread)
}

// frozenSiteOn is frozenSite learned on requests of size bytes (or spread).
func frozenSiteOn(t *testing.T, name string, st learnSettings, size int) (*siteLearn, *atomic.Int64) {
	t.Helper()
	clk := new(atomic.Int64)
	fakeLearn(t, st, clk)
	sl := newTestSiteLearn(t, name, clk)
	learnToFrozenOn(t, sl, clk, size)
	return sl, clk
}

// TestLearnCheck: a frozen site checks the default (a rollback check) after
// canaryEvery-1 windows; a losing default is rejected after three pairs
// and the frozen arm runs again; a default that has become better is
// adopted back (rollback).
func TestLearnCheck(t *testing.T) {
	st := testSettings()
	st.canaryEvery = 4  // 3 frozen windows, then a check
	st.canaryBudget = 0 // and after a rejected one, 3 again
	sl, clk := frozenSite(t, "learn-check", st)
	for w := range 3 {
		if sl.state != stateFrozen {
			t.Fatalf("window %d: %v, want FROZEN", w, sl.state)
		}
		feed(sl, clk, 100, spread, 200, 0)
	}
	if sl.state != stateCanary || sl.transitions[trFrozenCanary] != 1 || sl.cur != defaultArm || !sl.test.on {
		t.Fatalf("state %v, cur %d, best %d: want CANARY on the default", sl.state, sl.cur, sl.best)
	}
	if got := sl.site.threshold.Load(); got != thresholdCandidates[sl.cur] {
		t.Fatalf("check threshold %d not published", got)
	}
	losses := sl.strats[defaultArm].losses
	for w := 0; sl.state == stateCanary; w++ {
		if w > 6 {
			t.Fatal("a losing check still runs after 3 pairs")
		}
		feed(sl, clk, 100, spread, costModel(sl.cur), 0) // the default: 800 ns against 200
	}
	if sl.state != stateFrozen || sl.cur != 2 || sl.transitions[trCanaryFrozen] != 1 || sl.strats[defaultArm].losses != losses+3 {
		t.Fatalf("after a losing check: %v cur %d %+v", sl.state, sl.cur, sl.strats[defaultArm])
	}
	// The workload changed where the histogram cannot see it: the default
	// now costs 100 ns, the frozen 256 KiB 200.
	for w := 0; sl.transitions[trRollback] == 0; w++ {
		if w > 30 {
			t.Fatalf("no rollback after 30 windows: %v", sl.state)
		}
		ns := int64(200)
		if sl.cur == defaultArm {
			ns = 100
		}
		feed(sl, clk, 100, spread, ns, 0)
	}
	if sl.state != stateFrozen || sl.best != defaultArm || sl.site.threshold.Load() != maxSmall {
		t.Fatalf("after the rollback: %v best %d threshold %d", sl.state, sl.best, sl.site.threshold.Load())
	}
}

func TestLearnDegradation(t *testing.T) {
	st := testSettings()
	st.canaryEvery = 0 // no check in the way
	sl, clk := frozenSite(t, "learn-degrade", st)
	for range st.degradeWindows {
		feed(sl, clk, 100, spread, 200, 0) // the baseline: their mean
	}
	if sl.baseline != 5e6 {
		t.Fatalf("baseline %v after %d windows, want 5e6 requests per CPU-second", sl.baseline, st.degradeWindows)
	}
	// 1.2x the time (throughput 0.83x): not degraded; 1.5x twice, a normal
	// window (the count restarts), then 1.5x three times.
	for i, ns := range []int64{240, 300, 300, 200, 300, 300} {
		feed(sl, clk, 100, spread, ns, 0)
		if sl.state != stateFrozen {
			t.Fatalf("window %d left FROZEN early", i)
		}
	}
	feed(sl, clk, 100, spread, 300, 0)
	if sl.state != stateLearn || sl.transitions[trDegraded] != 1 || sl.best != 2 {
		t.Fatalf("after 3 degraded windows: %v, incumbent %d", sl.state, sl.best)
	}
}

func TestLearnShift(t *testing.T) {
	st := testSettings()
	sl, clk := frozenSiteOn(t, "learn-shift", st, 300<<10)
	// A share of the requests moves to another class. With 1000 samples
	// over 2 buckets the noise bound is sqrt(2/1000)/2 = 0.022: TVD 0.2
	// stays, 0.3 leaves (0.278 >= 0.25).
	mixed := func(moved int) {
		sl.mu.Lock()
		for i := range 1000 {
			size := 300 << 10
			if i < moved {
				size = 900 << 10
			}
			sl.prof.record(size, uintptr(size), 200)
		}
		sl.mu.Unlock()
		testOps[sl.sid].Add(1000)
		testCPU.Add(1000 * 200)
		clk.Add(st.windowNs)
		sl.step(clk.Load(), learner.st.Load(), learner.env.Load())
	}
	mixed(200)
	if sl.state != stateFrozen {
		t.Fatalf("TVD 0.2 left FROZEN")
	}
	// The noise bound over 2 occupied buckets and 8 samples:
	// sqrt(2/8)/2 = 0.25.
	if n := tvdNoise(&sizeHist{1: 1}, &sizeHist{2: 1}, 8); math.Abs(n-0.25) > 1e-12 {
		t.Errorf("tvdNoise(2 buckets, 8 samples) = %v, want 0.25", n)
	}
	mixed(300)
	if sl.state != stateLearn || sl.transitions[trShifted] != 1 {
		t.Fatalf("TVD 0.3: %v", sl.state)
	}
	// The window that showed the shift is the new episode's first: it ran
	// the frozen arm (the incumbent) on the new sizes (300 and 900 KiB).
	// Three routings of those exist (64 to 256 KiB: both large; 512 KiB:
	// 300 KiB pooled; 1 MiB: both pooled): after one more window the two
	// others are listed as challengers, nearest first, and the first test
	// starts.
	if sl.strats[sl.best].epWindows != 1 || sl.best != 2 {
		t.Fatalf("the frozen arm has %d windows in the new episode, want 1 (the shift window); incumbent %d", sl.strats[sl.best].epWindows, sl.best)
	}
	feed(sl, clk, 100, 900<<10, 200, 0)
	if !sl.test.on || sl.test.arm != 3 || sl.cur != 3 || len(sl.todo) != 1 || sl.todo[0] != 4 {
		t.Errorf("after the shift: test %v of %d, todo %v", sl.test.on, sl.test.arm, sl.todo)
	}
}

// TestLearnWindowMeasure: the learner goroutine's rule (learnStepAll, not
// forced): a window closes windowNs after its measured part began, once
// the site made minWindowOps requests (or after maxWindowStretch
// windowNs); after a switch of strategy the measured part starts settle x
// windowNs after the window; a window's throughput is its requests over
// the process CPU time of its measured part.
func TestLearnWindowMeasure(t *testing.T) {
	var clk atomic.Int64
	st := testSettings()
	st.minWindowOps = 100
	fakeLearn(t, st, &clk)
	env := *learner.env.Load()
	env.manual = false // the goroutine's rule; learning is not live, so none starts
	learner.env.Store(&env)
	sl := newTestSiteLearn(t, "learn-window-measure", &clk)
	closed := func() uint64 {
		sl.mu.Lock()
		defer sl.mu.Unlock()
		return sl.prof.windows
	}
	if !sl.win.measuring {
		t.Fatal("the first window does not measure from its start")
	}
	testOps[sl.sid].Add(50)
	testCPU.Add(1e6)
	clk.Add(st.windowNs)
	// 50 requests of 100 in a window: the learner comes back when the
	// other 50 should be there, a window later.
	if next := learnStepAll(false); closed() != 0 || next != clk.Load()+st.windowNs {
		t.Fatalf("windows %d, next event %d: want none closed, the next at +windowNs", closed(), next-clk.Load())
	}
	testOps[sl.sid].Add(49)
	// 99 of 100 after 1.1 windows: the last one is due in 1/99 of that.
	clk.Add(st.windowNs / 10)
	if next := learnStepAll(false); closed() != 0 || next != clk.Load()+(st.windowNs*11/10)/99 {
		t.Fatalf("closed with 99 requests of 100, or next event %d, want %d", next-clk.Load(), (st.windowNs*11/10)/99)
	}
	testOps[sl.sid].Add(1)
	if next := learnStepAll(false); closed() != 1 || next != clk.Load()+st.windowNs {
		t.Fatalf("windows %d, next event %d: want 1 closed, the next at +windowNs", closed(), next-clk.Load())
	}
	// A quiet site: closed unrated after maxWindowStretch windows.
	clk.Add(maxWindowStretch * st.windowNs)
	learnStepAll(false)
	if closed() != 2 || sl.prof.unrated != 1 {
		t.Fatalf("windows %d, unrated %d: want a stretched window closed unrated", closed(), sl.prof.unrated)
	}
	// A switch: the measured part waits for the settle time.
	sl.mu.Lock()
	sl.cur = 0
	sl.beginWindow(clk.Load(), true, &st, &env)
	sl.mu.Unlock()
	settle := int64(float64(st.windowNs) * st.settle)
	testOps[sl.sid].Add(1000) // the settle's requests do not count
	testCPU.Add(1e6)
	if next := learnStepAll(false); sl.win.measuring || next != clk.Load()+settle {
		t.Fatalf("measuring %v during the settle; next event %d, want %d", sl.win.measuring, next-clk.Load(), settle)
	}
	clk.Add(settle)
	learnStepAll(false)
	if !sl.win.measuring {
		t.Fatal("not measuring after the settle")
	}
	testOps[sl.sid].Add(500)
	testCPU.Add(1e6) // 500 requests in 1 ms: 500,000 a CPU-second
	clk.Add(st.windowNs)
	sl.mu.Lock()
	var m windowMetrics
	sl.measure(&m, &env, &st)
	sl.mu.Unlock()
	if m.siteOps != 500 || m.tput != 5e5 || m.fullTput != 1500/2e-3 {
		t.Errorf("measured %d requests, %v a CPU-second (whole window %v); want 500, 5e5, 7.5e5", m.siteOps, m.tput, m.fullTput)
	}
}

// TestLearnSiteAlloc runs real allocations through the sampling hook: they
// are recorded, a large block's lifetime and mapping are measured, and a
// published threshold routes the next request.
func TestLearnSiteAlloc(t *testing.T) {
	var clk atomic.Int64
	fakeLearn(t, testSettings(), &clk)
	learner.on.Store(true)
	s := NewSite("learn-site-alloc")
	s.setThreshold(64 << 10) // 200 KiB is large
	calls := learnMaps[s.id].calls.Load()
	b := s.Alloc(200 << 10)
	if learnMaps[s.id].calls.Load() != calls+1 {
		t.Error("fresh mapping not counted")
	}
	clk.Add(int64(5 * time.Millisecond))
	Free(b)
	b = s.Alloc(100 << 10) // large too, freed at once: lifetime 0
	Free(b)
	sl := learner.sites[s.id].Load()
	if sl == nil {
		t.Fatal("no learning state")
	}
	ls := learnStats()
	var me *siteLearnStats
	for i := range ls {
		if ls[i].Site == s.Name() {
			me = &ls[i]
		}
	}
	if me == nil || me.Traffic != 2 || me.Lifetimes != 2 || me.MeanLife != float64(5*time.Millisecond)/2 || me.MapCalls == 0 {
		t.Fatalf("stats %+v", me)
	}
	if learner.bg.running.Load() {
		t.Fatal("manual environment started the goroutine")
	}
	// A threshold published by the learner routes the next request.
	sl.mu.Lock()
	sl.cur = numStrategies - 1
	sl.mu.Unlock()
	learnStepAll(true)
	b = s.Alloc(200 << 10)
	if seg := regLookup(addrOf(b)); seg == nil || seg.kind != kindSmall {
		t.Errorf("200 KiB not pooled under a 1 MiB threshold")
	}
	Free(b)
	// Small requests never reach the hook.
	before := sl.prof.traffic
	Free(s.Alloc(64 << 10))
	if sl.prof.traffic != before {
		t.Error("a 64 KiB request was sampled")
	}
}

// TestLearnerGoroutine starts the goroutine by a sample, lets it close a
// window on its own, and stops it: no goroutine is left.
func TestLearnerGoroutine(t *testing.T) {
	var clk atomic.Int64
	st := testSettings()
	st.minWindowOps, st.windowNs = 10, int64(time.Millisecond)
	st.tickNs = int64(time.Millisecond)
	fakeLearn(t, st, &clk)
	env := *learner.env.Load()
	env.manual = false
	env.clock = func() int64 { return clk.Add(int64(time.Millisecond)) } // time moves: windows close
	env.ops, env.cpu = nil, nil                                          // the site's real requests
	learner.env.Store(&env)
	learner.on.Store(true)
	s := NewSite("learn-goroutine")
	for range 12 {
		Free(s.Alloc(128 << 10))
	}
	if !learner.bg.running.Load() {
		t.Fatal("no goroutine")
	}
	sl := learner.sites[s.id].Load()
	deadline := time.Now().Add(time.Second)
	for {
		sl.mu.Lock()
		w := sl.prof.windows
		sl.mu.Unlock()
		if w > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the goroutine closed no window")
		}
		time.Sleep(time.Millisecond)
	}
	done := learner.bg.doneChan()
	setLearnMode(learnFrozen) // leaving live mode stops it
	select {
	case <-done:
	default:
		t.Fatal("goroutine still running after setLearnMode(learnFrozen)")
	}
	if learner.bg.running.Load() || learner.on.Load() {
		t.Fatal("still marked running or sampling")
	}
	stopLearner() // idempotent

	// Live again: the site already has its learning state, so no first
	// sample creates one; its samples must start the goroutine all the same.
	learner.env.Store(&env)
	learner.on.Store(true)
	for range 12 {
		Free(s.Alloc(128 << 10))
	}
	if !learner.bg.running.Load() {
		t.Fatal("no goroutine after going live again")
	}
	stopLearner()
}

func TestPolicyRoundTrip(t *testing.T) {
	sl, clk := frozenSite(t, "policy-round-trip", testSettings())
	_ = clk
	var b1 bytes.Buffer
	if err := SavePolicy(&b1); err != nil {
		t.Fatal(err)
	}
	saved := sl.strats
	// Forget, then load: the site is FROZEN on 256 KiB with its ratings.
	learner.sites[sl.sid].Store(nil)
	sl.site.setThreshold(0)
	if err := LoadPolicy(bytes.NewReader(b1.Bytes())); err != nil {
		t.Fatal(err)
	}
	nl := learner.sites[sl.sid].Load()
	if nl == nil || nl.state != stateFrozen || nl.cur != 2 || sl.site.threshold.Load() != 256<<10 {
		t.Fatalf("loaded: %+v", nl)
	}
	for i := range saved {
		if nl.strats[i].rating != saved[i].rating || nl.strats[i].wins != saved[i].wins || nl.strats[i].samples != saved[i].samples {
			t.Errorf("strategy %d: %+v, saved %+v", i, nl.strats[i], saved[i])
		}
	}
	if nl.signature != sl.signature || tvd(&nl.signature, &sl.signature) != 0 || nl.signature[sizeBucket(spreadSizes[0])] == 0 {
		t.Errorf("signature not restored")
	}
	var b2 bytes.Buffer
	if err := SavePolicy(&b2); err != nil {
		t.Fatal(err)
	}
	if b1.String() != b2.String() {
		t.Errorf("second save differs:\n%s\n%s", b1.String(), b2.String())
	}
	// A site that does not exist yet is created by name.
	doc := strings.Replace(b1.String(), `"policy-round-trip"`, `"policy-new-site"`, 1)
	if err := LoadPolicy(strings.NewReader(doc)); err != nil {
		t.Fatal(err)
	}
	if ns := NewSite("policy-new-site"); ns.threshold.Load() != 256<<10 {
		t.Errorf("new site threshold %d", ns.threshold.Load())
	}
}

func TestPolicyCorrupt(t *testing.T) {
	sl, _ := frozenSite(t, "policy-corrupt", testSettings())
	var b bytes.Buffer
	if err := SavePolicy(&b); err != nil {
		t.Fatal(err)
	}
	good := b.String()
	sub := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("%q not in the file", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	cases := []struct{ name, doc, want string }{
		{"empty", "", "not a policy file"},
		{"garbage", "hello", "not a policy file"},
		{"truncated", good[:len(good)/2], "not a policy file"},
		{"trailing", good + "{}", "data after"},
		{"format", sub(`"hakmem-policy"`, `"other"`), "format"},
		{"version", sub(`"version": 2`, `"version": 3`), "version 3 is not supported"},
		{"version 1 with cache fields", sub(`"version": 2`, `"version": 1`), "version 1 file"},
		{"cache policy", sub(`"bigcache": "`, `"bigcache": "x`), "is not one of"},
		{"cache arm", sub(`"policy": "lean"`, `"policy": "hold"`), "want \"lean\""},
		{"candidates", sub(`65536,`, `65537,`), "another build"},
		{"unknown field", sub(`"version": 2`, `"version": 2, "extra": 3`), "unknown field"},
		{"threshold", sub(`"threshold": 262144,`, `"threshold": 262145,`), "not a candidate"},
		{"rating", sub(`"rating": 1`, `"rating": -1`), "rating"},
		{"no name", sub(`"name": "policy-corrupt"`, `"name": ""`), "no name"},
		{"wrong type", sub(`"version": 2`, `"version": "2"`), "not a policy file"},
		{"size buckets", sub(`"size_buckets": 113`, `"size_buckets": 112`), "size buckets"},
		{"signature", sub(`"signature": {`, `"signature": {"113": 4,`), "not a size bucket"},
		{"signature key", sub(`"signature": {`, `"signature": {"x": 4,`), "not a policy file"},
	}
	renamed := strings.Replace(good, `"policy-corrupt"`, `"policy-corrupt-other"`, 1)
	dup := strings.Replace(renamed, `"sites": [`, `"sites": [`+siteJSON(t, good)+",", 1)
	dup = strings.Replace(dup, `"policy-corrupt-other"`, `"policy-corrupt"`, 1)
	cases = append(cases, struct{ name, doc, want string }{"duplicate", dup, "twice"})
	// Make the site's state differ from the file's so that a partial load would show.
	sl.mu.Lock()
	sl.state, sl.cur = stateLearn, 0
	sl.mu.Unlock()
	sl.site.setThreshold(64 << 10)
	for _, c := range cases {
		err := LoadPolicy(strings.NewReader(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if learner.sites[sl.sid].Load() != sl || sl.state != stateLearn || sl.site.threshold.Load() != 64<<10 {
			t.Fatalf("%s: a refused file changed the site", c.name)
		}
	}
	sites.mu.Lock()
	_, created := sites.byName["policy-corrupt-other"]
	sites.mu.Unlock()
	if created {
		t.Error("a refused file created a site")
	}
}

// siteJSON is the first site object of a policy document.
func siteJSON(t *testing.T, doc string) string {
	i := strings.Index(doc, `"sites": [`) + len(`"sites": [`)
	j := strings.LastIndex(doc, "]")
	return strings.TrimSpace(doc[i:j])
}

// TestLearnEndToEnd runs a site through Site.Alloc and Free only, with an
// injected process CPU clock on which a pooled 300 KiB request costs 20 us
// and a large one 2 us (the site's requests are the real per-P counts):
// the learner must leave the default (1 MiB, all pooled) for a threshold
// below 300 KiB and freeze there.
func TestLearnEndToEnd(t *testing.T) {
	var clk atomic.Int64
	st := testSettings()
	st.windowNs = 100_000 // 100 requests of 1 us on the learner clock
	fakeLearn(t, st, &clk)
	s := NewSite("learn-end-to-end")
	const size = 300 << 10
	env := *learner.env.Load()
	env.ops = nil // the per-P site counters
	learner.env.Store(&env)
	learner.on.Store(true)
	for i := 0; ; i++ {
		if i == 20000 {
			t.Fatalf("no freeze after %d requests", i)
		}
		cost := int64(20000)
		if routedLarge(size, s.sid()) {
			cost = 2000
		}
		Free(s.Alloc(size))
		testCPU.Add(cost)
		clk.Add(1000)
		learnStepAll(false)
		if sl := learner.sites[s.id].Load(); sl != nil && sl.state == stateFrozen {
			if got := s.threshold.Load(); got >= size {
				t.Fatalf("frozen on %d bytes, want below %d", got, size)
			}
			t.Logf("frozen on %d KiB after %d requests", s.threshold.Load()>>10, i+1)
			break
		}
	}
}

// TestLearnModes: leaving live mode settles a CANARY on the frozen strategy;
// off runs the default threshold and keeps the state; frozen publishes it
// again.
func TestLearnModes(t *testing.T) {
	st := testSettings()
	st.canaryEvery, st.canaryBudget = 2, 0
	sl, clk := frozenSite(t, "learn-modes", st)
	feed(sl, clk, 100, spread, 200, 0)
	if sl.state != stateCanary {
		t.Fatalf("%v, want CANARY", sl.state)
	}
	best := thresholdCandidates[sl.best]
	setLearnMode(learnFrozen)
	if sl.state != stateFrozen || sl.site.threshold.Load() != best || learner.on.Load() {
		t.Fatalf("frozen mode: %v threshold %d", sl.state, sl.site.threshold.Load())
	}
	setLearnMode(learnOff)
	if sl.site.threshold.Load() != 0 || learner.sites[sl.sid].Load() != sl {
		t.Fatalf("off mode: threshold %d", sl.site.threshold.Load())
	}
	setLearnMode(learnFrozen)
	if sl.site.threshold.Load() != best {
		t.Fatalf("frozen again: threshold %d", sl.site.threshold.Load())
	}
	st.mode = learnLive
	applyLearnSettings(st)
	if !learner.on.Load() || learner.st.Load().canaryEvery != 2 {
		t.Fatal("applyLearnSettings did not install the settings and the mode")
	}
}

// TestLearnConcurrent runs sampled allocations on several goroutines while
// the learner goroutine closes windows and stats, the leaderboard, saves
// and loads run: for the race detector.
func TestLearnConcurrent(t *testing.T) {
	var clk atomic.Int64
	st := testSettings()
	st.minWindowOps, st.windowNs = 64, 5000
	st.tickNs = int64(time.Millisecond)
	fakeLearn(t, st, &clk)
	env := *learner.env.Load()
	env.manual = false
	env.clock = func() int64 { return clk.Add(1000) }
	learner.env.Store(&env)
	learner.on.Store(true)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := NewSite("learn-concurrent-" + string(rune('a'+g%2)))
			for i := range 3000 {
				size := (65 + (i*37+g*11)%900) << 10
				Free(s.Alloc(size))
			}
		}()
	}
	go func() {
		defer close(done)
		for range 20 {
			_ = learnStats()
			_ = writeLeaderboard(io.Discard)
			var b bytes.Buffer
			if err := SavePolicy(&b); err != nil {
				t.Error(err)
				return
			}
			if err := LoadPolicy(&b); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	<-done
	stopLearner()
}

// TestLeaderboard: the exported leaderboard of a site frozen on 256 KiB.
func TestLeaderboard(t *testing.T) {
	var clk atomic.Int64
	fakeLearn(t, testSettings(), &clk)
	if lb := Leaderboard(); len(lb) != 0 {
		t.Fatalf("no learning site yet, got %+v", lb)
	}
	sl := newTestSiteLearn(t, "learn-leaderboard", &clk)
	learnToFrozen(t, sl, &clk)
	lb := Leaderboard()
	if len(lb) != 1 {
		t.Fatalf("%d sites, want 1: %+v", len(lb), lb)
	}
	ls := lb[0]
	if ls.Site != "learn-leaderboard" || ls.State != "FROZEN" || ls.Threshold != 256<<10 {
		t.Errorf("site %q %s on %d, want learn-leaderboard FROZEN on 256 KiB", ls.Site, ls.State, ls.Threshold)
	}
	if len(ls.Transitions) != numTransitions || ls.Transitions["LEARN->FROZEN"] != 1 || ls.Transitions["FROZEN->LEARN(shift)"] != 0 {
		t.Errorf("transitions %v", ls.Transitions)
	}
	if len(ls.Strategies) != numStrategies+int(numCachePolicies) {
		t.Fatalf("%d strategies", len(ls.Strategies))
	}
	for i, s := range ls.Strategies[numStrategies:] {
		if s.Kind != "bigcache" || s.Threshold != 0 || (s.Running != (s.Policy == ls.BigCache)) {
			t.Errorf("bigcache arm %d: %+v (in use %q)", i, s, ls.BigCache)
		}
	}
	var running, retired int
	for i, s := range ls.Strategies[:numStrategies] {
		if i > 0 && s.Rating > ls.Strategies[i-1].Rating {
			t.Errorf("not best first: %+v", ls.Strategies)
		}
		if s.Kind != "threshold" {
			t.Errorf("threshold arm %d: kind %q", i, s.Kind)
		}
		if s.Running {
			running++
			if s.Threshold != ls.Threshold {
				t.Errorf("running %d, in use %d", s.Threshold, ls.Threshold)
			}
		}
		if s.Retired {
			retired++
		}
	}
	if running != 1 || retired != 2 || ls.Strategies[0].Threshold != 256<<10 || ls.Strategies[0].Wins == 0 || ls.Strategies[0].Samples == 0 {
		t.Errorf("strategies %+v", ls.Strategies)
	}
}

// TestSiteSetThreshold: SetThreshold validates, routes, keeps the learner
// away from the site, and SetThreshold(0) gives the learned choice back.
func TestSiteSetThreshold(t *testing.T) {
	var clk atomic.Int64
	fakeLearn(t, testSettings(), &clk)
	learner.on.Store(true)
	s := NewSite("site-set-threshold")
	t.Cleanup(func() { _ = s.SetThreshold(0) })
	for _, n := range []int{-1, 1, minLargeThreshold - 1, maxSmall + 1, 1 << 30} {
		if err := s.SetThreshold(n); err == nil || !strings.Contains(err.Error(), "site-set-threshold") {
			t.Errorf("SetThreshold(%d) = %v, want an error naming the site", n, err)
		}
	}
	if got := s.Threshold(); got != int(cfg().largeThreshold) {
		t.Fatalf("default threshold %d, want %d", got, cfg().largeThreshold)
	}
	// Learned: the site runs 128 KiB.
	sl := learnSite(s, s.id, clk.Load(), learner.st.Load(), learner.env.Load())
	sl.mu.Lock()
	sl.cur = 1
	sl.publish(learnLive)
	sl.mu.Unlock()
	if s.Threshold() != 128<<10 {
		t.Fatalf("learned threshold %d, want 128 KiB", s.Threshold())
	}
	// Fixed at 64 KiB: 100 KiB is large, not sampled, and a window the
	// learner closes does not move it.
	if err := s.SetThreshold(64 << 10); err != nil {
		t.Fatal(err)
	}
	traffic := sl.prof.traffic
	b := s.Alloc(100 << 10)
	if seg := regLookup(addrOf(b)); seg == nil || seg.kind != kindLarge {
		t.Error("100 KiB pooled under a fixed 64 KiB threshold")
	}
	Free(b)
	learnStepAll(true)
	if s.Threshold() != 64<<10 || sl.prof.traffic != traffic {
		t.Errorf("fixed site: threshold %d, traffic %d -> %d", s.Threshold(), traffic, sl.prof.traffic)
	}
	// Given back: the learned 128 KiB applies again.
	if err := s.SetThreshold(0); err != nil {
		t.Fatal(err)
	}
	if s.Threshold() != 128<<10 {
		t.Errorf("after SetThreshold(0): %d, want the learned 128 KiB", s.Threshold())
	}
	// The default site (nil *Site) has one too.
	var d *Site
	if err := d.SetThreshold(256 << 10); err != nil || d.Threshold() != 256<<10 {
		t.Errorf("default site: %v, %d", err, d.Threshold())
	}
	if err := d.SetThreshold(0); err != nil || d.Threshold() != int(cfg().largeThreshold) {
		t.Errorf("default site back: %v, %d", err, d.Threshold())
	}
}

// TestCandidatesAreClassSizes: equivalent relies on every candidate
// threshold being a class size.
func TestCandidatesAreClassSizes(t *testing.T) {
	for _, c := range thresholdCandidates {
		if uintptr(classes[sizeClass(c)].size) != c {
			t.Errorf("candidate %d is not a class size", c)
		}
	}
}

func TestEquivalent(t *testing.T) {
	var h sizeHist
	h[sizeBucket(300<<10)] = 5
	h[sizeBucket(2<<20)] = 7 // above maxSmall: large whatever the threshold
	// 300 KiB lies between 256 KiB (index 2) and 512 KiB (index 3).
	for _, c := range []struct {
		i, j int
		want bool
	}{{0, 1, true}, {0, 2, true}, {2, 3, false}, {1, 4, false}, {3, 4, true}, {2, 2, true}} {
		if got := equivalent(c.i, c.j, &h); got != c.want || equivalent(c.j, c.i, &h) != c.want {
			t.Errorf("equivalent(%d, %d) = %v, want %v (symmetric)", c.i, c.j, got, c.want)
		}
	}
	// A request of exactly a threshold is pooled under it.
	var e sizeHist
	e[sizeBucket(256<<10)] = 1
	if !equivalent(2, 4, &e) || equivalent(1, 2, &e) {
		t.Error("256 KiB: want 256 KiB ~ 1 MiB and 128 KiB !~ 256 KiB")
	}
}

// TestLearnEquivalentShare: on one request size only two routings exist;
// LEARN tests one representative of the other routing (256 KiB stands for
// 64 to 256 KiB), rejects it after three pairs, and freezes on the
// default; the representative's equivalents never run.
func TestLearnEquivalentShare(t *testing.T) {
	var clk atomic.Int64
	fakeLearn(t, testSettings(), &clk)
	sl := newTestSiteLearn(t, "learn-equivalent", &clk)
	// 300 KiB: large (indexes 0-2) costs 2,000 ns, pooled (3, 4) 200 ns.
	cost := func(i int) int64 {
		if i <= 2 {
			return 2000
		}
		return 200
	}
	w := 0
	for sl.state != stateFrozen {
		if w++; w > 2+2*3+1 {
			t.Fatalf("not frozen after %d windows: %+v", w-1, sl.strats)
		}
		feed(sl, &clk, 100, 300<<10, cost(sl.cur), 0)
	}
	if sl.best != defaultArm || sl.strats[2].losses != 3 || !sl.strats[2].retired {
		t.Errorf("froze on %d KiB; 256 KiB %+v", thresholdCandidates[sl.best]>>10, sl.strats[2])
	}
	for _, i := range []int{0, 1, 3} {
		if sl.strats[i].samples != 0 {
			t.Errorf("strategy %d ran: %+v", i, sl.strats[i])
		}
	}
}

// TestLearnCheckBudget: checks of a challenger that lost l of a window's
// throughput per challenger window wait 2l/budget frozen windows, the
// first by the loss LEARN measured; with no arm acting differently from
// the frozen one there is no check at all.
func TestLearnCheckBudget(t *testing.T) {
	st := testSettings()
	st.canaryEvery, st.canaryBudget = 4, 0.1
	if w := checkWaitFor(0.01, &st); w != 3 {
		t.Errorf("checkWaitFor(0.01) = %d, want canaryEvery-1 = 3", w)
	}
	if w := checkWaitFor(0.8, &st); w != 16 {
		t.Errorf("checkWaitFor(0.8) = %d, want ceil(1.6/0.1) = 16", w)
	}
	if w := checkWaitFor(1e9, &st); w != maxCanaryWait {
		t.Errorf("checkWaitFor(1e9) = %d, want %d", w, maxCanaryWait)
	}
	// Frozen on 256 KiB (200 ns); the first check is of the default, which
	// lost its LEARN test at 800 ns against 500 (512 KiB, the incumbent
	// then): 0.375 of a window per challenger window.
	sl, clk := frozenSite(t, "learn-check-budget", st)
	sl.mu.Lock()
	d, ch := sl.checkChallenger()
	lost, wait := sl.lostPerWin[d][ch], sl.checkWait
	sl.mu.Unlock()
	if d != dimThreshold || ch != defaultArm || wait != checkWaitFor(lost, &st) || math.Abs(lost-0.375) > 1e-9 {
		t.Fatalf("first check: challenger %d (dim %d), lost %.3f, wait %d, want the default, 0.375, %d", ch, d, lost, wait, checkWaitFor(lost, &st))
	}
	sl.mu.Lock()
	sl.checkWait = 0 // from here on: canaryEvery, then the budget after a loss
	sl.mu.Unlock()
	for range 3 {
		feed(sl, clk, 100, spread, 200, 0)
	}
	if sl.state != stateCanary {
		t.Fatalf("%v, want CANARY", sl.state)
	}
	// The default costs 4x: each of its windows loses 0.75 of a window:
	// the next check waits ceil(2 x 0.75 / 0.1) = 15 windows.
	for sl.state == stateCanary {
		ns := int64(200)
		if sl.cur == defaultArm {
			ns = 800
		}
		feed(sl, clk, 100, spread, ns, 0)
	}
	if sl.checkWait != 15 {
		t.Fatalf("after a lost check: wait %d, want 15", sl.checkWait)
	}
	for w := 1; w <= 15; w++ {
		if sl.state != stateFrozen {
			t.Fatalf("frozen window %d: %v, want FROZEN until 15", w, sl.state)
		}
		feed(sl, clk, 100, spread, 200, 0)
	}
	if sl.state != stateCanary {
		t.Fatalf("after 15 frozen windows: %v, want CANARY", sl.state)
	}

	// One size, and every strategy routes it alike but the frozen one's
	// class: no arm acts differently, no check.
	sl2 := newTestSiteLearn(t, "learn-check-none", clk)
	sl2.mu.Lock()
	sl2.freeze(4, int(cacheDefault))
	sl2.signature = sizeHist{}
	sl2.signature[sizeBucket(2<<20)] = 1 // above maxSmall: every threshold routes it alike
	sl2.mu.Unlock()
	for w := range 10 {
		feed(sl2, clk, 100, 2<<20, 200, 0)
		if sl2.state != stateFrozen {
			t.Fatalf("window %d: %v, want FROZEN (no challenger that acts differently)", w, sl2.state)
		}
	}
}

// TestLearnCachePhase: a site whose requests all take the large path learns
// its threshold (one routing: every candidate is equivalent), then its
// BigCache policy, and freezes on the cheapest policy, published to the
// BigCache; a site whose leader pools everything skips the cache phase;
// a frozen site's canaries may then try a cache policy.
func TestLearnCachePhase(t *testing.T) {
	var clk atomic.Int64
	st := testSettings()
	st.canaryBudget = 0 // canaries every canaryEvery windows
	fakeLearn(t, st, &clk)
	sl := newTestSiteLearn(t, "learn-cache-phase", &clk)
	t.Cleanup(func() { setSiteCachePolicy(sl.sid, cacheDefault) })
	cost := func() int64 { return []int64{500, 900, 100}[sl.ccur] } // hold is cheapest
	// churn: blocks evicted by the site's limit, so the cache policy matters.
	churn := func(sid int32) {
		heap.mu.Lock()
		heap.big.sites[sid].evictions += 50
		heap.big.evictions += 50 // the totals match the sites' sums (checkStats)
		heap.mu.Unlock()
	}
	churn(sl.sid)
	for w := 1; sl.state != stateFrozen; w++ {
		if w > 60 {
			t.Fatalf("not frozen after 60 windows: phase %d, %+v", sl.phase, sl.carms)
		}
		feed(sl, &clk, 100, 2<<20, cost(), 0)
	}
	if sl.transitions[trLearnCache] != 1 || sl.cbest != int(cacheHold) || !sl.cacheLearned {
		t.Fatalf("cache phase: transitions %v, frozen on %s, learned %v", sl.transitions, cachePolicyNames[sl.cbest], sl.cacheLearned)
	}
	if p := cachePolicy(siteCachePol[sl.sid].Load()); p != cacheHold {
		t.Errorf("published policy %s, want hold", cachePolicyNames[p])
	}
	// A check may run a cache policy now (the only dimension with a
	// challenger: every threshold routes 2 MiB alike): the default policy
	// first, a rollback check.
	st2 := *learner.st.Load()
	st2.canaryEvery = 2
	learner.st.Store(&st2)
	sl.mu.Lock()
	sl.checkWait = 0 // canaryEvery-1 from here on
	sl.mu.Unlock()
	feed(sl, &clk, 100, 2<<20, cost(), 0)
	if sl.state != stateCanary || sl.test.dim != dimCache || sl.ccur == sl.cbest || sl.cur != sl.best {
		t.Fatalf("check: %v dim %d, cache %d (frozen %d)", sl.state, sl.test.dim, sl.ccur, sl.cbest)
	}
	for w := 0; sl.state == stateCanary; w++ { // the challenger costs more: back to hold
		if w > 6 {
			t.Fatal("a losing check still runs after 3 pairs")
		}
		feed(sl, &clk, 100, 2<<20, cost(), 0)
	}
	if sl.state != stateFrozen || sl.ccur != int(cacheHold) {
		t.Fatalf("after the canary: %v on %s", sl.state, cachePolicyNames[sl.ccur])
	}

	// All large, but the cache never churns: no cache phase either.
	learner.st.Store(&st)
	sl3 := newTestSiteLearn(t, "learn-cache-phase-calm", &clk)
	for w := 1; sl3.state != stateFrozen; w++ {
		if w > 20 {
			t.Fatal("calm site not frozen after 20 windows")
		}
		feed(sl3, &clk, 100, 2<<20, 300, 0)
	}
	if sl3.transitions[trLearnCache] != 0 || sl3.cacheLearned {
		t.Errorf("calm site learned its cache: transitions %v", sl3.transitions)
	}

	// 100 KiB, pooled cheaper: the leader pools everything, no cache phase.
	sl2 := newTestSiteLearn(t, "learn-cache-phase-pooled", &clk)
	churn(sl2.sid)
	for w := 1; sl2.state != stateFrozen; w++ {
		if w > 20 {
			t.Fatal("pooled site not frozen after 20 windows")
		}
		ns := int64(100)
		if sl2.cur == 0 { // 64 KiB: 100 KiB goes large
			ns = 1000
		}
		feed(sl2, &clk, 100, 100<<10, ns, 0)
	}
	if sl2.transitions[trLearnCache] != 0 || sl2.cacheLearned || sl2.cur == 0 {
		t.Errorf("pooled site: transitions %v, threshold %d KiB", sl2.transitions, thresholdCandidates[sl2.cur]>>10)
	}
}

// TestLearnHitCounters: pooled hits picked by the per-P tick are counted
// in the site's hit counters without its lock and reach the window at its
// close; nothing is counted once learning is off, and a site fixed by
// SetThreshold is not counted.
func TestLearnHitCounters(t *testing.T) {
	var clk atomic.Int64
	st := testSettings()
	st.sampleEvery = 4
	fakeLearn(t, st, &clk)
	env := *learner.env.Load()
	env.every, env.sample = 4, nil
	learner.env.Store(&env)
	learner.on.Store(true)
	s := NewSite("learn-hit-counters")
	Free(s.Alloc(128 << 10)) // a refill: a slow path, maybe sampled; the block is now in the P's list
	hits := func() uint64 {
		if sl := learner.sites[s.id].Load(); sl != nil {
			return sl.prof.hits.n.Load()
		}
		return 0
	}
	traffic := func() uint64 {
		sl := learner.sites[s.id].Load()
		if sl == nil {
			return 0
		}
		sl.mu.Lock()
		defer sl.mu.Unlock()
		return sl.prof.traffic
	}
	h0, tr0 := hits(), traffic()
	// 400 hits at period 4: about 100 counted. The portable pin (-race)
	// spreads them over cache slots, each with its own tick, and a refill
	// now and then is a slow path: hence a range.
	for range 400 {
		Free(s.Alloc(128 << 10))
	}
	dh := hits() - h0
	if dh < 40 || dh > 110 {
		t.Errorf("after 400 hits at period 4: %d counted, want about 100", dh)
	}
	learnStepAll(true) // the close merges them (slow-path samples add to traffic at once)
	if got := traffic() - tr0; got < dh {
		t.Errorf("after the close: traffic +%d, want at least the %d hits", got, dh)
	}
	learner.on.Store(false)
	before := hits()
	for range 64 {
		Free(s.Alloc(128 << 10))
	}
	if hits() != before {
		t.Error("counted while learning is off")
	}
	learner.on.Store(true)
	if err := s.SetThreshold(512 << 10); err != nil {
		t.Fatal(err)
	}
	defer s.SetThreshold(0)
	for range 64 {
		Free(s.Alloc(128 << 10))
	}
	if hits() != before {
		t.Error("a fixed site was counted")
	}
}

// TestHitWeight: with a sampling period of 16 or more a counted pooled hit
// stands for hitWeight (4) samples in the window's cost, traffic and
// histogram, but counts once in draws, the histogram's evidence.
func TestHitWeight(t *testing.T) {
	if hitWeight(64) != 4 || hitWeight(16) != 4 || hitWeight(8) != 1 || hitWeight(1) != 1 {
		t.Fatalf("hitWeight: 64 -> %d, 16 -> %d, 8 -> %d, 1 -> %d", hitWeight(64), hitWeight(16), hitWeight(8), hitWeight(1))
	}
	st := defaultLearnSettings()
	st.sampleEvery = 64
	var p profile
	b := sizeBucket(128 << 10)
	for range 10 {
		p.hits.n.Add(1)
		p.hits.waste.Add(100)
		p.hits.hist[b].Add(1)
	}
	p.record(300<<10, 300<<10, 1000) // one slow-path sample
	if n, d := p.pending(&st); n != 41 || d != 11 {
		t.Errorf("pending: %d samples, %d draws; want 41 and 11", n, d)
	}
	m := p.close(0, 0, 0, 0, 0, 0, &st, noFaultCounter)
	if m.samples != 41 || m.draws != 11 || m.hist[b] != 40 || p.traffic != 41 {
		t.Errorf("closed window: %d samples, %d draws, bucket %d, traffic %d; want 41, 11, 40, 41", m.samples, m.draws, m.hist[b], p.traffic)
	}
	if want := float64(40*fastHitNs+1000) / 41; math.Abs(m.cpuNsPerOp-want) > 1e-9 {
		t.Errorf("cpu %.3f ns/op, want %.3f", m.cpuNsPerOp, want)
	}
	if n, d := p.pending(&st); n != 0 || d != 0 {
		t.Errorf("next window starts with %d samples, %d draws", n, d)
	}
}

// TestLearnPrune: with the default the incumbent and 512 KiB rejected,
// the thresholds beyond it (256, 128, 64 KiB) are dropped untested; the
// site freezes on the default after one test.
func TestLearnPrune(t *testing.T) {
	var clk atomic.Int64
	fakeLearn(t, testSettings(), &clk)
	sl := newTestSiteLearn(t, "learn-prune", &clk)
	for w := 0; sl.state != stateFrozen; w++ {
		if w > 2+7 {
			t.Fatalf("not frozen after %d windows: todo %v", w, sl.todo)
		}
		ns := int64(200)
		if sl.cur != defaultArm {
			ns = 400
		}
		feed(sl, &clk, 100, spread, ns, 0)
	}
	if sl.best != defaultArm || sl.strats[3].losses != 3 {
		t.Fatalf("frozen on %d; 512 KiB %+v", sl.best, sl.strats[3])
	}
	for i := range 3 {
		if sl.strats[i].samples != 0 || !sl.strats[i].retired {
			t.Errorf("threshold %d KiB: %+v, want pruned untested", thresholdCandidates[i]>>10, sl.strats[i])
		}
	}
}

// TestLearnOneTester: the throughput is the process's, so only one site
// runs an A/B test at a time: a second site in LEARN runs its incumbent
// until the first one's test ends, then tests.
func TestLearnOneTester(t *testing.T) {
	var clk atomic.Int64
	fakeLearn(t, testSettings(), &clk)
	a := newTestSiteLearn(t, "learn-one-tester-a", &clk)
	b := newTestSiteLearn(t, "learn-one-tester-b", &clk)
	for range 2 {
		feed(a, &clk, 100, 300<<10, 200, 0)
		feed(b, &clk, 100, 300<<10, 200, 0)
	}
	if !a.test.on || b.test.on || b.cur != defaultArm || learner.tester.Load() != a.sid+1 {
		t.Fatalf("a testing %v, b testing %v (running %d), token %d", a.test.on, b.test.on, b.cur, learner.tester.Load())
	}
	for w := 0; a.test.on; w++ {
		if w > 30 {
			t.Fatal("a's test never ended")
		}
		ns := int64(200)
		if a.cur != defaultArm {
			ns = 1000 // a's challenger loses
		}
		feed(a, &clk, 100, 300<<10, ns, 0)
		if !a.test.on {
			break
		}
		feed(b, &clk, 100, 300<<10, 200, 0)
		if b.test.on || b.cur != defaultArm {
			t.Fatal("b tested while a held the token")
		}
	}
	feed(b, &clk, 100, 300<<10, 200, 0)
	if !b.test.on || learner.tester.Load() != b.sid+1 {
		t.Fatalf("b did not take the token after a's test: testing %v, token %d", b.test.on, learner.tester.Load())
	}
}

// TestLearnRecall: a site whose sizes go back to a distribution it froze
// on before takes that choice again at once (FROZEN -> FROZEN recalled),
// without relearning; a distribution never seen is learned.
func TestLearnRecall(t *testing.T) {
	st := testSettings()
	st.canaryEvery = 0 // no check in the way
	sl, clk := frozenSiteOn(t, "learn-recall", st, 300<<10)
	if sl.best != 2 {
		t.Fatalf("frozen on %d, want 2 (256 KiB: 300 KiB large)", sl.best)
	}
	// 900 KiB: every threshold but the default sends it large; large costs
	// 200 ns and pooled 2,000 here, so the incumbent (256 KiB) stays.
	cost900 := func() int64 {
		if sl.cur == defaultArm {
			return 2000
		}
		return 200
	}
	for w := 0; sl.state != stateFrozen || sl.transitions[trShifted] == 0; w++ {
		if w > 30 {
			t.Fatalf("900 KiB not learned after 30 windows: %v", sl.state)
		}
		feed(sl, clk, 100, 900<<10, cost900(), 0)
	}
	learned := sl.transitions[trLearnFrozen]
	feed(sl, clk, 100, 300<<10, costModel(sl.cur), 0) // back to 300 KiB
	if sl.state != stateFrozen || sl.transitions[trRecalled] != 1 || sl.transitions[trShifted] != 1 || sl.best != 2 {
		t.Fatalf("back to 300 KiB: %v on %d, transitions %v", sl.state, sl.best, sl.transitions)
	}
	feed(sl, clk, 100, 900<<10, cost900(), 0) // and to 900 KiB again
	if sl.state != stateFrozen || sl.transitions[trRecalled] != 2 || sl.transitions[trLearnFrozen] != learned {
		t.Fatalf("back to 900 KiB: %v, transitions %v", sl.state, sl.transitions)
	}
}

// TestSiteSetBigCachePolicy: SetBigCachePolicy validates, sets the
// site's policy, keeps the learner away from the site, and SetThreshold(0)
// gives the site back.
func TestSiteSetBigCachePolicy(t *testing.T) {
	var clk atomic.Int64
	fakeLearn(t, testSettings(), &clk)
	s := NewSite("site-set-bigcache-policy")
	t.Cleanup(func() { _ = s.SetThreshold(0) })
	if err := s.SetBigCachePolicy("huge"); err == nil || !strings.Contains(err.Error(), "site-set-bigcache-policy") {
		t.Errorf("SetBigCachePolicy(huge) = %v, want an error naming the site", err)
	}
	sl := learnSite(s, s.id, clk.Load(), learner.st.Load(), learner.env.Load())
	if err := s.SetBigCachePolicy("hold"); err != nil {
		t.Fatal(err)
	}
	if cachePolicy(siteCachePol[s.id].Load()) != cacheHold || !s.fixed.Load() {
		t.Fatalf("policy %d, fixed %v", siteCachePol[s.id].Load(), s.fixed.Load())
	}
	sl.mu.Lock()
	sl.ccur = int(cacheLean)
	sl.publish(learnLive) // a fixed site: nothing published
	sl.mu.Unlock()
	if cachePolicy(siteCachePol[s.id].Load()) != cacheHold {
		t.Fatal("the learner published over a fixed policy")
	}
	if err := s.SetThreshold(0); err != nil || cachePolicy(siteCachePol[s.id].Load()) != cacheLean || s.fixed.Load() {
		t.Fatalf("given back: %v, policy %d (want the learned lean), fixed %v", err, siteCachePol[s.id].Load(), s.fixed.Load())
	}
}

// TestLearnDegradationOtherTester: while another site runs a test, a
// frozen site's windows count neither for its baseline nor as degraded.
func TestLearnDegradationOtherTester(t *testing.T) {
	st := testSettings()
	st.canaryEvery = 0 // no check in the way
	sl, clk := frozenSite(t, "learn-degrade-other", st)
	for range st.degradeWindows {
		feed(sl, clk, 100, spread, 200, 0)
	}
	learner.tester.Store(sl.sid + 2) // another site's test
	for range 5 {
		feed(sl, clk, 100, spread, 1000, 0) // 5x slower: the other site's challenger
	}
	if sl.state != stateFrozen || sl.degraded != 0 {
		t.Fatalf("degraded by another site's test: %v, %d windows", sl.state, sl.degraded)
	}
	learner.tester.Store(0)
	for range st.degradeWindows {
		feed(sl, clk, 100, spread, 1000, 0)
	}
	if sl.state != stateLearn {
		t.Fatalf("not degraded once the other test ended: %v", sl.state)
	}
}
