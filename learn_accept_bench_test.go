package hakmem

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/hakmem-go/hakmem/internal/learn"
)

// Acceptance figures of the learning layer, run by
// scripts/bench-learning.sh. Every benchmark here runs one whole experiment
// per b.N iteration (run them with -benchtime 1x) and reports its figures
// with b.ReportMetric, averaged over the iterations.
//
// Time compression: the learner runs on a manual environment (no
// goroutine): the benchmark closes a window by hand every acceptWindowOps
// operations (learnStepAll(true), outside the timed part: in production
// the goroutine does it off the allocating goroutine), starts its
// measured part by hand after acceptSettleOps operations
// (learnMeasureAll: the paired fixed windows between two learning windows
// are not in the learner's process CPU time), and has no minimum
// learning time (minLearnNs 0). Every other setting is the default
// (sampleEvery 64, confidence 95%, 7 to 12 pairs a test, canaryEvery 20,
// shift 0.25, degrade 20%). A window is thus 6,400 operations (a few ms)
// instead of 100 ms.

const (
	// acceptWindowOps: operations per window; 6,400 x 1/64 sampled gives
	// ~100 samples, twice minSamples (the default window, 10,000
	// operations or 2 s, is 2 s on these workloads).
	acceptWindowOps = 6400
	// acceptSampleEvery: one request in 64 is sampled, the default.
	acceptSampleEvery = 64
	// acceptMaxLearn: windows allowed before the first freeze; a run that
	// has not frozen by then reports freeze_window = acceptMaxLearn+1. An
	// A/B test adopts after 7 pairs at the earliest (15 windows) and
	// rejects a clear loser after 3 (7 windows), and a site may test up to
	// four threshold classes and two cache policies.
	acceptMaxLearn = 80
	// acceptSettleOps: operations run before each learning window's
	// measured part (learnMeasureAll), a fifth of a window as the
	// goroutine's settle: the warm-up after a switch is not measured.
	acceptSettleOps = acceptWindowOps / 5
	// acceptPost: windows timed after the freeze, and per fixed threshold.
	acceptPost = 10
)

// acceptLoad is a workload: one operation allocates a block of size() bytes
// from the site (touching its first and last byte) and either frees it at
// once (live 0) or stores it in a ring of live blocks, freeing the block it
// replaces; with burst set, the ring fills up and then every block in it is
// freed at once.
type acceptLoad struct {
	name  string
	live  int
	size  func(r *rand.Rand) int
	burst bool
}

// acceptWrong are workloads where the default threshold (1 MiB, all
// pooled) is expected to be wrong.
var acceptWrong = []acceptLoad{
	{"ring300K", 8, func(*rand.Rand) int { return 300 << 10 }, false},
	{"short600K", 0, func(*rand.Rand) int { return 600 << 10 }, false},
	{"mix200-900K", 4, func(r *rand.Rand) int { return 200<<10 + r.IntN(700<<10) }, false},
}

// acceptState is a workload's ring and random source.
type acceptState struct {
	ring [][]byte
	r    *rand.Rand
	i    int
}

func newAcceptState(w acceptLoad) *acceptState {
	return &acceptState{ring: make([][]byte, w.live), r: rand.New(rand.NewPCG(4141, 6))}
}

// ops runs n operations of w on site s.
func (a *acceptState) ops(w acceptLoad, s *Site, n int) {
	for range n {
		b := s.Alloc(w.size(a.r))
		b[0], b[len(b)-1] = 1, 1
		if w.live == 0 {
			Free(b)
			continue
		}
		if w.burst && a.i%w.live == 0 {
			a.drain()
		}
		j := a.i % w.live
		a.i++
		if a.ring[j] != nil {
			Free(a.ring[j])
		}
		a.ring[j] = b
	}
}

// drain frees the ring.
func (a *acceptState) drain() {
	for j, b := range a.ring {
		if b != nil {
			Free(b)
			a.ring[j] = nil
		}
	}
}

// learnWindow runs one learning window of w on s: acceptSettleOps
// operations, then the learner's measured part starts and a timed window
// runs; it returns the timed window's duration.
func (a *acceptState) learnWindow(w acceptLoad, s *Site) time.Duration {
	a.ops(w, s, acceptSettleOps)
	learnMeasureAll()
	return a.timedWindow(w, s)
}

// timedWindow runs one window of w and returns its duration.
func (a *acceptState) timedWindow(w acceptLoad, s *Site) time.Duration {
	t0 := time.Now()
	a.ops(w, s, acceptWindowOps)
	return time.Since(t0)
}

// opsPerSec is the throughput of windows windows that took d in all.
func opsPerSec(windows int, d time.Duration) float64 {
	return float64(windows*acceptWindowOps) / d.Seconds()
}

// acceptLearnEnv installs the time-compressed live settings with a manual
// environment and forgets every site's learning state; the returned
// function restores everything.
func acceptLearnEnv() (restore func()) {
	ensureInit() // else the first allocation's loadConfig installs the configured settings over these
	stopLearner()
	oldSt, oldEnv, oldOn := learner.st.Load(), learner.env.Load(), learner.on.Load()
	st := learn.Defaults()
	st.Mode, st.SampleEvery, st.MinLearnNs = learn.Live, acceptSampleEvery, 0
	env := defaultLearnEnv(st.SampleEvery)
	env.manual = true
	forgetLearning()
	learner.st.Store(&st)
	learner.env.Store(env)
	learner.on.Store(true)
	return func() {
		learner.on.Store(oldOn)
		forgetLearning()
		learner.st.Store(oldSt)
		learner.env.Store(oldEnv)
	}
}

// acceptSiteState is site s's lifecycle state and threshold in force
// ("-" before its first sample).
func acceptSiteState(s *Site) (string, uintptr) {
	sl := learner.sites[s.id].Load()
	if sl == nil {
		return "-", siteThreshold(s.id)
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.State.String(), learn.Thresholds[sl.Cur]
}

// learnResult is one learning run.
type learnResult struct {
	freezeWin  int           // 1-based window after which the site was first FROZEN
	frozenOn   uintptr       // threshold it froze on
	learnTime  time.Duration // the windows up to the freeze
	postTime   time.Duration // the acceptPost windows after it
	postWins   int           // windows in postTime
	allWindows int
	relearns   [learn.NumTransitions]uint64 // transitions during the post-freeze windows
}

// relearnCount is site s's counted transitions so far.
func relearnCount(s *Site) (n [learn.NumTransitions]uint64) {
	sl := learner.sites[s.id].Load()
	if sl == nil {
		return n
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.Transitions
}

// learnRunOn runs w on s with live learning until the site freezes (at
// most acceptMaxLearn windows), then acceptPost more windows; after each
// of those, between (not during) the timed windows, it calls between (nil:
// nothing) with learning not live, for the paired fixed measurements.
func learnRunOn(w acceptLoad, s *Site, a *acceptState, between func()) learnResult {
	var r learnResult
	var rl0 [learn.NumTransitions]uint64
	for win := 1; win <= acceptMaxLearn+acceptPost; win++ {
		d := a.learnWindow(w, s)
		r.allWindows++
		if r.freezeWin == 0 {
			r.learnTime += d
		} else {
			r.postTime += d
			r.postWins++
		}
		learnStepAll(true)
		state, th := acceptSiteState(s)
		if r.freezeWin == 0 && state == "FROZEN" {
			r.freezeWin, r.frozenOn = win, th
			rl0 = relearnCount(s)
		}
		if r.freezeWin == 0 && win >= acceptMaxLearn {
			r.freezeWin = acceptMaxLearn + 1
			r.frozenOn = th
			rl0 = relearnCount(s)
		}
		if r.freezeWin != 0 && between != nil {
			learner.on.Store(false)
			between()
			learner.on.Store(true)
		}
		if r.postWins >= acceptPost {
			break
		}
	}
	rl := relearnCount(s)
	for i := range rl {
		r.relearns[i] = rl[i] - rl0[i]
	}
	return r
}

// BenchmarkLearnAcceptWrong: on workloads where the default is wrong, the
// throughput of every fixed candidate threshold and of live learning. The
// fixed thresholds run on their own sites, one window each after every
// post-freeze learning window (paired, so that drift on a shared machine
// hits them alike), learning not live during them.
// Metrics: fixed<K>K-ops/s per candidate, best-ops/s and best-KiB (the best
// fixed one), default-ops/s (1 MiB), learn-ops/s (the acceptPost windows
// after the first freeze), learn-all-ops/s (all windows, learning
// included), learn/best and learn/default (ratios of learn-ops/s; targets
// >= 0.95 and a clear win), freeze-window (the window after which it first
// froze; target <= 40 since the A/B tests: an adoption needs 15 windows at
// least and a rejection 7), frozen-KiB, frozen-on-best (1 if it froze on
// the best fixed threshold), frozen-fixed/best (the fixed throughput of the
// threshold it froze on over the best's: how good the choice is, apart
// from the sampling cost), post-degraded, post-shifted (transitions back
// to LEARN during the post-freeze windows, by cause: 0 on a steady
// workload) and post-canary-adopted (challengers adopted by a canary).
func BenchmarkLearnAcceptWrong(b *testing.B) {
	for _, w := range acceptWrong {
		b.Run(w.name, func(b *testing.B) {
			sum := map[string]float64{}
			for range b.N {
				var fs [learn.NumStrategies]*Site
				var fa [learn.NumStrategies]*acceptState
				var ft [learn.NumStrategies]time.Duration
				for i, th := range learn.Thresholds {
					fs[i] = NewSite(fmt.Sprintf("accept-%s-fixed%dK", w.name, th>>10))
					fa[i] = newAcceptState(w)
					fs[i].setThreshold(th)
					fa[i].timedWindow(w, fs[i]) // warm-up
				}
				s := NewSite("accept-" + w.name + "-learn")
				restore := acceptLearnEnv()
				for i, th := range learn.Thresholds {
					fs[i].setThreshold(th) // acceptLearnEnv forgot learning states, not these
				}
				a := newAcceptState(w)
				r := learnRunOn(w, s, a, func() {
					for i := range fs {
						ft[i] += fa[i].timedWindow(w, fs[i])
					}
				})
				a.drain()
				restore()
				fixed := map[uintptr]float64{}
				best := uintptr(0)
				for i, th := range learn.Thresholds {
					fa[i].drain()
					fs[i].setThreshold(0)
					fixed[th] = opsPerSec(r.postWins, ft[i])
					sum[fmt.Sprintf("fixed%dK-ops/s", th>>10)] += fixed[th]
					if best == 0 || fixed[th] > fixed[best] {
						best = th
					}
				}
				learnOps := opsPerSec(r.postWins, r.postTime)
				sum["best-ops/s"] += fixed[best]
				sum["best-KiB"] += float64(best >> 10)
				sum["default-ops/s"] += fixed[maxSmall]
				sum["learn-ops/s"] += learnOps
				sum["learn-all-ops/s"] += opsPerSec(r.allWindows, r.learnTime+r.postTime)
				sum["learn/best"] += learnOps / fixed[best]
				sum["learn/default"] += learnOps / fixed[maxSmall]
				sum["freeze-window"] += float64(r.freezeWin)
				sum["frozen-KiB"] += float64(r.frozenOn >> 10)
				sum["frozen-on-best"] += 0
				if r.frozenOn == best {
					sum["frozen-on-best"]++
				}
				sum["frozen-fixed/best"] += fixed[r.frozenOn] / fixed[best]
				sum["post-degraded"] += float64(r.relearns[learn.TrDegraded])
				sum["post-shifted"] += float64(r.relearns[learn.TrShifted])
				sum["post-canary-adopted"] += float64(r.relearns[learn.TrCanaryAdopt])
			}
			for k, v := range sum {
				b.ReportMetric(v/float64(b.N), k)
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

// acceptRight is the workload where the default (all pooled) is right:
// 128 KiB blocks freed at once, served by the per-P caches when pooled.
var acceptRight = acceptLoad{"short128K", 0, func(*rand.Rand) int { return 128 << 10 }, false}

// acceptRightRounds is the number of interleaved rounds of
// BenchmarkLearnAcceptRight: each runs one window per arm.
const acceptRightRounds = 600

// BenchmarkLearnAcceptRight: the cost of the learning modes where the
// default is right, A/B interleaved in one run: each round runs one window
// (acceptWindowOps operations) of acceptRight on each of three sites, in
// turn: "off" (learning off: learner.on false, the site never learned),
// "frozen" (learning off, the site frozen on the default 1 MiB by the
// learner: what Fast and Balanced run), and "live" (live learning on the
// real goroutine with the time-compressed settings, from a fresh learning
// state: its learning windows, which try the 64 KiB threshold that loses
// here, and its canaries are included). Run with -benchtime 1x.
// Metrics: <arm>-ns/op (total time over total operations), live/frozen,
// live/off and frozen/off (medians of the per-round ratios; targets: live
// within 1.03 of not learning, frozen/off noise), The order of the arms
// rotates every round.
// with their 10th and 90th percentiles (-p10, -p90), and the live site's
// windows, canaries and final threshold.
func BenchmarkLearnAcceptRight(b *testing.B) {
	w := acceptRight
	sum := map[string]float64{}
	for range b.N {
		off, frozen, live := NewSite("accept-right-off"), NewSite("accept-right-frozen"), NewSite("accept-right-live")
		restore := acceptLearnEnv()
		st := *learner.st.Load()
		st.WindowNs = int64(5 * time.Millisecond) // compressed: the live site learns and freezes within the run
		learner.st.Store(&st)
		env := defaultLearnEnv(st.SampleEvery) // the real goroutine closes the live site's windows
		learner.env.Store(env)
		sl := learnSite(frozen, frozen.id, now(), &st, env)
		sl.mu.Lock()
		sl.Freeze(learn.NumStrategies-1, int(cacheDefault), learner.st.Load())
		sl.publish(learn.Frozen)
		sl.mu.Unlock()
		arms := []*Site{off, frozen, live}
		states := []*acceptState{newAcceptState(w), newAcceptState(w), newAcceptState(w)}
		var total [3]time.Duration
		var ratios [3][]float64 // live/frozen, live/off, frozen/off per round
		for i, s := range arms {
			learner.on.Store(i == 2)
			states[i].ops(w, s, acceptWindowOps) // warm-up
		}
		for r := range acceptRightRounds {
			var d [3]time.Duration
			for k := range arms {
				i := (k + r) % len(arms) // the order rotates: no arm always follows another
				learner.on.Store(i == 2)
				d[i] = states[i].timedWindow(w, arms[i])
				total[i] += d[i]
			}
			ratios[0] = append(ratios[0], float64(d[2])/float64(d[1]))
			ratios[1] = append(ratios[1], float64(d[2])/float64(d[0]))
			ratios[2] = append(ratios[2], float64(d[1])/float64(d[0]))
		}
		learner.on.Store(false)
		stopLearner()
		_, th := acceptSiteState(live)
		tr := relearnCount(live)
		var windows uint64
		if l := learner.sites[live.id].Load(); l != nil {
			l.mu.Lock()
			windows = l.prof.windows
			l.mu.Unlock()
		}
		for i := range states {
			states[i].drain()
		}
		restore()
		ops := float64(acceptRightRounds * acceptWindowOps)
		for i, name := range []string{"off", "frozen", "live"} {
			sum[name+"-ns/op"] += float64(total[i].Nanoseconds()) / ops
		}
		for i, name := range []string{"live/frozen", "live/off", "frozen/off"} {
			sort.Float64s(ratios[i])
			r := ratios[i]
			sum[name] += r[len(r)/2]
			sum[name+"-p10"] += r[len(r)/10]
			sum[name+"-p90"] += r[len(r)*9/10]
		}
		sum["live-threshold-KiB"] += float64(th >> 10)
		sum["live-windows"] += float64(windows)
		sum["live-canaries"] += float64(tr[learn.TrFrozenCanary])
		sum["live-freezes"] += float64(tr[learn.TrLearnFrozen])
	}
	for k, v := range sum {
		b.ReportMetric(v/float64(b.N), k)
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkLearnAcceptShift: a site learns ring300K until it freezes, runs
// acceptPost frozen windows, then the sizes jump (ring of 8 blocks of
// 900 KiB). Metrics: shift-to-learn (windows from the shift to the first
// window after which the site is in LEARN again; target: small),
// shift-to-refreeze (to the first window after which it is FROZEN again;
// target <= 10 since the A/B tests: the two windows that show the shift,
// one more to list the challengers and a rejection's 7, or 3 when its
// first pair ran under AbortRatio), relearn-KiB (the threshold it re-froze on), first-freeze
// (the window of the first freeze), refrozen (1 if it re-froze within
// acceptMaxLearn windows).
func BenchmarkLearnAcceptShift(b *testing.B) {
	before := acceptWrong[0]
	after := acceptLoad{"ring900K", 8, func(*rand.Rand) int { return 900 << 10 }, false}
	sum := map[string]float64{}
	for range b.N {
		s := NewSite("accept-shift")
		restore := acceptLearnEnv()
		a := newAcceptState(before)
		r := learnRunOn(before, s, a, nil)
		a.drain()
		sum["first-freeze"] += float64(r.freezeWin)
		a = newAcceptState(after)
		toLearn, toFreeze := 0, 0
		var th uintptr
		for win := 1; win <= acceptMaxLearn; win++ {
			a.learnWindow(after, s)
			learnStepAll(true)
			var state string
			state, th = acceptSiteState(s)
			if toLearn == 0 && state == "LEARN" {
				toLearn = win
			}
			if toLearn > 0 && state == "FROZEN" {
				toFreeze = win
				break
			}
		}
		a.drain()
		restore()
		if toFreeze > 0 {
			sum["refrozen"]++
		} else {
			toFreeze = acceptMaxLearn + 1
		}
		if toLearn == 0 {
			toLearn = acceptMaxLearn + 1
		}
		sum["shift-to-learn"] += float64(toLearn)
		sum["shift-to-refreeze"] += float64(toFreeze)
		sum["relearn-KiB"] += float64(th >> 10)
	}
	for k, v := range sum {
		b.ReportMetric(v/float64(b.N), k)
	}
	b.ReportMetric(0, "ns/op")
}

// TestLearnAcceptHarness: the acceptance benchmarks' harness learns a
// steady workload to FROZEN within acceptMaxLearn windows (no figure is
// checked: timing is the benchmarks' business) and restores the settings.
func TestLearnAcceptHarness(t *testing.T) {
	ensureInit()
	oldSt, oldOn := learner.st.Load(), learner.on.Load()
	w := acceptLoad{"harness600K", 0, func(*rand.Rand) int { return 600 << 10 }, false}
	s := NewSite("accept-harness")
	restore := acceptLearnEnv()
	a := newAcceptState(w)
	r := learnRunOn(w, s, a, nil)
	a.drain()
	restore()
	if r.freezeWin > acceptMaxLearn || r.postWins != acceptPost {
		t.Errorf("froze after window %d, %d windows after", r.freezeWin, r.postWins)
	}
	if learner.st.Load() != oldSt || learner.on.Load() != oldOn || learner.sites[s.id].Load() != nil || s.threshold.Load() != 0 {
		t.Error("settings, mode or learning state not restored")
	}
}

// acceptCache are workloads where the default BigCache policy is expected
// to be wrong: every request takes the large path (above maxSmall), so the
// threshold does not matter and the cache policy decides.
//   - burst32x2M: 32 blocks of 2 MiB allocated, then all freed, again and
//     again: the default keeps 16 blocks per site, so every burst maps 16
//     blocks afresh; hold keeps all 32.
var acceptCache = []acceptLoad{
	{"burst32x2M", 32, func(*rand.Rand) int { return 2 << 20 }, true},
}

// BenchmarkLearnAcceptCache: on workloads where the default BigCache
// policy is wrong, the throughput of every fixed cache policy and of live
// learning (both dimensions: the threshold, which cannot matter here, then
// the cache policy). As BenchmarkLearnAcceptWrong: fixed policies run one
// window each on their own sites after every post-freeze learning window.
// Metrics: fixed-<policy>-ops/s, best-ops/s, default-ops/s, learn-ops/s,
// learn/best, learn/default, freeze-window, frozen-policy (0 default, 1
// lean, 2 hold), frozen-on-best, cache-phase (1 if the site learned the
// cache dimension), fixed-<policy>-cachedMiB (the site's BigCache bytes
// after a burst is freed: the memory each policy holds).
func BenchmarkLearnAcceptCache(b *testing.B) {
	for _, w := range acceptCache {
		b.Run(w.name, func(b *testing.B) {
			sum := map[string]float64{}
			for range b.N {
				var fs [numCacheStyles]*Site
				var fa [numCacheStyles]*acceptState
				var ft [numCacheStyles]time.Duration
				for i := range fs {
					fs[i] = NewSite(fmt.Sprintf("accept-%s-fixed-%s", w.name, cacheStyleNames[i]))
					fa[i] = newAcceptState(w)
					setSiteCacheStyle(fs[i].id, cacheStyle(i))
					fa[i].timedWindow(w, fs[i]) // warm-up
				}
				s := NewSite("accept-" + w.name + "-learn")
				restore := acceptLearnEnv()
				a := newAcceptState(w)
				r := learnRunOn(w, s, a, func() {
					for i := range fs {
						ft[i] += fa[i].timedWindow(w, fs[i])
					}
				})
				a.drain()
				var frozen int
				if sl := learner.sites[s.id].Load(); sl != nil {
					sl.mu.Lock()
					frozen = sl.CBest
					if sl.Transitions[learn.TrLearnCache] > 0 {
						sum["cache-phase"]++
					}
					sl.mu.Unlock()
				}
				restore()
				setSiteCacheStyle(s.id, cacheDefault)
				best := -1
				var fixed [numCacheStyles]float64
				for i := range fs {
					fa[i].drain() // a burst's end: what the policy keeps
					heap.mu.Lock()
					cached := heap.big.sites[fs[i].id].list.bytes
					heap.mu.Unlock()
					setSiteCacheStyle(fs[i].id, cacheDefault)
					fixed[i] = opsPerSec(r.postWins, ft[i])
					sum[fmt.Sprintf("fixed-%s-ops/s", cacheStyleNames[i])] += fixed[i]
					sum[fmt.Sprintf("fixed-%s-cachedMiB", cacheStyleNames[i])] += float64(cached) / (1 << 20)
					if best < 0 || fixed[i] > fixed[best] {
						best = i
					}
				}
				learnOps := opsPerSec(r.postWins, r.postTime)
				sum["best-ops/s"] += fixed[best]
				sum["default-ops/s"] += fixed[cacheDefault]
				sum["learn-ops/s"] += learnOps
				sum["learn/best"] += learnOps / fixed[best]
				sum["learn/default"] += learnOps / fixed[cacheDefault]
				sum["freeze-window"] += float64(r.freezeWin)
				sum["frozen-policy"] += float64(frozen)
				if frozen == best {
					sum["frozen-on-best"]++
				}
			}
			for k, v := range sum {
				b.ReportMetric(v/float64(b.N), k)
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}
