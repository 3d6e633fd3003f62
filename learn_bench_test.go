package hakmem

import (
	"fmt"
	"strings"
	"testing"
)

// Site.Alloc + Free with the learning hooks: 16 KiB never reaches them,
// 128 KiB pays the learner.on load (off) or the sampling (live, one in 16
// recorded with the default settings).
func benchSiteAlloc(b *testing.B, size int, live bool) {
	s := NewSite("bench-learn")
	if live {
		setLearnMode(learnLive)
		defer setLearnMode(learnFrozen)
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
	st := defaultLearnSettings()
	st.mode, st.minLearnNs = learnLive, 0
	old := learner.st.Load()
	learner.st.Store(&st)
	setLearnMode(learnLive)
	s := NewSite("bench-learn-live")
	defer func() {
		setLearnMode(learnFrozen)
		learner.st.Store(old)
		if sl := learner.sites[s.id].Load(); sl != nil {
			learner.sites[s.id].Store(nil)
		}
		s.setThreshold(0)
	}()
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
	st := defaultLearnSettings()
	st.mode, st.canaryEvery = learnLive, 0
	old := learner.st.Load()
	learner.st.Store(&st)
	setLearnMode(learnLive)
	s := NewSite("bench-learn-sampling")
	sl := learnSite(s, s.id, now(), &st, learner.env.Load())
	sl.mu.Lock()
	sl.freeze(numStrategies - 1)
	sl.publish(learnLive)
	sl.mu.Unlock()
	defer func() {
		setLearnMode(learnFrozen)
		learner.st.Store(old)
		learner.sites[s.id].Store(nil)
		s.setThreshold(0)
	}()
	Free(s.Alloc(128 << 10))
	b.ResetTimer()
	for range b.N {
		Free(s.Alloc(128 << 10))
	}
	b.StopTimer()
	sl.mu.Lock()
	b.Logf("%v, transitions %v, windows %d", sl.state, sl.transitions, sl.prof.windows)
	sl.mu.Unlock()
}
