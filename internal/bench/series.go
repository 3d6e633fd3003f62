package bench

import (
	"fmt"
	"sort"
	"strings"
)

// Throughput over time: the per-window series that the learning scenario
// records in every run (Run.Series), and the lifecycle transitions of a
// learning allocator seen between windows. The table summarises a series
// by halves (WriteTable), the HTML report draws it as a line chart
// (seriesChart). docs/SCENARIOS.md documents the JSON fields.

// Series is one run's throughput window by window.
type Series struct {
	// WindowOps is the number of operations (steps) of every window.
	WindowOps int `json:"window_ops"`
	// SwitchWindow is the index of the first window of the workload's
	// second half (the switch lies on its left edge).
	SwitchWindow int `json:"switch_window"`
	// OpsPerSec is each window's throughput, operations per second of
	// timed work: the learner polls between windows are not timed.
	OpsPerSec []float64 `json:"ops_per_sec"`
	// Threshold is, for an allocator that learns, the routing threshold
	// in force at the end of each window, bytes (0: the site had not
	// learned anything yet); absent for the others.
	Threshold []uint64 `json:"threshold,omitempty"`
	// Transitions are the lifecycle transitions seen between windows, in
	// the order seen; absent for an allocator that does not learn.
	Transitions []Transition `json:"transitions,omitempty"`
}

// Transition is one lifecycle transition of a learning site.
type Transition struct {
	// Window is the window during which it happened: it was first seen
	// in the poll at that window's end, so it applies from Window+1 on.
	Window int `json:"window"`
	// Name is hakmem's name of the transition ("LEARN->FROZEN",
	// "FROZEN->LEARN(shift)", ...: hakmem.LeaderboardSite.Transitions).
	Name string `json:"name"`
	// State and Threshold (bytes) are the site's state and routing
	// threshold at the poll that saw it.
	State     string `json:"state"`
	Threshold uint64 `json:"threshold"`
}

// LearnState is what a Learner reports between windows: the site's
// lifecycle state, its routing threshold in bytes, and its transitions
// counted since the site was first sampled, by name.
type LearnState struct {
	State       string
	Threshold   uint64
	Transitions map[string]uint64
}

// transitionsSince lists the transitions counted in cur but not in prev, as
// seen at the end of window w; several of one kind give several entries.
// Names are sorted so that the result does not depend on map order.
func transitionsSince(prev, cur LearnState, w int) []Transition {
	var out []Transition
	for _, name := range sortedKeys(cur.Transitions) {
		for n := prev.Transitions[name]; n < cur.Transitions[name]; n++ {
			out = append(out, Transition{Window: w, Name: name, State: cur.State, Threshold: cur.Threshold})
		}
	}
	return out
}

// Freezes are the transitions that settle a strategy: LEARN->FROZEN, and a
// canary adopted as the new frozen strategy.
func (s *Series) Freezes() []Transition {
	var out []Transition
	for _, t := range s.Transitions {
		if t.Name == "LEARN->FROZEN" || t.Name == "CANARY->FROZEN(adopted)" {
			out = append(out, t)
		}
	}
	return out
}

// freezeString describes a series' freezes for the table: "w9:512K
// w17:128K", "-" when none.
func (s *Series) freezeString() string {
	var parts []string
	for _, t := range s.Freezes() {
		parts = append(parts, fmt.Sprintf("w%d:%s", t.Window, fmtThreshold(t.Threshold)))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// fmtThreshold writes a routing threshold the way the entry names do: 64K,
// 512K, 1M.
func fmtThreshold(b uint64) string {
	if b >= 1<<20 && b%(1<<20) == 0 {
		return fmt.Sprintf("%dM", b>>20)
	}
	return fmt.Sprintf("%dK", b>>10)
}

// transitionLabel is a transition's short label on the chart.
func transitionLabel(t Transition) string {
	switch t.Name {
	case "LEARN->FROZEN":
		return "froze " + fmtThreshold(t.Threshold)
	case "FROZEN->CANARY":
		return "canary " + fmtThreshold(t.Threshold)
	case "CANARY->FROZEN":
		return "canary lost"
	case "CANARY->FROZEN(adopted)":
		return "adopted " + fmtThreshold(t.Threshold)
	case "FROZEN(degraded)":
		return "degraded"
	case "FROZEN->LEARN(shift)":
		return "relearn (shift)"
	case "FROZEN->FROZEN(recalled)", "LEARN->FROZEN(recalled)":
		return "recalled " + fmtThreshold(t.Threshold)
	}
	return t.Name
}

// medianSeries is the per-window median of the entry's runs' series (runs
// without a series, or shorter than the longest, count only where they
// have a figure); nil when no run has one.
func medianSeries(e *Entry) []float64 {
	n := 0
	for _, r := range e.Runs {
		if r.Series != nil {
			n = max(n, len(r.Series.OpsPerSec))
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]float64, n)
	for w := range out {
		var xs []float64
		for _, r := range e.Runs {
			if r.Series != nil && w < len(r.Series.OpsPerSec) {
				xs = append(xs, r.Series.OpsPerSec[w])
			}
		}
		out[w] = median(xs)
	}
	return out
}

// medianRun is the index of the entry's run with the median ops/s among
// those with a series (the lower middle one for an even count), -1 when
// none has one: the run whose transitions the chart marks.
func medianRun(e *Entry) int {
	var idx []int
	for i, r := range e.Runs {
		if r.Series != nil {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return -1
	}
	sort.SliceStable(idx, func(a, b int) bool { return e.Runs[idx[a]].OpsPerSec < e.Runs[idx[b]].OpsPerSec })
	return idx[(len(idx)-1)/2]
}

// hasSeries reports whether any entry of the scenario recorded a series.
func (r *Result) hasSeries(scenario string) bool {
	for i := range r.Entries {
		e := &r.Entries[i]
		if e.Scenario != scenario {
			continue
		}
		for _, run := range e.Runs {
			if run.Series != nil {
				return true
			}
		}
	}
	return false
}
