package hakmem

import (
	"log/slog"
	"sync"

	"github.com/hakmem-go/hakmem/internal/learn"
)

// The windows of a site's learning: the engine's side of the lifecycle
// that internal/learn decides (learn.Machine). A window is measured here
// (the site's requests and the process's CPU time at its start, after a
// switch's settle, and at its close), its profile closed (learn_profile.go),
// the machine stepped, and what it decided published where the
// allocation slow path and the BigCache read it.

// siteLearn is the learning state of one site. Created on the site's first
// sample (or by LoadPolicy); its mu guards everything but the immutable
// fields. The sampling hook takes mu for one record; the learner takes it
// to close a window.
type siteLearn struct {
	site *Site // immutable
	sid  int32 // immutable; the site's id, < maxSites

	mu            sync.Mutex  // guards everything below
	prof          profile     // the window in progress and the totals
	win           windowClock // the measurement of the window in progress
	learn.Machine             // the lifecycle: arms, state, test in progress
}

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

// classSizes are the size buckets' block sizes, for the learner's routing
// classes (learn.Sizes): the class sizes, and 0 for requests above
// maxSmall.
var classSizes = func() (z learn.Sizes) {
	for c := range numClasses {
		z[c] = uintptr(classes[c].size)
	}
	return z
}()

// The learning package's constants that restate the engine's: checked
// here, at compile time (a constant conversion overflows otherwise).
const (
	_ = uint(learn.NumBuckets-numSizeBuckets) + uint(numSizeBuckets-learn.NumBuckets)
	_ = uint(learn.AllPooled-maxSmall) + uint(maxSmall-learn.AllPooled)
)

// tester is the learn.Token of one site: learner.tester holds the site id
// + 1 of the site running an A/B test, 0 when none.
type tester int32

func (t tester) Acquire() bool {
	return learner.tester.CompareAndSwap(0, int32(t)+1) || learner.tester.Load() == int32(t)+1
}

func (t tester) Release() { learner.tester.CompareAndSwap(int32(t)+1, 0) }

func (t tester) Busy() bool {
	h := learner.tester.Load()
	return h != 0 && h != int32(t)+1
}

// newSiteLearn starts site s (id sid) in LEARN at time t, the incumbent
// being the strategy nearest below its current threshold (the default:
// 1 MiB) and the default cache policy.
func newSiteLearn(s *Site, sid int32, t int64, st *learn.Settings) *siteLearn {
	sl := &siteLearn{site: s, sid: sid}
	sl.Sizes, sl.Tok = &classSizes, tester(sid)
	sl.Init(siteThreshold(sid), t, st)
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
func (sl *siteLearn) siteOps(env *learnEnv, st *learn.Settings) uint64 {
	if env.ops != nil {
		return env.ops(sl.sid)
	}
	if sl.sid == 0 {
		n, _ := sl.prof.pending(st)
		return (sl.prof.traffic + n - sl.prof.samples) * uint64(max(st.SampleEvery, 1))
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
// measured part starts Settle x WindowNs later (the switch's warm-up:
// fresh mappings, empty caches), else now (always now in a manual
// environment: the test, or the acceptance benchmarks with
// learnMeasureAll, decide). Caller holds sl.mu.
func (sl *siteLearn) beginWindow(t int64, switched bool, st *learn.Settings, env *learnEnv) {
	sl.win = windowClock{start: t, measureFrom: t, fullOps0: sl.siteOps(env, st), fullCPU0: processCPU(env)}
	if switched && !env.manual {
		sl.win.measureFrom = t + int64(float64(st.WindowNs)*st.Settle)
	}
	if sl.win.measureFrom <= t {
		sl.beginMeasure(t, env, st)
	}
}

// beginMeasure starts the window's measured part at t. Caller holds sl.mu.
func (sl *siteLearn) beginMeasure(t int64, env *learnEnv, st *learn.Settings) {
	sl.win.measuring, sl.win.t0 = true, t
	sl.win.ops0, sl.win.cpu0 = sl.siteOps(env, st), processCPU(env)
}

// measure fills m's throughput figures from the window clock, at the
// window's close. Caller holds sl.mu.
func (sl *siteLearn) measure(m *learn.Metrics, env *learnEnv, st *learn.Settings) {
	ops, cpu := sl.siteOps(env, st), processCPU(env)
	if d := cpu - sl.win.fullCPU0; d > 0 && ops >= sl.win.fullOps0 {
		m.FullTput = float64(ops-sl.win.fullOps0) / float64(d) * 1e9
	}
	if !sl.win.measuring {
		return
	}
	m.SiteOps = ops - min(sl.win.ops0, ops)
	if d := cpu - sl.win.cpu0; d > 0 {
		m.Tput = float64(m.SiteOps) / float64(d) * 1e9
	}
}

// step closes the window in progress at time t, runs the lifecycle and
// publishes the strategy of the next window.
func (sl *siteLearn) step(t int64, st *learn.Settings, env *learnEnv) {
	cached, churn := siteCacheState(sl.sid)
	faults := env.faults
	if faults == nil {
		faults = noFaultCounter
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	m := sl.prof.close(t, sl.sid, cached, churn, sl.Cur, sl.CCur, st, faults)
	sl.measure(&m, env, st)
	d := sl.Step(&m, t, st)
	if !d.Rated {
		sl.prof.unrated++
	}
	for _, e := range d.Events {
		sl.logTransition(e)
	}
	sl.publish(st.Mode)
	sl.beginWindow(t, d.Switched, st, env)
}

// logTransition logs a lifecycle transition in the verbose debug level
// (Research mode).
func (sl *siteLearn) logTransition(e learn.Event) {
	cfg().logAttrs(debugVerbose, "learn transition", slog.String("site", sl.site.Name()), slog.String("transition", learn.TransitionNames[e.Tr]),
		slog.Int("threshold", int(e.Threshold)), slog.String("bigcache", cacheStyleNames[e.Cache]))
}

// noFaultCounter is learnEnv.faults when none is set (tests): every fresh
// page counts as a fault.
func noFaultCounter() (uint64, bool) { return 0, false }

// publish stores the threshold and the cache policy of the running arms
// where the allocation slow path and the BigCache read them; in learn.Off
// the site runs the defaults; a site fixed by SetThreshold keeps its
// threshold and policy. Caller holds sl.mu.
func (sl *siteLearn) publish(mode int) {
	if sl.site.fixed.Load() {
		return // SetThreshold chose for the site
	}
	if mode == learn.Off {
		sl.site.setThreshold(0)
		setSiteCacheStyle(sl.sid, cacheDefault)
		return
	}
	sl.site.setThreshold(learn.Thresholds[sl.Cur])
	setSiteCacheStyle(sl.sid, cacheStyle(sl.CCur))
}
