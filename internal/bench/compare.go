package bench

import (
	"fmt"
	"io"
	"text/tabwriter"

	"golang.org/x/perf/benchmath"
)

// Verdicts of a comparison.
const (
	VerdictFaster   = "faster"
	VerdictSlower   = "slower"
	VerdictNoChange = "no significant change"
	VerdictMissing  = "not comparable"
)

// Change is the comparison of one (scenario, allocator) between two results.
type Change struct {
	Scenario  string  `json:"scenario"`
	Allocator string  `json:"allocator"`
	OldMedian float64 `json:"old_median_ns_per_op"`
	NewMedian float64 `json:"new_median_ns_per_op"`
	// ChangePct is the change of the median ns/op in percent: positive
	// is slower.
	ChangePct float64 `json:"change_pct"`
	// P is the p-value of the Mann-Whitney U-test (benchmath's
	// AssumeNothing) that both sets of runs come from one distribution.
	P      float64 `json:"p"`
	N1, N2 int
	// Verdict is faster, slower, no significant change (p >= alpha), or
	// not comparable (missing on one side).
	Verdict string `json:"verdict"`
	// Regression: slower, significant, and by more than the threshold.
	Regression bool     `json:"regression"`
	Notes      []string `json:"notes,omitempty"`
}

// CompareReport is the outcome of `hakmem compare`.
type CompareReport struct {
	Threshold float64  `json:"threshold_pct"` // regressions beyond this fail the comparison
	Alpha     float64  `json:"alpha"`         // significance level of the U-test
	Changes   []Change `json:"changes"`
	Notes     []string `json:"notes,omitempty"` // e.g. machines differ (forced)
}

// Regressions counts the significant regressions beyond the threshold.
func (c *CompareReport) Regressions() int {
	n := 0
	for _, ch := range c.Changes {
		if ch.Regression {
			n++
		}
	}
	return n
}

// Compare compares the runs of every (scenario, allocator) present in old
// or new. Results from different machines are refused unless force is set.
func Compare(old, new *Result, threshold float64, force bool) (*CompareReport, error) {
	rep := &CompareReport{Threshold: threshold, Alpha: benchmath.DefaultThresholds.CompareAlpha}
	if same, why := SameMachine(old.Provenance, new.Provenance); !same {
		if !force {
			return nil, fmt.Errorf("results come from different machines (%s); timings are not comparable, use --force to compare anyway", why)
		}
		rep.Notes = append(rep.Notes, "machines differ ("+why+"), compared because of --force")
	}
	seen := map[[2]string]bool{}
	add := func(scenario, alloc string) {
		key := [2]string{scenario, alloc}
		if seen[key] {
			return
		}
		seen[key] = true
		rep.Changes = append(rep.Changes, compareEntry(old.Lookup(scenario, alloc), new.Lookup(scenario, alloc), scenario, alloc, threshold))
	}
	for _, e := range old.Entries {
		add(e.Scenario, e.Allocator)
	}
	for _, e := range new.Entries {
		add(e.Scenario, e.Allocator)
	}
	return rep, nil
}

func compareEntry(o, n *Entry, scenario, alloc string, threshold float64) Change {
	ch := Change{Scenario: scenario, Allocator: alloc, Verdict: VerdictMissing}
	switch {
	case o == nil || o.Status != "ok" || len(o.Runs) == 0:
		ch.Notes = append(ch.Notes, "no runs in the old result")
		return ch
	case n == nil || n.Status != "ok" || len(n.Runs) == 0:
		ch.Notes = append(ch.Notes, "no runs in the new result")
		return ch
	}
	thr := benchmath.DefaultThresholds
	s1 := benchmath.NewSample(runValues(o), &thr)
	s2 := benchmath.NewSample(runValues(n), &thr)
	sum1 := benchmath.AssumeNothing.Summary(s1, 0.95)
	sum2 := benchmath.AssumeNothing.Summary(s2, 0.95)
	cmp := benchmath.AssumeNothing.Compare(s1, s2)
	ch.OldMedian, ch.NewMedian = sum1.Center, sum2.Center
	ch.P, ch.N1, ch.N2 = cmp.P, cmp.N1, cmp.N2
	if ch.OldMedian > 0 {
		ch.ChangePct = 100 * (ch.NewMedian/ch.OldMedian - 1)
	}
	for _, w := range cmp.Warnings {
		ch.Notes = append(ch.Notes, w.Error())
	}
	switch {
	case cmp.P >= cmp.Alpha || ch.NewMedian == ch.OldMedian:
		ch.Verdict = VerdictNoChange
	case ch.NewMedian > ch.OldMedian:
		ch.Verdict = VerdictSlower
		ch.Regression = ch.ChangePct > threshold
	default:
		ch.Verdict = VerdictFaster
	}
	return ch
}

func runValues(e *Entry) []float64 {
	v := make([]float64, len(e.Runs))
	for i, r := range e.Runs {
		v[i] = r.NsPerOp
	}
	return v
}

// WriteCompare prints the comparison as an aligned table.
func WriteCompare(w io.Writer, rep *CompareReport) error {
	bw := &errWriter{w: w}
	for _, n := range rep.Notes {
		fmt.Fprintf(bw, "note: %s\n", n)
	}
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tallocator\told ns/op\tnew ns/op\tchange\tp\tn\tverdict\t")
	for _, ch := range rep.Changes {
		if ch.Verdict == VerdictMissing {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\t\t\t%s: %s\t\n", ch.Scenario, ch.Allocator,
				fmtNs(ch.OldMedian), fmtNs(ch.NewMedian), ch.Verdict, joinNotes(ch.Notes))
			continue
		}
		verdict := ch.Verdict
		if ch.Regression {
			verdict += fmt.Sprintf(" (REGRESSION > %g%%)", rep.Threshold)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.3f\t%d+%d\t%s\t\n", ch.Scenario, ch.Allocator,
			fmtNs(ch.OldMedian), fmtNs(ch.NewMedian), fmtPct(ch.ChangePct), ch.P, ch.N1, ch.N2, verdict)
	}
	tw.Flush()
	for _, ch := range rep.Changes {
		if ch.Verdict != VerdictMissing && len(ch.Notes) > 0 {
			fmt.Fprintf(bw, "%s/%s: %s\n", ch.Scenario, ch.Allocator, joinNotes(ch.Notes))
		}
	}
	fmt.Fprintf(bw, "Mann-Whitney U-test (golang.org/x/perf/benchmath) at alpha %g; change = new median / old median - 1 on ns/op.\n", rep.Alpha)
	if n := rep.Regressions(); n > 0 {
		fmt.Fprintf(bw, "%d significant regression(s) beyond %g%%\n", n, rep.Threshold)
	} else {
		fmt.Fprintf(bw, "no significant regression beyond %g%%\n", rep.Threshold)
	}
	return bw.err
}

func joinNotes(ns []string) string {
	s := ""
	for i, n := range ns {
		if i > 0 {
			s += "; "
		}
		s += n
	}
	return s
}
