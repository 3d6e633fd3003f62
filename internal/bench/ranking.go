package bench

import (
	"sort"
	"strconv"
)

// Ranking is the "points" ranking hakmem published: per scenario the
// allocators are ordered by median ns/op and score N points for the best
// down to 1 for the worst, N being the number ranked in that scenario (the
// original had five allocators: 5/4/3/2/1). Equal medians share the higher
// score. Entries that did not run ("not installed", errors) score nothing.
type Ranking struct {
	Totals []Score `json:"totals"` // best total first
	// PerScenario lists, per scenario, the allocators best first.
	PerScenario []ScenarioRank `json:"per_scenario"`
	// Note says what the points hide; printed under every ranking.
	Note string `json:"note"`
}

// Score is one allocator's total.
type Score struct {
	Allocator string `json:"allocator"`
	Points    int    `json:"points"`
	Wins      int    `json:"wins"` // scenarios where it had the best median
}

// ScenarioRank is the order of one scenario.
type ScenarioRank struct {
	Scenario string  `json:"scenario"`
	Places   []Place `json:"places"` // best first
}

// Place is one allocator's place in one scenario.
type Place struct {
	Allocator string  `json:"allocator"`
	Points    int     `json:"points"`
	Median    float64 `json:"median_ns_per_op"`
	// BehindPct is how much slower than the best this median is, in
	// percent: the margin the points throw away.
	BehindPct float64 `json:"behind_pct"`
	// Overlaps is true when this allocator's run range (min..max)
	// overlaps the range of the one placed just above it: the order of
	// the two is within the noise of these runs.
	Overlaps bool `json:"overlaps_above"`
}

// RankingNote is printed under every ranking.
const RankingNote = "Points hide the margins: a 1% win scores like a 10x win, and a scenario " +
	"counts the same however much it matters. They also hide the spread: places whose run " +
	"ranges overlap (marked ~) could swap on another run. Read the medians and ranges above, " +
	"not only the totals."

// Rank computes the points ranking of the entries.
func Rank(entries []Entry, scenarioOrder []string) Ranking {
	byScenario := map[string][]Entry{}
	for _, e := range entries {
		if e.Status == "ok" && len(e.Runs) > 0 {
			byScenario[e.Scenario] = append(byScenario[e.Scenario], e)
		}
	}
	totals := map[string]*Score{}
	var order []string // allocators in first-seen order, for stable ties
	for _, e := range entries {
		if e.Status != "ok" || len(e.Runs) == 0 {
			continue // allocators that never ran do not appear in the totals
		}
		if _, ok := totals[e.Allocator]; !ok {
			totals[e.Allocator] = &Score{Allocator: e.Allocator}
			order = append(order, e.Allocator)
		}
	}
	r := Ranking{Note: RankingNote}
	for _, sc := range scenarioOrder {
		es := byScenario[sc]
		if len(es) == 0 {
			continue
		}
		sort.SliceStable(es, func(i, j int) bool { return es[i].NsPerOp.Median < es[j].NsPerOp.Median })
		n := len(es)
		best := es[0].NsPerOp.Median
		sr := ScenarioRank{Scenario: sc}
		for i, e := range es {
			pts := n - i
			if i > 0 && e.NsPerOp.Median == es[i-1].NsPerOp.Median {
				pts = sr.Places[i-1].Points
			}
			p := Place{Allocator: e.Allocator, Points: pts, Median: e.NsPerOp.Median}
			if best > 0 {
				p.BehindPct = 100 * (e.NsPerOp.Median/best - 1)
			}
			if i > 0 {
				p.Overlaps = e.NsPerOp.Min <= es[i-1].NsPerOp.Max
			}
			sr.Places = append(sr.Places, p)
			totals[e.Allocator].Points += pts
			if pts == n {
				totals[e.Allocator].Wins++
			}
		}
		r.PerScenario = append(r.PerScenario, sr)
	}
	for _, a := range order {
		r.Totals = append(r.Totals, *totals[a])
	}
	sort.SliceStable(r.Totals, func(i, j int) bool { return r.Totals[i].Points > r.Totals[j].Points })
	return r
}

func itoa(n int) string { return strconv.Itoa(n) }
func q(s string) string { return strconv.Quote(s) }
