package hakmem

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hakmem-go/hakmem/internal/learn"
)

// The learning layer: per site, the routing threshold is chosen
// among learn.Thresholds by ELO ratings from sampled profiles
// (learn_profile.go), under a LEARN / FROZEN / CANARY lifecycle: the
// decisions are internal/learn's, the windows and their publication
// learn_window.go's.
//
// What is learned: only traffic through a Site's methods (a nil *Site is
// the default site). Plain Alloc is not sampled, so that its fast path
// stays untouched; the default site learns only from (*Site)(nil).Alloc.
//
// Cost on the allocation paths: plain Alloc and Free pay nothing. On a
// pooled hit Site.alloc's allocFastTick loads learner.on's period (0 when
// learning is not live) and, when live, counts requests above
// minLargeThreshold on its P's tick: one in SampleEvery is counted in the
// site's hit counters (learnHit: a few uncontended atomic adds, no lock,
// no clock read, no draw), merged into the window at its close at
// fastHitNs each. A request that misses the per-P cache or takes the large
// path is drawn at random (learnRand32) and, if drawn, timed with two
// clock reads and recorded under the site's lock (learnMissStart): a
// few ns beside a slow path. Measured where the default is right
// (BenchmarkLearnAcceptRight, 128 KiB pairs of ~45 ns): live learning
// costs ~2% over learning off and ~4% over frozen, learning windows and
// canaries included; a full window kicks the learner goroutine at most
// once in kickNs (2 ms), since each wake is paid by the allocating
// thread. The large path counts fresh mappings (learnMapped, beside the
// mmap), and a free swaps the block's sampling mark out of its segment
// (learnFreedLarge: one atomic swap, a lifetime when the block was
// sampled). The decision is published by storing the site's threshold
// (Site.setThreshold), which the slow path already loads; an unchanged
// one is not stored again.
//
// One learner goroutine closes windows: started by a sample (or a per-P
// cache refill, for the capacity learner) while none runs, woken
// every TickNs and by a sample that fills a window, stopped by stopLearner
// or by leaving the live mode. Tests inject the clock, the sampling source
// and the exploration draws (a learnEnv stored in learner.env) and close
// windows by hand (learnStepAll, or siteLearn.step) with no goroutine
// (learnEnv.manual).
//
// Lock order: learner.stepMu, then learner.mu (then learner.bg.mu), then
// heap.mu or a siteLearn's mu (never both: step reads the BigCache before
// locking the site). The allocation hooks run outside heap.mu.

// learnEnv is what tests replace: the clock, the sampler, the CPU and
// request counters. Immutable once published in learner.env.
type learnEnv struct {
	clock  func() int64           // ns, monotonic
	every  uint32                 // with sample nil: sample one request in every (learnRand32)
	sample func() bool            // nil, or reports whether to sample this request (tests)
	faults func() (uint64, bool)  // the process's minor page faults, and whether they can be counted
	cpu    func() int64           // nil, or the process's CPU time, ns (tests); nil reads osProcessCPU
	ops    func(sid int32) uint64 // nil, or site sid's requests so far (tests); nil reads the per-P site counters
	manual bool                   // no goroutine: the test closes windows with learnStepAll
}

var learner struct {
	on    liveFlag                            // mode is learn.Live: Site.alloc samples
	st    atomic.Pointer[learn.Settings]      // the settings; replaced whole, never written in place
	env   atomic.Pointer[learnEnv]            // clock and sources
	sites [maxSites]atomic.Pointer[siteLearn] // by site id; set once under mu (reset by tests)

	mu     sync.Mutex   // guards creating sites
	bg     worker       // the learner goroutine (worker.go)
	tester atomic.Int32 // the site running an A/B test: its id + 1, 0 when none (learn_window.go)

	stepMu sync.Mutex // serialises window closing (learnStepAll)
}

// liveFlag is learner.on: whether learning is live, held as the sampling
// period of pooled hits (learnEnv.every x hitWeight when live, 0 when not), so that
// the allocation fast path reads one word for both (allocFastTick).
type liveFlag struct{ every atomic.Uint32 }

// Load reports whether learning is live.
func (f *liveFlag) Load() bool { return f.every.Load() != 0 }

// Store switches live learning, with the period of the environment in
// force (store the environment first).
func (f *liveFlag) Store(on bool) {
	if !on {
		f.every.Store(0)
		return
	}
	every := max(learner.env.Load().every, 1)
	f.every.Store(every * uint32(hitWeight(every))) // the tick's period: one hit in every x hitWeight
}

func init() {
	st := learn.Defaults()
	learner.st.Store(&st)
	learner.env.Store(defaultLearnEnv(st.SampleEvery))
}

// defaultLearnEnv samples one request in every with learnRand32 (no lock,
// no shared state) and reads the hakmem clock.
func defaultLearnEnv(every uint32) *learnEnv {
	return &learnEnv{clock: now, every: max(every, 1), faults: osMinorFaults}
}

// applyLearnSettings installs st (from the option table and the mode) and
// switches to st.Mode. For config.go: call it after loading the options.
func applyLearnSettings(st learn.Settings) {
	learner.st.Store(&st)
	setLearnMode(st.Mode)
}

// initLearnSettings installs st at first use (loadConfig), when nothing has
// been learned or started yet. It takes no lock: first use can come from
// under any of them (a site's first threshold read, say).
func initLearnSettings(st learn.Settings) {
	learner.st.Store(&st)
	learner.env.Store(defaultLearnEnv(st.SampleEvery))
	learner.on.Store(st.Mode == learn.Live)
}

// setLearnMode switches learning, for the modes wiring:
//   - learn.Live starts sampling (the goroutine starts with the first sample);
//   - learn.Frozen stops sampling and the goroutine; every site with a
//     learned state runs its settled strategy (a CANARY goes back to the
//     frozen one, a site still in LEARN takes its leader);
//   - learn.Off does the same but every site runs the default threshold
//     (learned states are kept: SavePolicy still writes them, and a later
//     switch to learn.Frozen or learn.Live publishes them again).
func setLearnMode(m int) {
	st := *learner.st.Load()
	st.Mode = m
	learner.st.Store(&st)
	learner.env.Store(defaultLearnEnv(st.SampleEvery))
	learner.on.Store(m == learn.Live)
	if m != learn.Live {
		stopLearner()
	}
	learner.stepMu.Lock()
	defer learner.stepMu.Unlock()
	for i := range learner.sites {
		if sl := learner.sites[i].Load(); sl != nil {
			sl.settle(m)
		}
	}
}

// settle publishes what site sl runs in mode m (see setLearnMode). Caller
// holds learner.stepMu.
func (sl *siteLearn) settle(m int) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if m != learn.Live {
		sl.Settle() // a CANARY goes back to its frozen arms, a LEARN to its incumbent
	}
	sl.publish(m)
}

// allocFastTick is allocFast for Site.alloc: on a hit of a request above
// minLargeThreshold while learning is live it also counts the request on
// the P's learning tick and reports whether it is the one in the period
// to sample (Site.alloc then calls learnHit). The tick is the P's own (a
// plain field under pin), so picking a hit costs no random draw, no
// atomic write and no clock read; with learning not live it costs a
// compare (and, above minLargeThreshold, one load). learnable is false for a site beyond maxSites, which
// shares site id 0 and is not learned.
func allocFastTick(size int, sid int32, learnable bool) (p, usable uintptr, tick bool) {
	if uint(size-1) >= maxSmall {
		return 0, 0, false
	}
	c := sizeClass(uintptr(size))
	pc := pin()
	p = pc.lists[c].pop()
	if p != 0 {
		pc.countSite(sid, uintptr(size))
		// The size test first: the common small hit skips even the load.
		if size > minLargeThreshold && learnable {
			if every := learner.on.every.Load(); every != 0 {
				if pc.learnTick++; pc.learnTick >= every {
					pc.learnTick, tick = 0, true
				}
			}
		}
	}
	unpin(pc)
	return p, uintptr(classes[c].size), tick
}

// fastHitNs is the cost the profile books for a sampled request served
// by the P's own list (allocFastTick): a per-P pop, about half of
// BenchmarkPair/hakmem's 25-30 ns alloc+free pair on this project's
// machines. Hits are not timed: two clock reads (about 25 ns each on a VM)
// would cost more than the hit and measure mostly themselves. Every other
// sampled request (a refill, the page heap, the BigCache, a mapping) is
// timed with the clock.
const fastHitNs = 15

// learnHit is Site.alloc's hook for a pooled hit that allocFastTick
// picked (one in learner.on's period): it counts the hit in the site's
// hit counters (learn_profile.go: atomic adds, no lock), which the window merges
// at its close at fastHitNs each, and kicks the learner when the window
// is full. A test's sampler may refuse it.
func (s *Site) learnHit(size int, usable uintptr) {
	if !s.learned() {
		return
	}
	env := learner.env.Load()
	if env.sample != nil && !env.sample() {
		return
	}
	st := learner.st.Load()
	sl := s.learnState(env, st)
	h := &sl.prof.hits
	h.hist[sizeBucket(size)].Add(1)
	h.waste.Add(uint64(usable - uintptr(size)))
	h.n.Add(1)
	learnWake(env)
}

// missSample is a slow-path request drawn for the learner: the
// environment it was drawn in and the clock before the allocation; env is
// nil when the request is not sampled.
type missSample struct {
	env *learnEnv
	t0  int64
}

// learnMissStart is Site.alloc's hook before a slow path while learning is
// live, for requests above minLargeThreshold: one in env.every is drawn at
// random (learnRand32, a few ns beside a slow path) and timed from here.
func learnMissStart() missSample {
	env := learner.env.Load()
	if !env.draw() {
		return missSample{}
	}
	return missSample{env: env, t0: env.clock()}
}

// draw reports whether to sample a slow-path request: env.sample when a
// test injected one, else one in env.every at random.
func (env *learnEnv) draw() bool {
	if env.sample != nil {
		return env.sample()
	}
	return uint64(learnRand32())*uint64(env.every)>>32 == 0 // 0 with probability 1/every
}

// learnRecord adds a sampled slow-path request of size bytes, served by b
// in ns nanoseconds, to its site's profile, and remembers a large block
// for its lifetime. It kicks the learner when the window is full. A site
// fixed by SetThreshold, or beyond maxSites, is not learned.
func (s *Site) learnRecord(size int, b []byte, ns int64, env *learnEnv) {
	if !s.learned() {
		return
	}
	sid := s.sid()
	st := learner.st.Load()
	sl := s.learnState(env, st)
	if p := addrOf(b); cap(b) > 0 {
		if seg := regLookup(p); seg != nil && seg.kind == kindLarge {
			rememberLarge(seg, sid, env.clock())
		}
	}
	sl.mu.Lock()
	sl.prof.record(size, uintptr(cap(b)), ns)
	sl.mu.Unlock()
	learnWake(env)
}

// learned reports whether the learning layer learns site s: not a site
// beyond maxSites (it shares the default site's id) nor one fixed by
// SetThreshold.
func (s *Site) learned() bool {
	t := s.orDefault()
	return t.id < maxSites && !t.fixed.Load()
}

// learnState is site s's learning state, created (learnSite) on its first
// sample.
func (s *Site) learnState(env *learnEnv, st *learn.Settings) *siteLearn {
	sid := s.sid()
	if sl := learner.sites[sid].Load(); sl != nil {
		return sl
	}
	return learnSite(s, sid, env.clock(), st, env)
}

// learnWake starts the learner goroutine if it does not run. Windows are
// closed by time (the goroutine's timer), so a sample never wakes it.
func learnWake(env *learnEnv) {
	if !env.manual && !learner.bg.running.Load() && learner.on.Load() {
		// A site that learned before (an earlier live phase, LoadPolicy)
		// has no first sample to start the goroutine in learnSite: without
		// this, going live again closed no window, ever.
		learner.bg.start(learnerLoop)
	}
}

// learnSite returns site sid's learning state, creating it (and starting
// the goroutine unless the environment is manual).
func learnSite(s *Site, sid int32, t int64, st *learn.Settings, env *learnEnv) *siteLearn {
	learner.mu.Lock()
	defer learner.mu.Unlock()
	sl := learner.sites[sid].Load()
	if sl == nil {
		if s == nil {
			sites.mu.Lock()
			s = sites.list[0]
			sites.mu.Unlock()
		}
		sl = newSiteLearn(s, sid, t, st)
		learner.sites[sid].Store(sl)
	}
	if !env.manual && !learner.bg.running.Load() && learner.on.Load() {
		learner.bg.start(learnerLoop)
	}
	return sl
}

// learnRepublish publishes what site s learned, if anything, after
// SetThreshold(0) gave the choice back.
func learnRepublish(s *Site) {
	if sl := learner.sites[s.id].Load(); sl != nil {
		sl.mu.Lock()
		sl.publish(learner.st.Load().Mode)
		sl.mu.Unlock()
	}
}

// StopLearner stops the learning layer's background goroutine, if it runs,
// and waits until it has exited; in live learning mode a later sampled
// site allocation, or a refill of a per-P cache from the central lists
// (the capacity learner, learn_cap.go), starts it again. Tests that check
// for leaked goroutines call it (and StopScavenger) before the check.
func StopLearner() { stopLearner() }

// stopLearner: see StopLearner.
func stopLearner() { learner.bg.halt() }

func learnerLoop(stop, done chan struct{}) {
	defer close(done)
	for {
		next := learnStepAll(false)
		capTick() // per-class per-P cache caps (learn_cap.go)
		st := learner.st.Load()
		d := time.Duration(min(max(next-learner.env.Load().clock(), int64(time.Millisecond)), st.TickNs))
		timer := time.NewTimer(d)
		select {
		case <-stop:
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// learnStepAll starts the measured part of every window whose settle time
// is over and closes every window that is due (all of them when force),
// at the learner clock's now. It returns when the next of those events is
// due (learner clock).
func learnStepAll(force bool) int64 {
	learner.stepMu.Lock()
	defer learner.stepMu.Unlock()
	env, st := learner.env.Load(), learner.st.Load()
	t := env.clock()
	next := t + st.TickNs
	for i := range learner.sites {
		sl := learner.sites[i].Load()
		if sl == nil {
			continue
		}
		sl.mu.Lock()
		if !sl.win.measuring && t >= sl.win.measureFrom && !env.manual {
			sl.beginMeasure(t, env, st)
		}
		due := force || sl.win.measuring && t-sl.win.t0 >= st.WindowNs &&
			(sl.siteOps(env, st)-sl.win.ops0 >= st.MinWindowOps || t-sl.win.t0 >= learn.MaxWindowStretch*st.WindowNs)
		sl.mu.Unlock()
		if due {
			sl.step(t, st, env)
		}
		sl.mu.Lock()
		next = min(next, sl.nextEvent(t, st, env))
		sl.mu.Unlock()
	}
	return next
}

// nextEvent is when site sl's window next needs the learner, at time t:
// its measured part's start, its end, or, past its end while the site
// has made fewer than MinWindowOps requests, when it should have them at
// its rate so far (at most a window later: a quiet site is polled ten
// times a second, not spun on). Caller holds sl.mu.
func (sl *siteLearn) nextEvent(t int64, st *learn.Settings, env *learnEnv) int64 {
	if !sl.win.measuring {
		return sl.win.measureFrom
	}
	end := sl.win.t0 + st.WindowNs
	if end > t {
		return end
	}
	wait := st.WindowNs
	if k := sl.siteOps(env, st) - sl.win.ops0; k > 0 && k < st.MinWindowOps {
		wait = min(wait, (t-sl.win.t0)*int64(st.MinWindowOps-k)/int64(k))
	}
	return t + max(wait, int64(time.Millisecond))
}

// learnMeasureAll starts the measured part of every site's window now
// (manual environments: the acceptance benchmarks call it after a switch's
// settle, right before the operations they measure).
func learnMeasureAll() {
	learner.stepMu.Lock()
	defer learner.stepMu.Unlock()
	env, st := learner.env.Load(), learner.st.Load()
	t := env.clock()
	for i := range learner.sites {
		if sl := learner.sites[i].Load(); sl != nil {
			sl.mu.Lock()
			sl.beginMeasure(t, env, st)
			sl.mu.Unlock()
		}
	}
}
