package hakmem

import "testing"

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
