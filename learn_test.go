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
// test moves (clk, ns), every request sampled, no exploration unless the
// test's rnd says so, no goroutine. It forgets every site's learning state
// and restores everything afterwards.
func fakeLearn(t *testing.T, st learnSettings, clk *atomic.Int64, rnd func() float64) {
	t.Helper()
	ensureInit() // first use installs the configured settings: do it before ours
	stopLearner()
	oldSt, oldEnv, oldOn := learner.st.Load(), learner.env.Load(), learner.on.Load()
	if rnd == nil {
		rnd = func() float64 { return 0.99 } // never below epsilon: no exploration
	}
	learner.st.Store(&st)
	learner.env.Store(&learnEnv{clock: clk.Load, sample: func() bool { return true }, rnd: rnd, manual: true})
	forgetLearning()
	t.Cleanup(func() {
		learner.on.Store(oldOn)
		stopLearner()
		forgetLearning()
		learner.st.Store(oldSt)
		learner.env.Store(oldEnv)
	})
}

// forgetLearning drops every site's learning state and gives each site
// that had one its default threshold back (fakeLearn, acceptLearnEnv).
func forgetLearning() {
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
	return st
}

// spread, as feed's size, cycles through one size between every two
// neighbouring candidate thresholds (and one above the last but pooled), so
// that no two strategies are equivalent.
const spread = -1

// spreadSizes are spread's sizes: 100, 200, 400 and 800 KiB.
var spreadSizes = [...]int{100 << 10, 200 << 10, 400 << 10, 800 << 10}

// feed records n synthetic samples of size bytes (spread: spreadSizes in
// turn) costing ns each in sl's window, adds pages fresh pages, moves the
// clock by a window and closes it.
func feed(sl *siteLearn, clk *atomic.Int64, n, size int, ns int64, pages uint64) {
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
	sl.step(clk.Load(), st, learner.env.Load().rnd)
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
	// costOf: ref costs 1; double CPU and memory, equal faults (both under
	// the floor): 0.4*2 + 0.3*1 + 0.3*2 = 1.7.
	ref := windowMetrics{cpuNsPerOp: 100, memBytes: 1000}
	m := windowMetrics{cpuNsPerOp: 200, memBytes: 2000}
	if c := costOf(&ref, &ref, &st); c != 1 {
		t.Errorf("costOf(ref) = %v", c)
	}
	if c := costOf(&m, &ref, &st); math.Abs(c-1.7) > 1e-12 {
		t.Errorf("costOf = %v, want 1.7", c)
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

func TestRetireWeakest(t *testing.T) {
	var ss [numStrategies]strategy
	for i, r := range []float64{1500, 1550, 1450, 1600, 1400} {
		ss[i].rating = r
	}
	// Five active: two retire, the weakest apart from the current (4,
	// rated 1400): 2 (1450) and 0 (1500).
	retireWeakest(ss[:], 4)
	for i, want := range []bool{true, false, true, false, false} {
		if ss[i].retired != want {
			t.Errorf("strategy %d retired = %v, want %v", i, ss[i].retired, want)
		}
	}
	if l := leader(ss[:]); l != 3 {
		t.Errorf("leader = %d, want 3", l)
	}
	retireWeakest(ss[:], 4) // three active: one more goes, two stay
	if !ss[1].retired || ss[3].retired || ss[4].retired {
		t.Errorf("second retirement: %+v", ss)
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
	fakeLearn(t, testSettings(), &clk, nil)
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
		t.Errorf("%d retired, want 2 (the weaker half of 5)", retired)
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
	fakeLearn(t, st, &clk, nil)
	sl := newTestSiteLearn(t, "learn-min", &clk)
	// 49 samples: unrated; nothing moves, the strategy stays.
	feed(sl, &clk, 49, spread, 100, 0)
	if sl.cur != numStrategies-1 || sl.havePrev || sl.strats[sl.cur].samples != 0 || sl.prof.unrated != 1 {
		t.Fatalf("an unrated window changed the state: cur %d %+v", sl.cur, sl.strats[sl.cur])
	}
	for range 60 {
		feed(sl, &clk, 100, spread, costModel(sl.cur), 0)
	}
	if sl.state != stateLearn {
		t.Fatalf("froze before minLearnNs")
	}
	if sl.calm < st.freezeWindows {
		t.Fatalf("calm %d: the only obstacle should be the time", sl.calm)
	}
}

func TestLearnExplores(t *testing.T) {
	var clk atomic.Int64
	st := testSettings()
	st.freezeWindows = 1000 // keep learning
	draws := []float64{0.05, 0.0}
	i := 0
	fakeLearn(t, st, &clk, func() float64 { // alternately "explore" and pick the first other
		i++
		return draws[i%2]
	})
	sl := newTestSiteLearn(t, "learn-explores", &clk)
	seen := map[int]bool{}
	for range 40 {
		feed(sl, &clk, 100, spread, costModel(sl.cur), 0)
		seen[sl.cur] = true
	}
	if len(seen) < 2 {
		t.Errorf("exploration never left the leader: %v", seen)
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
	fakeLearn(t, st, clk, nil)
	sl := newTestSiteLearn(t, name, clk)
	learnToFrozenOn(t, sl, clk, size)
	return sl, clk
}

func TestLearnCanary(t *testing.T) {
	st := testSettings()
	st.canaryEvery = 4  // 3 frozen windows, then one canary
	st.canaryBudget = 0 // and after a lost one, 3 again (TestLearnCanaryBudget)
	sl, clk := frozenSite(t, "learn-canary", st)
	sl.mu.Lock()
	sl.cacheLearned = false // thresholds only here (TestLearnCachePhase for the cache)
	sl.mu.Unlock()
	for w := range 3 {
		if sl.state != stateFrozen {
			t.Fatalf("window %d: %v, want FROZEN", w, sl.state)
		}
		feed(sl, clk, 100, spread, 200, 0)
	}
	if sl.state != stateCanary || sl.transitions[trFrozenCanary] != 1 || sl.cur == sl.best {
		t.Fatalf("state %v, cur %d, best %d: want CANARY on a challenger", sl.state, sl.cur, sl.best)
	}
	if got := sl.site.threshold.Load(); got != thresholdCandidates[sl.cur] {
		t.Fatalf("canary threshold %d not published", got)
	}
	ch := sl.cur
	before := sl.strats[ch].losses
	feed(sl, clk, 100, spread, 1000, 0) // the challenger is worse
	if sl.state != stateFrozen || sl.cur != 2 || sl.transitions[trCanaryFrozen] != 1 || sl.strats[ch].losses != before+1 {
		t.Fatalf("after a losing canary: %v cur %d %+v", sl.state, sl.cur, sl.strats[ch])
	}
	for range 3 {
		feed(sl, clk, 100, spread, 200, 0)
	}
	if sl.state != stateCanary {
		t.Fatalf("no second canary: %v", sl.state)
	}
	ch = sl.cur
	feed(sl, clk, 100, spread, 20, 0) // the challenger is much better
	if sl.state != stateFrozen || sl.cur != ch || sl.best != ch || sl.transitions[trCanaryAdopt] != 1 {
		t.Fatalf("after a winning canary: %v cur %d best %d (challenger %d)", sl.state, sl.cur, sl.best, ch)
	}
	if got := sl.site.threshold.Load(); got != thresholdCandidates[ch] {
		t.Fatalf("adopted threshold %d not published", got)
	}
}

func TestLearnDegradation(t *testing.T) {
	st := testSettings()
	st.canaryEvery = 0 // no canary in the way
	sl, clk := frozenSite(t, "learn-degrade", st)
	for range st.degradeWindows {
		feed(sl, clk, 100, spread, 200, 0) // the baseline: their mean
	}
	if !sl.haveBaseline || sl.baseline.cpuNsPerOp != 200 {
		t.Fatalf("baseline %+v after %d windows", sl.baseline, st.degradeWindows)
	}
	// Costs 1.25x on CPU: 0.4*1.25 + 0.6 = 1.1, under 1.2; then 2x (1.4)
	// twice, a normal window (the count restarts), then 2x three times.
	for i, ns := range []int64{250, 400, 400, 200, 400, 400} {
		feed(sl, clk, 100, spread, ns, 0)
		if sl.state != stateFrozen {
			t.Fatalf("window %d left FROZEN early", i)
		}
	}
	feed(sl, clk, 100, spread, 400, 0)
	if sl.state != stateLearn || sl.transitions[trDegraded] != 1 {
		t.Fatalf("after 3 degraded windows: %v", sl.state)
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
		clk.Add(st.windowNs)
		sl.step(clk.Load(), learner.st.Load(), learner.env.Load().rnd)
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
	// the frozen arm on the new sizes (300 and 900 KiB). Three routings of
	// those exist (64 to 256 KiB: both large; 512 KiB: 300 KiB pooled;
	// 1 MiB: both pooled): two more windows try the other two, and nothing
	// else is tried.
	if sl.strats[sl.best].epWindows != 1 {
		t.Fatalf("the frozen arm has %d windows in the new episode, want 1 (the shift window)", sl.strats[sl.best].epWindows)
	}
	var tried []int
	for range 2 {
		tried = append(tried, sl.cur)
		feed(sl, clk, 100, 900<<10, 200, 0)
	}
	if !sl.allTried(1) || equivalent(tried[0], tried[1], &sl.episodeHist) {
		t.Errorf("after the shift: tried %v; all tried %v", tried, sl.allTried(1))
	}
}

func TestLearnWindowDue(t *testing.T) {
	st := testSettings()
	st.windowOps = 100
	var p profile
	if p.due(st.windowNs-1, &st) {
		t.Error("due before 2 s and 100 ops")
	}
	if p.due(st.windowNs, &st) {
		t.Error("due at 2 s with no sample: a quiet window stretches")
	}
	for range 50 {
		p.record(100<<10, 100<<10, 1)
	}
	if p.due(st.windowNs-1, &st) || !p.due(st.windowNs, &st) {
		t.Error("with 50 samples: not due at 2 s exactly")
	}
	for range 50 {
		p.record(100<<10, 100<<10, 1)
	}
	if !p.due(0, &st) {
		t.Error("not due at 100 ops")
	}
}

// TestLearnSiteAlloc runs real allocations through the sampling hook: they
// are recorded, a large block's lifetime and mapping are measured, and a
// published threshold routes the next request.
func TestLearnSiteAlloc(t *testing.T) {
	var clk atomic.Int64
	fakeLearn(t, testSettings(), &clk, nil)
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
	st.windowOps = 10
	st.tickNs = int64(time.Millisecond)
	fakeLearn(t, st, &clk, nil)
	env := *learner.env.Load()
	env.manual = false
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
// injected clock on which a pooled 300 KiB request costs 20 us and a large
// one 2 us: the learner must leave the default (1 MiB, all pooled) for a
// threshold below 300 KiB and freeze there.
func TestLearnEndToEnd(t *testing.T) {
	var clk atomic.Int64
	st := testSettings()
	st.windowOps = 100
	fakeLearn(t, st, &clk, nil)
	s := NewSite("learn-end-to-end")
	const size = 300 << 10
	env := *learner.env.Load()
	// Every read of the clock moves it by the cost of a request under the
	// threshold in force: t1 - t0 around an allocation is that cost.
	env.clock = func() int64 {
		if routedLarge(size, s.sid()) {
			return clk.Add(2000)
		}
		return clk.Add(20000)
	}
	learner.env.Store(&env)
	learner.on.Store(true)
	for i := 0; ; i++ {
		if i == 20000 {
			t.Fatalf("no freeze after %d requests", i)
		}
		Free(s.Alloc(size))
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
	st.windowOps = 64
	st.tickNs = int64(time.Millisecond)
	fakeLearn(t, st, &clk, nil)
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
	fakeLearn(t, testSettings(), &clk, nil)
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
	fakeLearn(t, testSettings(), &clk, nil)
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
// LEARN covers both in two windows, the losing routing's untried
// equivalents share its rating (none of them leads), and the site freezes
// on the winning routing within 2 + freezeWindows windows.
func TestLearnEquivalentShare(t *testing.T) {
	var clk atomic.Int64
	fakeLearn(t, testSettings(), &clk, nil)
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
		if w++; w > 2+learner.st.Load().freezeWindows {
			t.Fatalf("not frozen after %d windows: %+v", w-1, sl.strats)
		}
		feed(sl, &clk, 100, 300<<10, cost(sl.cur), 0)
	}
	if sl.best < 3 {
		t.Errorf("froze on %d KiB, a large routing", thresholdCandidates[sl.best]>>10)
	}
	for i := range 3 {
		if sl.strats[i].rating >= sl.strats[sl.best].rating {
			t.Errorf("large strategy %d rated %.1f, frozen %.1f", i, sl.strats[i].rating, sl.strats[sl.best].rating)
		}
	}
	if sl.strats[0].rating != sl.strats[1].rating || sl.strats[1].rating != sl.strats[2].rating {
		t.Errorf("equivalents rated apart: %.1f %.1f %.1f", sl.strats[0].rating, sl.strats[1].rating, sl.strats[2].rating)
	}
}

// TestLearnCanaryBudget: after a lost canary the next waits (r-1)/budget
// frozen windows; with every active strategy equivalent to the frozen one
// there is no canary at all.
func TestLearnCanaryBudget(t *testing.T) {
	st := testSettings()
	st.canaryEvery, st.canaryBudget = 4, 0.1
	if w := canaryWait(1.05, &st); w != 3 {
		t.Errorf("canaryWait(1.05) = %d, want canaryEvery-1 = 3", w)
	}
	if w := canaryWait(2.6, &st); w != 16 {
		t.Errorf("canaryWait(2.6) = %d, want ceil(1.6/0.1) = 16", w)
	}
	if w := canaryWait(1e9, &st); w != maxCanaryWait {
		t.Errorf("canaryWait(1e9) = %d, want %d", w, maxCanaryWait)
	}
	// The first canary waits by the cost ratio LEARN measured: the
	// challenger's smoothed cost over the frozen arm's.
	sl, clk := frozenSite(t, "learn-canary-budget", st)
	sl.mu.Lock()
	d, ch := sl.challenger()
	r := sl.strats[ch].cost / sl.strats[sl.best].cost
	wait := sl.canaryWait
	sl.mu.Unlock()
	if d != dimThreshold || r <= 1 || wait != canaryWait(r, &st) {
		t.Fatalf("first canary: challenger %d (dim %d) at ratio %.2f, wait %d, want %d", ch, d, r, wait, canaryWait(r, &st))
	}
	sl.mu.Lock()
	sl.canaryWait = 0 // from here on: canaryEvery, then the budget after a loss
	sl.mu.Unlock()
	for range 3 {
		feed(sl, clk, 100, spread, 200, 0)
	}
	if sl.state != stateCanary {
		t.Fatalf("%v, want CANARY", sl.state)
	}
	// The challenger costs 5x on CPU: the composite r = 0.4*5 + 0.6 = 2.6,
	// the CPU ratio 5: the wait counts the worse, ceil(4/0.1) = 40.
	feed(sl, clk, 100, spread, 1000, 0)
	for w := 1; w <= 40; w++ {
		if sl.state != stateFrozen {
			t.Fatalf("frozen window %d: %v, want FROZEN until 40", w, sl.state)
		}
		feed(sl, clk, 100, spread, 200, 0)
	}
	if sl.state != stateCanary {
		t.Fatalf("after 40 frozen windows: %v, want CANARY", sl.state)
	}

	// One size, and the only strategy routing it differently is retired:
	// every active strategy is equivalent to the frozen one.
	sl2 := newTestSiteLearn(t, "learn-canary-none", clk)
	sl2.mu.Lock()
	sl2.strats[0].retired = true
	sl2.freeze(4, int(cacheDefault))
	sl2.signature = sizeHist{}
	sl2.signature[sizeBucket(100<<10)] = 1
	sl2.mu.Unlock()
	for w := range 10 {
		feed(sl2, clk, 100, 100<<10, 200, 0)
		if sl2.state != stateFrozen {
			t.Fatalf("window %d: %v, want FROZEN (no challenger that routes differently)", w, sl2.state)
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
	fakeLearn(t, st, &clk, nil)
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
		if w > 20 {
			t.Fatalf("not frozen after 20 windows: phase %d, %+v", sl.phase, sl.carms)
		}
		feed(sl, &clk, 100, 2<<20, cost(), 0)
	}
	if sl.transitions[trLearnCache] != 1 || sl.cbest != int(cacheHold) || !sl.cacheLearned {
		t.Fatalf("cache phase: transitions %v, frozen on %s, learned %v", sl.transitions, cachePolicyNames[sl.cbest], sl.cacheLearned)
	}
	if p := cachePolicy(siteCachePol[sl.sid].Load()); p != cacheHold {
		t.Errorf("published policy %s, want hold", cachePolicyNames[p])
	}
	// A canary may run a cache policy now (it is the only dimension with
	// a challenger: every threshold routes 2 MiB alike).
	st2 := *learner.st.Load()
	st2.canaryEvery = 2
	learner.st.Store(&st2)
	feed(sl, &clk, 100, 2<<20, cost(), 0)
	if sl.state != stateCanary || sl.canaryDim != dimCache || sl.ccur == sl.cbest || sl.cur != sl.best {
		t.Fatalf("canary: %v dim %d, cache %d (frozen %d)", sl.state, sl.canaryDim, sl.ccur, sl.cbest)
	}
	feed(sl, &clk, 100, 2<<20, cost(), 0) // the challenger costs more: back to hold
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
	st.sampleEvery, st.windowOps = 4, 1<<40
	fakeLearn(t, st, &clk, nil)
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
