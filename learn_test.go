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

	"github.com/hakmem-go/hakmem/internal/learn"
)

// fakeLearn installs test settings and a manual environment: a clock the
// test moves (clk, ns), every request sampled, the process CPU time and
// the sites' requests from testCPU and testOps, no goroutine. It forgets
// every site's learning state and restores everything afterwards.
func fakeLearn(t *testing.T, st learn.Settings, clk *atomic.Int64) {
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
func testSettings() learn.Settings {
	st := learn.Defaults()
	st.Mode = learn.Live
	st.SampleEvery = 1
	st.MinLearnNs = 0
	st.MinWindowOps = 50
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
	clk.Add(st.WindowNs)
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
		feed(sl, clk, 100, size, costModel(sl.Cur), 0)
		if sl.State == learn.StateFrozen {
			return w
		}
	}
	t.Fatalf("still %v after 100 windows: %+v", sl.State, sl.Strats)
	return 0
}

func TestLearnConverges(t *testing.T) {
	var clk atomic.Int64
	fakeLearn(t, testSettings(), &clk)
	sl := newTestSiteLearn(t, "learn-converges", &clk)
	if sl.Cur != learn.NumStrategies-1 || sl.State != learn.StateLearn {
		t.Fatalf("starts on %d in %v, want the default (1 MiB) in LEARN", sl.Cur, sl.State)
	}
	w := learnToFrozen(t, sl, &clk)
	if sl.Cur != 2 || sl.Best != 2 {
		t.Fatalf("frozen on %d, want 2 (256 KiB): %+v", sl.Cur, sl.Strats)
	}
	if got := sl.site.threshold.Load(); got != 256<<10 {
		t.Fatalf("published threshold %d, want 256 KiB", got)
	}
	if sl.Transitions[learn.TrLearnFrozen] != 1 {
		t.Errorf("LEARN->FROZEN counted %d", sl.Transitions[learn.TrLearnFrozen])
	}
	var retired int
	for _, s := range sl.Strats {
		if s.Retired {
			retired++
		}
	}
	if retired != 2 {
		t.Errorf("%d retired, want 2 (the two challengers rejected against 256 KiB)", retired)
	}
	// 512 KiB then 256 KiB were adopted (one test each), 128 and 64 KiB
	// rejected.
	if sl.Transitions[learn.TrLearnAdopt] != 2 || !sl.Strats[0].Retired || !sl.Strats[1].Retired {
		t.Errorf("adoptions %d, retired %v %v", sl.Transitions[learn.TrLearnAdopt], sl.Strats[0].Retired, sl.Strats[1].Retired)
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
	st.MinLearnNs = int64(time.Hour)
	fakeLearn(t, st, &clk)
	sl := newTestSiteLearn(t, "learn-min", &clk)
	// 49 requests: unrated; nothing moves, the strategy stays.
	feed(sl, &clk, 49, spread, 100, 0)
	if sl.Cur != learn.NumStrategies-1 || sl.EpisodeWins != 0 || sl.Strats[sl.Cur].Samples != 0 || sl.prof.unrated != 1 {
		t.Fatalf("an unrated window changed the state: cur %d %+v", sl.Cur, sl.Strats[sl.Cur])
	}
	for range 100 {
		feed(sl, &clk, 100, spread, costModel(sl.Cur), 0)
	}
	if sl.State != learn.StateLearn {
		t.Fatalf("froze before minLearnNs")
	}
	if len(sl.Todo) != 0 || sl.Test.On || sl.Best != 2 || sl.Cur != 2 {
		t.Fatalf("todo %v, test %v, incumbent %d running %d: the only obstacle should be the time", sl.Todo, sl.Test.On, sl.Best, sl.Cur)
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
	for w := 0; sl.State != learn.StateFrozen; w++ {
		if w > 60 {
			t.Fatalf("not frozen after 60 windows")
		}
		ns := int64(1000)
		if sl.Cur <= 2 {
			ns = 1030 + int64(w%3)*20 // 3-7% slower
		}
		feed(sl, &clk, 100, 300<<10, ns, 0)
	}
	if sl.Best != learn.DefaultArm || sl.Transitions[learn.TrLearnAdopt] != 0 {
		t.Errorf("froze on %d KiB after %d adoptions, want the default", learn.Thresholds[sl.Best]>>10, sl.Transitions[learn.TrLearnAdopt])
	}
	// The same throughput, but the default maps 100 fresh pages a window
	// (1 fault per request) and the challenger none: the composite breaks
	// every tie for the challenger.
	sl2 := newTestSiteLearn(t, "learn-tie-break", &clk)
	for w := 0; sl2.State != learn.StateFrozen; w++ {
		if w > 60 {
			t.Fatalf("not frozen after 60 windows")
		}
		pages := uint64(0)
		if sl2.Cur > 2 {
			pages = 100
		}
		feed(sl2, &clk, 100, 300<<10, 1000, pages)
	}
	if sl2.Best > 2 || sl2.Transitions[learn.TrLearnAdopt] != 1 {
		t.Errorf("tie-break: froze on %d KiB after %d adoptions, want a large routing", learn.Thresholds[sl2.Best]>>10, sl2.Transitions[learn.TrLearnAdopt])
	}
}

// frozenSite returns a site frozen on costModel's best (index 2).
func frozenSite(t *testing.T, name string, st learn.Settings) (*siteLearn, *atomic.Int64) {
	t.Helper()
	return frozenSiteOn(t, name, st, spread)
}

// frozenSiteOn is frozenSite learned on requests of size bytes (or spread).
func frozenSiteOn(t *testing.T, name string, st learn.Settings, size int) (*siteLearn, *atomic.Int64) {
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
	st.CanaryEvery = 4  // 3 frozen windows, then a check
	st.CanaryBudget = 0 // and after a rejected one, 3 again
	sl, clk := frozenSite(t, "learn-check", st)
	for w := range 3 {
		if sl.State != learn.StateFrozen {
			t.Fatalf("window %d: %v, want FROZEN", w, sl.State)
		}
		feed(sl, clk, 100, spread, 200, 0)
	}
	if sl.State != learn.StateCanary || sl.Transitions[learn.TrFrozenCanary] != 1 || sl.Cur != learn.DefaultArm || !sl.Test.On {
		t.Fatalf("state %v, cur %d, best %d: want CANARY on the default", sl.State, sl.Cur, sl.Best)
	}
	if got := sl.site.threshold.Load(); got != learn.Thresholds[sl.Cur] {
		t.Fatalf("check threshold %d not published", got)
	}
	losses := sl.Strats[learn.DefaultArm].Losses
	for w := 0; sl.State == learn.StateCanary; w++ {
		if w > 2 {
			t.Fatal("a check whose challenger ran at a quarter of the incumbent still runs after its first pair")
		}
		feed(sl, clk, 100, spread, costModel(sl.Cur), 0) // the default: 800 ns against 200, under AbortRatio
	}
	if sl.State != learn.StateFrozen || sl.Cur != 2 || sl.Transitions[learn.TrCanaryFrozen] != 1 || sl.Strats[learn.DefaultArm].Losses != losses+1 {
		t.Fatalf("after a losing check: %v cur %d %+v", sl.State, sl.Cur, sl.Strats[learn.DefaultArm])
	}
	// The workload changed where the histogram cannot see it: the default
	// now costs 100 ns, the frozen 256 KiB 200.
	// The checks take turns: the default, the best other threshold and,
	// since some of these sizes take the large path under 256 KiB, the
	// hold policy.
	for w := 0; sl.Transitions[learn.TrRollback] == 0; w++ {
		if w > 60 {
			t.Fatalf("no rollback after 60 windows: %v", sl.State)
		}
		ns := int64(200)
		if sl.Cur == learn.DefaultArm {
			ns = 100
		}
		feed(sl, clk, 100, spread, ns, 0)
	}
	if sl.State != learn.StateFrozen || sl.Best != learn.DefaultArm || sl.site.threshold.Load() != maxSmall {
		t.Fatalf("after the rollback: %v best %d threshold %d", sl.State, sl.Best, sl.site.threshold.Load())
	}
}

func TestLearnDegradation(t *testing.T) {
	st := testSettings()
	st.CanaryEvery = 0 // no check in the way
	sl, clk := frozenSite(t, "learn-degrade", st)
	for range st.DegradeWindows {
		feed(sl, clk, 100, spread, 200, 0) // the baseline: their mean
	}
	if sl.Baseline != 5e6 {
		t.Fatalf("baseline %v after %d windows, want 5e6 requests per CPU-second", sl.Baseline, st.DegradeWindows)
	}
	// 1.2x the time (throughput 0.83x): not degraded; 1.5x twice, a normal
	// window (the count restarts), then 1.5x three times.
	for i, ns := range []int64{240, 300, 300, 200, 300, 300} {
		feed(sl, clk, 100, spread, ns, 0)
		if sl.State != learn.StateFrozen {
			t.Fatalf("window %d left FROZEN early", i)
		}
	}
	feed(sl, clk, 100, spread, 300, 0)
	// Frozen on 256 KiB, not the default: a rollback check of the
	// default starts at once (TestMachineDegradation has the rest).
	if sl.State != learn.StateCanary || sl.Transitions[learn.TrDegraded] != 1 || sl.Best != 2 ||
		sl.Test.Arm != learn.DefaultArm || sl.Cur != learn.DefaultArm || sl.Baseline != 0 {
		t.Fatalf("after 3 degraded windows: %v, incumbent %d, challenger %d, baseline %v", sl.State, sl.Best, sl.Test.Arm, sl.Baseline)
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
		clk.Add(st.WindowNs)
		sl.step(clk.Load(), learner.st.Load(), learner.env.Load())
	}
	mixed(200)
	if sl.State != learn.StateFrozen {
		t.Fatalf("TVD 0.2 left FROZEN")
	}
	// The noise bound over 2 occupied buckets and 8 samples:
	// sqrt(2/8)/2 = 0.25.
	if n := learn.TVDNoise(&learn.Hist{1: 1}, &learn.Hist{2: 1}, 8); math.Abs(n-0.25) > 1e-12 {
		t.Errorf("learn.TVDNoise(2 buckets, 8 samples) = %v, want 0.25", n)
	}
	mixed(300)
	// One window may straddle the change: the next one confirms it.
	if sl.State != learn.StateFrozen || !sl.ShiftSeen {
		t.Fatalf("TVD 0.3 once: %v, shift seen %v", sl.State, sl.ShiftSeen)
	}
	mixed(300)
	if sl.State != learn.StateLearn || sl.Transitions[learn.TrShifted] != 1 {
		t.Fatalf("TVD 0.3 twice: %v", sl.State)
	}
	// The window that confirmed the shift is the new episode's first: it ran
	// the frozen arm (the incumbent) on the new sizes (300 and 900 KiB).
	// Three routings of those exist (64 to 256 KiB: both large; 512 KiB:
	// 300 KiB pooled; 1 MiB: both pooled): after one more window the two
	// others are listed as challengers, nearest first, and the first test
	// starts.
	if sl.Strats[sl.Best].EpWindows != 1 || sl.Best != 2 {
		t.Fatalf("the frozen arm has %d windows in the new episode, want 1 (the shift window); incumbent %d", sl.Strats[sl.Best].EpWindows, sl.Best)
	}
	feed(sl, clk, 100, 900<<10, 200, 0)
	if !sl.Test.On || sl.Test.Arm != 3 || sl.Cur != 3 || len(sl.Todo) != 1 || sl.Todo[0] != 4 {
		t.Errorf("after the shift: test %v of %d, todo %v", sl.Test.On, sl.Test.Arm, sl.Todo)
	}
}

// TestLearnWindowMeasure: the learner goroutine's rule (learnStepAll, not
// forced): a window closes windowNs after its measured part began, once
// the site made minWindowOps requests (or after learn.MaxWindowStretch
// windowNs); after a switch of strategy the measured part starts settle x
// windowNs after the window; a window's throughput is its requests over
// the process CPU time of its measured part.
func TestLearnWindowMeasure(t *testing.T) {
	var clk atomic.Int64
	st := testSettings()
	st.MinWindowOps = 100
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
	clk.Add(st.WindowNs)
	// 50 requests of 100 in a window: the learner comes back when the
	// other 50 should be there, a window later.
	if next := learnStepAll(false); closed() != 0 || next != clk.Load()+st.WindowNs {
		t.Fatalf("windows %d, next event %d: want none closed, the next at +windowNs", closed(), next-clk.Load())
	}
	testOps[sl.sid].Add(49)
	// 99 of 100 after 1.1 windows: the last one is due in 1/99 of that.
	clk.Add(st.WindowNs / 10)
	if next := learnStepAll(false); closed() != 0 || next != clk.Load()+(st.WindowNs*11/10)/99 {
		t.Fatalf("closed with 99 requests of 100, or next event %d, want %d", next-clk.Load(), (st.WindowNs*11/10)/99)
	}
	testOps[sl.sid].Add(1)
	if next := learnStepAll(false); closed() != 1 || next != clk.Load()+st.WindowNs {
		t.Fatalf("windows %d, next event %d: want 1 closed, the next at +windowNs", closed(), next-clk.Load())
	}
	// A quiet site: closed unrated after learn.MaxWindowStretch windows.
	clk.Add(learn.MaxWindowStretch * st.WindowNs)
	learnStepAll(false)
	if closed() != 2 || sl.prof.unrated != 1 {
		t.Fatalf("windows %d, unrated %d: want a stretched window closed unrated", closed(), sl.prof.unrated)
	}
	// A switch: the measured part waits for the settle time.
	sl.mu.Lock()
	sl.Cur = 0
	sl.beginWindow(clk.Load(), true, &st, &env)
	sl.mu.Unlock()
	settle := int64(float64(st.WindowNs) * st.Settle)
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
	clk.Add(st.WindowNs)
	sl.mu.Lock()
	var m learn.Metrics
	sl.measure(&m, &env, &st)
	sl.mu.Unlock()
	if m.SiteOps != 500 || m.Tput != 5e5 || m.FullTput != 1500/2e-3 {
		t.Errorf("measured %d requests, %v a CPU-second (whole window %v); want 500, 5e5, 7.5e5", m.SiteOps, m.Tput, m.FullTput)
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
	sl.Cur = learn.NumStrategies - 1
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
	st.MinWindowOps, st.WindowNs = 10, int64(time.Millisecond)
	st.TickNs = int64(time.Millisecond)
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
	setLearnMode(learn.Frozen) // leaving live mode stops it
	select {
	case <-done:
	default:
		t.Fatal("goroutine still running after setLearnMode(learn.Frozen)")
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
	saved := sl.Strats
	// Forget, then load: the site is FROZEN on 256 KiB with its ratings.
	learner.sites[sl.sid].Store(nil)
	sl.site.setThreshold(0)
	if err := LoadPolicy(bytes.NewReader(b1.Bytes())); err != nil {
		t.Fatal(err)
	}
	nl := learner.sites[sl.sid].Load()
	if nl == nil || nl.State != learn.StateFrozen || nl.Cur != 2 || sl.site.threshold.Load() != 256<<10 {
		t.Fatalf("loaded: %+v", nl)
	}
	for i := range saved {
		if nl.Strats[i].Rating != saved[i].Rating || nl.Strats[i].Wins != saved[i].Wins || nl.Strats[i].Samples != saved[i].Samples {
			t.Errorf("strategy %d: %+v, saved %+v", i, nl.Strats[i], saved[i])
		}
	}
	if nl.Signature != sl.Signature || learn.TVD(&nl.Signature, &sl.Signature) != 0 || nl.Signature[sizeBucket(spreadSizes[0])] == 0 {
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
	sl.State, sl.Cur = learn.StateLearn, 0
	sl.mu.Unlock()
	sl.site.setThreshold(64 << 10)
	for _, c := range cases {
		err := LoadPolicy(strings.NewReader(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if learner.sites[sl.sid].Load() != sl || sl.State != learn.StateLearn || sl.site.threshold.Load() != 64<<10 {
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
	st.WindowNs = 100_000 // 100 requests of 1 us on the learner clock
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
		if sl := learner.sites[s.id].Load(); sl != nil && sl.State == learn.StateFrozen {
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
	st.CanaryEvery, st.CanaryBudget = 2, 0
	sl, clk := frozenSite(t, "learn-modes", st)
	feed(sl, clk, 100, spread, 200, 0)
	if sl.State != learn.StateCanary {
		t.Fatalf("%v, want CANARY", sl.State)
	}
	best := learn.Thresholds[sl.Best]
	setLearnMode(learn.Frozen)
	if sl.State != learn.StateFrozen || sl.site.threshold.Load() != best || learner.on.Load() {
		t.Fatalf("frozen mode: %v threshold %d", sl.State, sl.site.threshold.Load())
	}
	setLearnMode(learn.Off)
	if sl.site.threshold.Load() != 0 || learner.sites[sl.sid].Load() != sl {
		t.Fatalf("off mode: threshold %d", sl.site.threshold.Load())
	}
	setLearnMode(learn.Frozen)
	if sl.site.threshold.Load() != best {
		t.Fatalf("frozen again: threshold %d", sl.site.threshold.Load())
	}
	st.Mode = learn.Live
	applyLearnSettings(st)
	if !learner.on.Load() || learner.st.Load().CanaryEvery != 2 {
		t.Fatal("applyLearnSettings did not install the settings and the mode")
	}
}

// TestLearnConcurrent runs sampled allocations on several goroutines while
// the learner goroutine closes windows and stats, the leaderboard, saves
// and loads run: for the race detector.
func TestLearnConcurrent(t *testing.T) {
	var clk atomic.Int64
	st := testSettings()
	st.MinWindowOps, st.WindowNs = 64, 5000
	st.TickNs = int64(time.Millisecond)
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
	if len(ls.Transitions) != learn.NumTransitions || ls.Transitions["LEARN->FROZEN"] != 1 || ls.Transitions["FROZEN->LEARN(shift)"] != 0 {
		t.Errorf("transitions %v", ls.Transitions)
	}
	if len(ls.Strategies) != learn.NumStrategies+int(numCacheStyles) {
		t.Fatalf("%d strategies", len(ls.Strategies))
	}
	for i, s := range ls.Strategies[learn.NumStrategies:] {
		if s.Kind != "bigcache" || s.Threshold != 0 || (s.Running != (s.Policy == ls.BigCache)) {
			t.Errorf("bigcache arm %d: %+v (in use %q)", i, s, ls.BigCache)
		}
	}
	var running, retired int
	for i, s := range ls.Strategies[:learn.NumStrategies] {
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
	sl.Cur = 1
	sl.publish(learn.Live)
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

// TestSizeBucket: the histogram bucket of a request.
func TestSizeBucket(t *testing.T) {
	if sizeBucket(maxSmall+1) != numClasses || sizeBucket(100<<10) != int(sizeClass(100<<10)) {
		t.Error("sizeBucket")
	}
}

// TestCandidatesAreClassSizes: equivalent relies on every candidate
// threshold being a class size.
func TestCandidatesAreClassSizes(t *testing.T) {
	for _, c := range learn.Thresholds {
		if uintptr(classes[sizeClass(c)].size) != c {
			t.Errorf("candidate %d is not a class size", c)
		}
	}
}

func TestEquivalent(t *testing.T) {
	var h learn.Hist
	h[sizeBucket(300<<10)] = 5
	h[sizeBucket(2<<20)] = 7 // above maxSmall: large whatever the threshold
	// 300 KiB lies between 256 KiB (index 2) and 512 KiB (index 3).
	for _, c := range []struct {
		i, j int
		want bool
	}{{0, 1, true}, {0, 2, true}, {2, 3, false}, {1, 4, false}, {3, 4, true}, {2, 2, true}} {
		if got := classSizes.Equivalent(c.i, c.j, &h); got != c.want || classSizes.Equivalent(c.j, c.i, &h) != c.want {
			t.Errorf("classSizes.Equivalent(%d, %d) = %v, want %v (symmetric)", c.i, c.j, got, c.want)
		}
	}
	// A request of exactly a threshold is pooled under it.
	var e learn.Hist
	e[sizeBucket(256<<10)] = 1
	if !classSizes.Equivalent(2, 4, &e) || classSizes.Equivalent(1, 2, &e) {
		t.Error("256 KiB: want 256 KiB ~ 1 MiB and 128 KiB !~ 256 KiB")
	}
}

// TestLearnEquivalentShare: on one request size only two routings exist;
// LEARN tests one representative of the other routing (256 KiB stands for
// 64 to 256 KiB), rejects it after one pair (a tenth of the incumbent's
// throughput, under AbortRatio), and freezes on the
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
	for sl.State != learn.StateFrozen {
		if w++; w > 2+2*3+1 {
			t.Fatalf("not frozen after %d windows: %+v", w-1, sl.Strats)
		}
		feed(sl, &clk, 100, 300<<10, cost(sl.Cur), 0)
	}
	if sl.Best != learn.DefaultArm || sl.Strats[2].Losses != 1 || !sl.Strats[2].Retired {
		t.Errorf("froze on %d KiB; 256 KiB %+v", learn.Thresholds[sl.Best]>>10, sl.Strats[2])
	}
	for _, i := range []int{0, 1, 3} {
		if sl.Strats[i].Samples != 0 {
			t.Errorf("strategy %d ran: %+v", i, sl.Strats[i])
		}
	}
}

// TestLearnCheckBudget: checks of a challenger that lost l of a window's
// throughput per challenger window wait 2l/budget frozen windows, the
// first by the loss LEARN measured; with no arm acting differently from
// the frozen one there is no check at all.
func TestLearnCheckBudget(t *testing.T) {
	st := testSettings()
	st.CanaryEvery, st.CanaryBudget = 4, 0.1
	if w := learn.CheckWaitFor(0.01, &st); w != 3 {
		t.Errorf("learn.CheckWaitFor(0.01) = %d, want canaryEvery-1 = 3", w)
	}
	if w := learn.CheckWaitFor(0.8, &st); w != 16 {
		t.Errorf("learn.CheckWaitFor(0.8) = %d, want ceil(1.6/0.1) = 16", w)
	}
	if w := learn.CheckWaitFor(1e9, &st); w != learn.MaxCanaryWait {
		t.Errorf("learn.CheckWaitFor(1e9) = %d, want %d", w, learn.MaxCanaryWait)
	}
	// Frozen on 256 KiB (200 ns); the first check is of the default, which
	// lost its LEARN test at 800 ns against 500 (512 KiB, the incumbent
	// then): 0.375 of a window per challenger window.
	sl, clk := frozenSite(t, "learn-check-budget", st)
	sl.mu.Lock()
	d, ch := sl.CheckChallenger()
	lost, wait := sl.LostPerWin[d][ch], sl.CheckWait
	sl.mu.Unlock()
	if d != learn.DimThreshold || ch != learn.DefaultArm || wait != learn.CheckWaitFor(lost, &st) || math.Abs(lost-0.375) > 1e-9 {
		t.Fatalf("first check: challenger %d (dim %d), lost %.3f, wait %d, want the default, 0.375, %d", ch, d, lost, wait, learn.CheckWaitFor(lost, &st))
	}
	sl.mu.Lock()
	sl.CheckWait = 0 // from here on: canaryEvery, then the budget after a loss
	sl.mu.Unlock()
	for range 3 {
		feed(sl, clk, 100, spread, 200, 0)
	}
	if sl.State != learn.StateCanary {
		t.Fatalf("%v, want CANARY", sl.State)
	}
	// The default costs 4x: each of its windows loses 0.75 of a window:
	// the next check waits ceil(2 x 0.75 / 0.1) = 15 windows.
	for sl.State == learn.StateCanary {
		ns := int64(200)
		if sl.Cur == learn.DefaultArm {
			ns = 800
		}
		feed(sl, clk, 100, spread, ns, 0)
	}
	if sl.CheckWait != 15 {
		t.Fatalf("after a lost check: wait %d, want 15", sl.CheckWait)
	}
	for w := 1; w <= 15; w++ {
		if sl.State != learn.StateFrozen {
			t.Fatalf("frozen window %d: %v, want FROZEN until 15", w, sl.State)
		}
		feed(sl, clk, 100, spread, 200, 0)
	}
	if sl.State != learn.StateCanary {
		t.Fatalf("after 15 frozen windows: %v, want CANARY", sl.State)
	}

	// One size, and every strategy routes it alike but the frozen one's
	// class: no arm acts differently, no check.
	sl2 := newTestSiteLearn(t, "learn-check-none", clk)
	sl2.mu.Lock()
	sl2.Freeze(4, int(cacheDefault), learner.st.Load())
	sl2.Signature = learn.Hist{}
	sl2.Signature[sizeBucket(2<<20)] = 1 // above maxSmall: every threshold routes it alike
	sl2.mu.Unlock()
	for w := range 10 {
		feed(sl2, clk, 100, 2<<20, 200, 0)
		if sl2.State != learn.StateFrozen {
			t.Fatalf("window %d: %v, want FROZEN (no challenger that acts differently)", w, sl2.State)
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
	st.CanaryBudget = 0 // canaries every canaryEvery windows
	fakeLearn(t, st, &clk)
	sl := newTestSiteLearn(t, "learn-cache-phase", &clk)
	t.Cleanup(func() { setSiteCacheStyle(sl.sid, cacheDefault) })
	cost := func() int64 { return []int64{500, 900, 100}[sl.CCur] } // hold is cheapest
	// churn: blocks evicted by the site's limit, so the cache policy matters.
	churn := func(sid int32) {
		heap.mu.Lock()
		heap.big.sites[sid].evictions += 50
		heap.big.evictions += 50 // the totals match the sites' sums (checkStats)
		heap.mu.Unlock()
	}
	churn(sl.sid)
	for w := 1; sl.State != learn.StateFrozen; w++ {
		if w > 60 {
			t.Fatalf("not frozen after 60 windows: phase %d, %+v", sl.Phase, sl.CArms)
		}
		feed(sl, &clk, 100, 2<<20, cost(), 0)
	}
	if sl.Transitions[learn.TrLearnCache] != 1 || sl.CBest != int(cacheHold) || !sl.CacheLearned {
		t.Fatalf("cache phase: transitions %v, frozen on %s, learned %v", sl.Transitions, cacheStyleNames[sl.CBest], sl.CacheLearned)
	}
	if p := cacheStyle(siteCacheStyle[sl.sid].Load()); p != cacheHold {
		t.Errorf("published policy %s, want hold", cacheStyleNames[p])
	}
	// A check may run a cache policy now (the only dimension with a
	// challenger: every threshold routes 2 MiB alike): the default policy
	// first, a rollback check.
	st2 := *learner.st.Load()
	st2.CanaryEvery = 2
	learner.st.Store(&st2)
	sl.mu.Lock()
	sl.CheckWait = 0 // canaryEvery-1 from here on
	sl.mu.Unlock()
	feed(sl, &clk, 100, 2<<20, cost(), 0)
	if sl.State != learn.StateCanary || sl.Test.Dim != learn.DimCache || sl.CCur == sl.CBest || sl.Cur != sl.Best {
		t.Fatalf("check: %v dim %d, cache %d (frozen %d)", sl.State, sl.Test.Dim, sl.CCur, sl.CBest)
	}
	for w := 0; sl.State == learn.StateCanary; w++ { // the challenger costs more: back to hold
		if w > 6 {
			t.Fatal("a losing check still runs after 3 pairs")
		}
		feed(sl, &clk, 100, 2<<20, cost(), 0)
	}
	if sl.State != learn.StateFrozen || sl.CCur != int(cacheHold) {
		t.Fatalf("after the canary: %v on %s", sl.State, cacheStyleNames[sl.CCur])
	}

	// All large, but the cache never churns: no cache phase either.
	learner.st.Store(&st)
	sl3 := newTestSiteLearn(t, "learn-cache-phase-calm", &clk)
	for w := 1; sl3.State != learn.StateFrozen; w++ {
		if w > 20 {
			t.Fatal("calm site not frozen after 20 windows")
		}
		feed(sl3, &clk, 100, 2<<20, 300, 0)
	}
	if sl3.Transitions[learn.TrLearnCache] != 0 || sl3.CacheLearned {
		t.Errorf("calm site learned its cache: transitions %v", sl3.Transitions)
	}

	// 100 KiB, pooled cheaper: the leader pools everything, no cache phase.
	sl2 := newTestSiteLearn(t, "learn-cache-phase-pooled", &clk)
	churn(sl2.sid)
	for w := 1; sl2.State != learn.StateFrozen; w++ {
		if w > 20 {
			t.Fatal("pooled site not frozen after 20 windows")
		}
		ns := int64(100)
		if sl2.Cur == 0 { // 64 KiB: 100 KiB goes large
			ns = 1000
		}
		feed(sl2, &clk, 100, 100<<10, ns, 0)
	}
	if sl2.Transitions[learn.TrLearnCache] != 0 || sl2.CacheLearned || sl2.Cur == 0 {
		t.Errorf("pooled site: transitions %v, threshold %d KiB", sl2.Transitions, learn.Thresholds[sl2.Cur]>>10)
	}
}

// TestLearnHitCounters: pooled hits picked by the per-P tick are counted
// in the site's hit counters without its lock and reach the window at its
// close; nothing is counted once learning is off, and a site fixed by
// SetThreshold is not counted.
func TestLearnHitCounters(t *testing.T) {
	var clk atomic.Int64
	st := testSettings()
	st.SampleEvery = 4
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
	st := learn.Defaults()
	st.SampleEvery = 64
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
	if m.Samples != 41 || m.Draws != 11 || m.Hist[b] != 40 || p.traffic != 41 {
		t.Errorf("closed window: %d samples, %d draws, bucket %d, traffic %d; want 41, 11, 40, 41", m.Samples, m.Draws, m.Hist[b], p.traffic)
	}
	if want := float64(40*fastHitNs+1000) / 41; math.Abs(m.CPUNsPerOp-want) > 1e-9 {
		t.Errorf("cpu %.3f ns/op, want %.3f", m.CPUNsPerOp, want)
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
	for w := 0; sl.State != learn.StateFrozen; w++ {
		if w > 2+7 {
			t.Fatalf("not frozen after %d windows: todo %v", w, sl.Todo)
		}
		ns := int64(200)
		if sl.Cur != learn.DefaultArm {
			ns = 400
		}
		feed(sl, &clk, 100, spread, ns, 0)
	}
	if sl.Best != learn.DefaultArm || sl.Strats[3].Losses != 3 {
		t.Fatalf("frozen on %d; 512 KiB %+v", sl.Best, sl.Strats[3])
	}
	for i := range 3 {
		if sl.Strats[i].Samples != 0 || !sl.Strats[i].Retired {
			t.Errorf("threshold %d KiB: %+v, want pruned untested", learn.Thresholds[i]>>10, sl.Strats[i])
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
	if !a.Test.On || b.Test.On || b.Cur != learn.DefaultArm || learner.tester.Load() != a.sid+1 {
		t.Fatalf("a testing %v, b testing %v (running %d), token %d", a.Test.On, b.Test.On, b.Cur, learner.tester.Load())
	}
	for w := 0; a.Test.On; w++ {
		if w > 30 {
			t.Fatal("a's test never ended")
		}
		ns := int64(200)
		if a.Cur != learn.DefaultArm {
			ns = 1000 // a's challenger loses
		}
		feed(a, &clk, 100, 300<<10, ns, 0)
		if !a.Test.On {
			break
		}
		feed(b, &clk, 100, 300<<10, 200, 0)
		if b.Test.On || b.Cur != learn.DefaultArm {
			t.Fatal("b tested while a held the token")
		}
	}
	feed(b, &clk, 100, 300<<10, 200, 0)
	if !b.Test.On || learner.tester.Load() != b.sid+1 {
		t.Fatalf("b did not take the token after a's test: testing %v, token %d", b.Test.On, learner.tester.Load())
	}
}

// TestLearnRecall: a site whose sizes go back to a distribution it froze
// on before takes that choice again at once (FROZEN -> FROZEN recalled),
// without relearning; a distribution never seen is learned.
func TestLearnRecall(t *testing.T) {
	st := testSettings()
	st.CanaryEvery = 0 // no check in the way
	sl, clk := frozenSiteOn(t, "learn-recall", st, 300<<10)
	if sl.Best != 2 {
		t.Fatalf("frozen on %d, want 2 (256 KiB: 300 KiB large)", sl.Best)
	}
	// 900 KiB: every threshold but the default sends it large; large costs
	// 200 ns and pooled 2,000 here, so the incumbent (256 KiB) stays.
	cost900 := func() int64 {
		if sl.Cur == learn.DefaultArm {
			return 2000
		}
		return 200
	}
	for w := 0; sl.State != learn.StateFrozen || sl.Transitions[learn.TrShifted] == 0; w++ {
		if w > 30 {
			t.Fatalf("900 KiB not learned after 30 windows: %v", sl.State)
		}
		feed(sl, clk, 100, 900<<10, cost900(), 0)
	}
	learned := sl.Transitions[learn.TrLearnFrozen]
	feed(sl, clk, 100, 300<<10, costModel(sl.Cur), 0) // back to 300 KiB
	if sl.State != learn.StateFrozen || sl.Transitions[learn.TrRecalled] != 1 || sl.Transitions[learn.TrShifted] != 1 || sl.Best != 2 {
		t.Fatalf("back to 300 KiB: %v on %d, transitions %v", sl.State, sl.Best, sl.Transitions)
	}
	feed(sl, clk, 100, 900<<10, cost900(), 0) // and to 900 KiB again
	if sl.State != learn.StateFrozen || sl.Transitions[learn.TrRecalled] != 2 || sl.Transitions[learn.TrLearnFrozen] != learned {
		t.Fatalf("back to 900 KiB: %v, transitions %v", sl.State, sl.Transitions)
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
	if cacheStyle(siteCacheStyle[s.id].Load()) != cacheHold || !s.fixed.Load() {
		t.Fatalf("policy %d, fixed %v", siteCacheStyle[s.id].Load(), s.fixed.Load())
	}
	sl.mu.Lock()
	sl.CCur = int(cacheLean)
	sl.publish(learn.Live) // a fixed site: nothing published
	sl.mu.Unlock()
	if cacheStyle(siteCacheStyle[s.id].Load()) != cacheHold {
		t.Fatal("the learner published over a fixed policy")
	}
	if err := s.SetThreshold(0); err != nil || cacheStyle(siteCacheStyle[s.id].Load()) != cacheLean || s.fixed.Load() {
		t.Fatalf("given back: %v, policy %d (want the learned lean), fixed %v", err, siteCacheStyle[s.id].Load(), s.fixed.Load())
	}
}

// TestLearnDegradationOtherTester: while another site runs a test, a
// frozen site's windows count neither for its baseline nor as degraded.
func TestLearnDegradationOtherTester(t *testing.T) {
	st := testSettings()
	st.CanaryEvery = 0 // no check in the way
	sl, clk := frozenSite(t, "learn-degrade-other", st)
	for range st.DegradeWindows {
		feed(sl, clk, 100, spread, 200, 0)
	}
	learner.tester.Store(sl.sid + 2) // another site's test
	for range 5 {
		feed(sl, clk, 100, spread, 1000, 0) // 5x slower: the other site's challenger
	}
	if sl.State != learn.StateFrozen || sl.Degraded != 0 {
		t.Fatalf("degraded by another site's test: %v, %d windows", sl.State, sl.Degraded)
	}
	learner.tester.Store(0)
	for range st.DegradeWindows {
		feed(sl, clk, 100, spread, 1000, 0)
	}
	if sl.State != learn.StateCanary || sl.Transitions[learn.TrDegraded] != 1 {
		t.Fatalf("not degraded once the other test ended: %v", sl.State)
	}
}
