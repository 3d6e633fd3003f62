package hakmem

import "github.com/hakmem-go/hakmem/internal/learn"

// siteLearnStats is one site's learning state, as the tests read it.
type siteLearnStats struct {
	Site        string
	State       string  // LEARN, FROZEN or CANARY
	Threshold   uint64  // routing threshold now, bytes
	Traffic     uint64  // sampled requests
	Windows     uint64  // windows closed
	Unrated     uint64  // of them with fewer than minWindowOps requests
	Lifetimes   uint64  // sampled large blocks freed
	MeanLife    float64 // their mean lifetime, ns
	LiveBytes   uint64  // estimated live bytes of the site's large blocks (sampled x sampleEvery)
	MapCalls    uint64  // fresh large mappings of the site
	MappedPages uint64  // OS pages they mapped (page-fault proxy)
	CachedBytes uint64  // the site's BigCache bytes
	Transitions map[string]uint64
}

// learnStats returns the learning state of every site that has one.
func learnStats() []siteLearnStats {
	var out []siteLearnStats
	every := learner.st.Load().SampleEvery
	for i := range learner.sites {
		sl := learner.sites[i].Load()
		if sl == nil {
			continue
		}
		cached := siteCachedBytes(sl.sid)
		live := sampledLiveBytes(sl.sid, every)
		sl.mu.Lock()
		s := siteLearnStats{
			Site: sl.site.Name(), State: sl.State.String(),
			Threshold: uint64(learn.Thresholds[sl.Cur]),
			Traffic:   sl.prof.traffic, Windows: sl.prof.windows, Unrated: sl.prof.unrated,
			Lifetimes: sl.prof.lifetimes, LiveBytes: live, CachedBytes: cached,
			MapCalls: learnMaps[sl.sid].calls.Load(), MappedPages: learnMaps[sl.sid].pages.Load(),
			Transitions: map[string]uint64{},
		}
		if sl.prof.lifetimes > 0 {
			s.MeanLife = float64(sl.prof.lifetimeNs) / float64(sl.prof.lifetimes)
		}
		for j, n := range sl.Transitions {
			s.Transitions[learn.TransitionNames[j]] = n
		}
		sl.mu.Unlock()
		out = append(out, s)
	}
	return out
}
