package hakmem

import (
	"fmt"
	"io"
	"sort"

	"github.com/hakmem-go/hakmem/internal/learn"
)

// The leaderboard: what each learning site learned, for people and the
// metrics package.

// LeaderboardSite is one learning site's state in Leaderboard.
type LeaderboardSite struct {
	Site      string // the site's name ("default" for the default site)
	State     string // lifecycle state: "LEARN", "FROZEN" or "CANARY"
	Threshold uint64 // routing threshold in use, bytes: requests above it take the large path
	// BigCache is the BigCache policy in use for the site's large blocks:
	// "default" (the configured limits and times), "lean" (a quarter of the
	// limits, stages four times sooner) or "hold" (four times the limits,
	// stages four times later).
	BigCache string
	// Learning is the dimension a site in LEARN is learning: "threshold",
	// then "bigcache" when some of its requests take the large path.
	Learning string
	// Transitions counts the lifecycle transitions since the site was
	// first sampled, by name: "LEARN->FROZEN", "FROZEN->CANARY",
	// "CANARY->FROZEN", "CANARY->FROZEN(adopted)", "FROZEN(degraded)",
	// "FROZEN->LEARN(shift)", "LEARN(threshold)->LEARN(bigcache)",
	// "LEARN(adopted)", "CANARY->FROZEN(rollback)",
	// "FROZEN->FROZEN(recalled)", "LEARN->LEARN(shift)",
	// "LEARN->FROZEN(recalled)" (every name present, zeros included).
	Transitions map[string]uint64
	// Strategies are the candidate thresholds, best first (highest rating;
	// equal ratings in candidate order), then the BigCache policies, best
	// first.
	Strategies []LeaderboardStrategy
}

// LeaderboardStrategy is one arm of a learning site: a candidate threshold
// or a BigCache policy (Kind).
type LeaderboardStrategy struct {
	Kind      string  // "threshold" or "bigcache"
	Policy    string  // bigcache arms: "default", "lean" or "hold"; "" for thresholds
	Threshold uint64  // threshold arms: routing threshold, bytes (64 KiB to 1 MiB, doubling); 0 for bigcache arms
	Rating    float64 // ELO rating; every strategy starts at 1500
	Wins      uint64  // rated games won against another strategy's window
	Losses    uint64  // rated games lost
	Draws     uint64  // rated games within the draw margin
	Samples   uint64  // sampled allocations made while it ran
	Retired   bool    // dropped in the current learning episode (not chosen until LEARN restarts)
	Running   bool    // the arm in force now (its threshold is Threshold, its policy BigCache)
}

// Leaderboard returns the learning state of every site that has one, in
// site id order: its lifecycle state, the threshold in use, the counted
// transitions and the strategies' ratings, best first. Sites learn only
// while learning is live (HAKMEM_LEARNING=live, the Learning and Research
// modes) or after LoadPolicy; otherwise the result is empty. Each site is
// read under its own lock: a consistent view per site, not across sites.
func Leaderboard() []LeaderboardSite {
	var out []LeaderboardSite
	for i := range learner.sites {
		sl := learner.sites[i].Load()
		if sl == nil {
			continue
		}
		sl.mu.Lock()
		ss, cs, cur, ccur, state, trs, phase := sl.Strats, sl.CArms, sl.Cur, sl.CCur, sl.State, sl.Transitions, sl.Phase
		sl.mu.Unlock()
		ls := LeaderboardSite{
			Site: sl.site.Name(), State: state.String(),
			Threshold:   uint64(learn.Thresholds[cur]),
			BigCache:    cacheStyleNames[ccur],
			Transitions: make(map[string]uint64, learn.NumTransitions),
			Strategies:  make([]LeaderboardStrategy, 0, learn.NumStrategies+int(numCacheStyles)),
		}
		if state == learn.StateLearn {
			ls.Learning = learn.DimNames[phase]
		}
		for j, n := range trs {
			ls.Transitions[learn.TransitionNames[j]] = n
		}
		arm := func(s *learn.Strategy, running bool) LeaderboardStrategy {
			return LeaderboardStrategy{Rating: s.Rating, Wins: s.Wins, Losses: s.Losses, Draws: s.Draws,
				Samples: s.Samples, Retired: s.Retired, Running: running}
		}
		for j := range ss {
			a := arm(&ss[j], j == cur)
			a.Kind, a.Threshold = learn.DimNames[learn.DimThreshold], uint64(ss[j].Threshold)
			ls.Strategies = append(ls.Strategies, a)
		}
		byRating := func(x []LeaderboardStrategy) {
			sort.SliceStable(x, func(a, b int) bool { return x[a].Rating > x[b].Rating })
		}
		byRating(ls.Strategies)
		for j := range cs {
			a := arm(&cs[j], j == ccur)
			a.Kind, a.Policy = learn.DimNames[learn.DimCache], cacheStyleNames[j]
			ls.Strategies = append(ls.Strategies, a)
		}
		byRating(ls.Strategies[learn.NumStrategies:])
		out = append(out, ls)
	}
	return out
}

// writeLeaderboard writes Leaderboard as text: per site its state, the
// threshold and BigCache policy in use, then its thresholds best first and
// its BigCache policies best first (ranks restart): rank, arm, rating,
// wins/losses/draws, samples (an arm running now is marked *, a retired
// one "retired").
func writeLeaderboard(w io.Writer) error {
	lb := Leaderboard()
	if len(lb) == 0 {
		_, err := fmt.Fprintf(w, "  (no site has learned anything: learning is live in the Learning and Research modes)\n")
		return err
	}
	for _, ls := range lb {
		state := ls.State
		if ls.Learning != "" {
			state += " (" + ls.Learning + ")"
		}
		if _, err := fmt.Fprintf(w, "  site %s: %s, threshold %d KiB, bigcache %s\n  %4s  %-13s %7s  %5s %6s %5s  %9s\n",
			ls.Site, state, ls.Threshold>>10, ls.BigCache, "rank", "arm", "rating", "wins", "losses", "draws", "samples"); err != nil {
			return err
		}
		r, kind := -1, ""
		for _, s := range ls.Strategies {
			if r++; s.Kind != kind { // ranks restart for the BigCache arms
				r, kind = 0, s.Kind
			}
			mark := ""
			if s.Running {
				mark = " *"
			}
			if s.Retired {
				mark += " retired"
			}
			name := fmt.Sprintf("%d KiB", s.Threshold>>10)
			if s.Kind == learn.DimNames[learn.DimCache] {
				name = "cache:" + s.Policy
			}
			if _, err := fmt.Fprintf(w, "  %4d  %-13s %7.1f  %5d %6d %5d  %9d%s\n",
				r+1, name, s.Rating, s.Wins, s.Losses, s.Draws, s.Samples, mark); err != nil {
				return err
			}
		}
	}
	return nil
}
