package hakmem

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hakmem-go/hakmem/internal/learn"
)

// Site.Alloc + Free with the learning hooks: 16 KiB never reaches them,
// 128 KiB pays the learner.on load (off) or the sampling (live, one in 16
// recorded with the default settings).
func benchSiteAlloc(b *testing.B, size int, live bool) {
	s := NewSite("bench-learn")
	if live {
		setLearnMode(learn.Live)
		defer setLearnMode(learn.Frozen)
		defer s.setThreshold(0)
	}
	Free(s.Alloc(size))
	b.ResetTimer()
	for range b.N {
		Free(s.Alloc(size))
	}
}

func BenchmarkSiteAlloc16K(b *testing.B)          { benchSiteAlloc(b, 16<<10, false) }
func BenchmarkSiteAlloc128K(b *testing.B)         { benchSiteAlloc(b, 128<<10, false) }
func BenchmarkSiteAlloc128KLearning(b *testing.B) { benchSiteAlloc(b, 128<<10, true) }

// BenchmarkLearnLive300K learns on the real clock (minLearnNs 0, the other
// settings at their defaults) while a site allocates and frees 300 KiB
// blocks, 8 kept live at a time, and logs the leaderboard: where it
// settles on this machine, and what a request costs while learning.
func BenchmarkLearnLive300K(b *testing.B) {
	st := learn.Defaults()
	st.Mode, st.MinLearnNs = learn.Live, 0
	s := liveLearningSite(b, st, "bench-learn-live")
	var ring [8][]byte
	b.ResetTimer()
	for i := range b.N {
		j := i % len(ring)
		if ring[j] != nil {
			Free(ring[j])
		}
		ring[j] = s.Alloc(300 << 10)
		ring[j][0] = 1
	}
	b.StopTimer()
	for _, r := range ring {
		if r != nil {
			Free(r)
		}
	}
	var w strings.Builder
	_ = writeLeaderboard(&w)
	b.Log("\n" + w.String())
}

// BenchmarkRing300K is BenchmarkLearnLive300K's loop on a fixed threshold,
// to check the learner's choice against the truth.
func BenchmarkRing300K(b *testing.B) {
	for _, th := range []uintptr{256 << 10, maxSmall} {
		b.Run(strings.TrimSpace(fmt.Sprintf("threshold=%dK", th>>10)), func(b *testing.B) {
			s := NewSite("bench-ring")
			s.setThreshold(th)
			defer s.setThreshold(0)
			var ring [8][]byte
			for i := range b.N {
				j := i % len(ring)
				if ring[j] != nil {
					Free(ring[j])
				}
				ring[j] = s.Alloc(300 << 10)
				ring[j][0] = 1
			}
			for _, r := range ring {
				if r != nil {
					Free(r)
				}
			}
		})
	}
}

// BenchmarkSiteAlloc128KSampling is BenchmarkSiteAlloc128K with learning
// live but the site frozen on the default (no canary): the cost of the
// sampling alone (the draw per request, the record of one in 16, the
// window closing in the goroutine).
func BenchmarkSiteAlloc128KSampling(b *testing.B) {
	st := learn.Defaults()
	st.Mode, st.CanaryEvery = learn.Live, 0
	s := liveLearningSite(b, st, "bench-learn-sampling")
	sl := learnSite(s, s.id, now(), &st, learner.env.Load())
	sl.mu.Lock()
	sl.Freeze(learn.NumStrategies-1, int(cacheDefault), learner.st.Load())
	sl.publish(learn.Live)
	sl.mu.Unlock()
	Free(s.Alloc(128 << 10))
	b.ResetTimer()
	for range b.N {
		Free(s.Alloc(128 << 10))
	}
	b.StopTimer()
	sl.mu.Lock()
	b.Logf("%v, transitions %v, windows %d", sl.State, sl.Transitions, sl.prof.windows)
	sl.mu.Unlock()
}

// BenchmarkLearnPhases is the learning scenario (internal/bench) on a
// learning site with the real clock (minLearnNs 0): b.N steps, the first
// half 96..256 KiB blocks freed at once, the second half 768 KiB..1.5 MiB
// blocks replacing one of 64 live ones. It logs, per 10,000 steps, the
// throughput, the threshold in force and the state.
func BenchmarkLearnPhases(b *testing.B) {
	st := learn.Defaults()
	st.Mode, st.MinLearnNs = learn.Live, 0
	s := liveLearningSite(b, st, "bench-learn-phases")
	var live [64][]byte
	x := uint64(4141)
	rnd := func(n int) int { // splitmix64, as internal/bench
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		return int((z ^ z>>31) % uint64(n))
	}
	var log strings.Builder
	t0 := time.Now()
	b.ResetTimer()
	for i := range b.N {
		if i < b.N/2 {
			blk := s.Alloc(96<<10 + rnd(160<<10))
			blk[0], blk[len(blk)-1] = 1, 1
			Free(blk)
		} else {
			v := rnd(len(live))
			if live[v] != nil {
				Free(live[v])
			}
			live[v] = s.Alloc(768<<10 + rnd(768<<10))
			live[v][0], live[v][len(live[v])-1] = 1, 1
		}
		if (i+1)%10000 == 0 {
			t1 := time.Now()
			state := "-"
			if sl := learner.sites[s.id].Load(); sl != nil {
				sl.mu.Lock()
				state = sl.State.String()
				sl.mu.Unlock()
			}
			fmt.Fprintf(&log, "window %3d: %8.0f ops/s  threshold %4d KiB  %s\n",
				i/10000, 10000/t1.Sub(t0).Seconds(), siteThreshold(s.id)>>10, state)
			t0 = t1
		}
	}
	b.StopTimer()
	for _, blk := range live {
		if blk != nil {
			Free(blk)
		}
	}
	_ = writeLeaderboard(&log)
	b.Log("\n" + log.String())
}

// liveLearningSite turns learning live with st and returns a new site
// named name; everything is put back when the benchmark ends.
func liveLearningSite(b *testing.B, st learn.Settings, name string) *Site {
	old := learner.st.Load()
	learner.st.Store(&st)
	setLearnMode(learn.Live)
	s := NewSite(name)
	b.Cleanup(func() {
		setLearnMode(learn.Frozen)
		learner.st.Store(old)
		learner.sites[s.id].Store(nil)
		s.setThreshold(0)
	})
	return s
}
