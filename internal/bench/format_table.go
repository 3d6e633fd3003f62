package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the result as aligned text: a provenance header, one
// table per scenario, then the points ranking and its note.
func WriteTable(w io.Writer, r *Result) error {
	bw := &errWriter{w: w}
	p := r.Provenance
	commit := p.GitCommit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if p.GitDirty {
		commit += " (dirty)"
	}
	lib := ""
	if p.HakmemVersion != "" {
		lib = ", hakmem " + p.HakmemVersion
	}
	fmt.Fprintf(bw, "hakmem bench %s%s, commit %s, %s\n", p.ToolVersion, lib, commit, p.Date)
	fmt.Fprintf(bw, "%s %s/%s, %s, %d cores, GOMAXPROCS %d", p.GoVersion, p.GOOS, p.GOARCH, p.CPUModel, p.Cores, p.GOMAXPROCS)
	if kv := p.changedConfig(); len(kv) > 0 {
		fmt.Fprintf(bw, ", %s", strings.Join(kv, " "))
	}
	fmt.Fprintln(bw)
	for _, n := range p.Notes {
		fmt.Fprintf(bw, "note: %s\n", wrap(n, 100, "      "))
	}
	fmt.Fprintf(bw, "%d measured run(s) + %d warm-up per allocator, interleaved; ns/op: lower is better\n",
		r.Settings.Runs, r.Settings.Warmups)

	for _, sc := range r.Scenarios {
		fmt.Fprintf(bw, "\n%s: %s\n  %s\n", sc.Name, sc.Doc, ParamsString(sc))
		if sc.Kind == KindGCFootprint {
			writeFootprintTable(bw, r, sc)
			continue
		}
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
		blocks := sc.Kind == KindBlocks
		hdr := "allocator\tns/op\tmin..max\tspread"
		if blocks {
			hdr += "\top p99"
		}
		hdr += "\tops/s\tpeak RSS\tminflt\tGCs\tGC CPU\tGC p99\t"
		if sc.Kind == KindXmalloc {
			hdr += "RSS growth\t"
		}
		width := len("allocator")
		for _, e := range r.Entries {
			if e.Scenario == sc.Name {
				width = max(width, len(e.Allocator))
				if !e.ChecksumOK {
					width = max(width, len(e.Allocator)+len(checksumMark))
				}
			}
		}
		fmt.Fprintf(tw, "  %-*s%s\n", width, "allocator", strings.TrimPrefix(hdr, "allocator"))
		for i := range r.Entries {
			e := &r.Entries[i]
			if e.Scenario != sc.Name {
				continue
			}
			if writeStatusRow(tw, width, e) {
				continue
			}
			name := e.Allocator
			if !e.ChecksumOK {
				name += checksumMark
			}
			row := fmt.Sprintf("  %-*s\t%s\t%s..%s\t±%.1f%%", width, name, fmtNs(e.NsPerOp.Median),
				fmtNs(e.NsPerOp.Min), fmtNs(e.NsPerOp.Max), e.NsPerOp.SpreadPct()/2)
			if blocks {
				row += "\t" + fmtNs(runMedian(e, func(r Run) float64 { return r.NsP99 }))
			}
			row += fmt.Sprintf("\t%s\t%s\t%s\t%s\t%s\t%s\t",
				fmtRate(e.OpsPerSec.Median),
				fmtBytes(e.PeakRSS.Median),
				group(int64(runMedian(e, func(r Run) float64 { return float64(r.MinorFaults) }))),
				group(int64(runMedian(e, func(r Run) float64 { return float64(r.GCCycles) }))),
				fmtSeconds(runMedian(e, func(r Run) float64 { return r.GCCPUSeconds })),
				fmtSeconds(runMedian(e, func(r Run) float64 { return r.GCPauseP99 })))
			if sc.Kind == KindXmalloc {
				row += fmtBytes(runMedian(e, func(r Run) float64 { return r.Extra["rss_growth_bytes"] })) + "\t"
			}
			fmt.Fprintln(tw, row)
		}
		tw.Flush()
		if r.hasSeries(sc.Name) {
			writeHalves(bw, r, sc.Name, width)
		}
	}
	writeRanking(bw, r.Ranking)
	if !slices.ContainsFunc(r.Scenarios, func(sc Scenario) bool { return sc.Kind != KindGCFootprint }) {
		return bw.err // gc-footprint explains its own columns
	}
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "columns: ns/op and min..max over runs (json/mir/vm/mixed: each run's median op latency; others: time/ops);")
	fmt.Fprintln(bw, "spread = half the min..max range over the median; op p99 = per-op p99 latency (median over runs);")
	fmt.Fprintln(bw, "other columns are medians over runs: peak RSS of the whole process, minor page faults, GC cycles,")
	fmt.Fprintln(bw, "GC CPU time and p99 GC pause during the measured phase.")
	return bw.err
}

// writeHalves prints the summary of a scenario's throughput series: per
// entry the median over runs of each half's throughput, and for an
// allocator that learns the windows at which each run froze a strategy.
func writeHalves(w io.Writer, r *Result, scenario string, width int) {
	fmt.Fprintf(w, "  throughput over time (medians over runs; freezes: window:threshold, runs separated by |)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  %-*s\t1st half ops/s\t2nd half ops/s\t1st steady\t2nd steady\tfreezes\n", width, "allocator")
	for i := range r.Entries {
		e := &r.Entries[i]
		if e.Scenario != scenario || e.Status != "ok" || len(e.Runs) == 0 {
			continue
		}
		var fr []string
		for _, run := range e.Runs {
			if run.Series != nil && run.Series.Threshold != nil {
				fr = append(fr, run.Series.freezeString())
			}
		}
		frs := "-"
		if len(fr) > 0 {
			frs = strings.Join(fr, " | ")
		}
		fmt.Fprintf(tw, "  %-*s\t%s\t%s\t%s\t%s\t%s\n", width, e.Allocator,
			fmtRate(runMedian(e, func(r Run) float64 { return r.Extra["first_half_ops_per_sec"] })),
			fmtRate(runMedian(e, func(r Run) float64 { return r.Extra["second_half_ops_per_sec"] })),
			fmtRate(runMedian(e, func(r Run) float64 { return r.Extra["first_half_steady_ops_per_sec"] })),
			fmtRate(runMedian(e, func(r Run) float64 { return r.Extra["second_half_steady_ops_per_sec"] })), frs)
	}
	tw.Flush()
	for _, sr := range SteadyRatios(r, scenario) {
		fmt.Fprintf(w, "  steady state, %s / best fixed (%s): %.2f in the %s half\n", sr.Learner, sr.Best, sr.Ratio, sr.Half)
	}
}

// SteadyRatio is a learning allocator's steady-state throughput (the
// median over runs of the half's last half of windows) over the best
// fixed entry's (the best median among the scenario's hakmem-fixed-*
// entries) in one half of a series scenario.
type SteadyRatio struct {
	Learner, Best, Half string
	Ratio               float64
}

// SteadyRatios are the scenario's steady-state ratios: per learning entry
// (one whose runs recorded thresholds) and half.
func SteadyRatios(r *Result, scenario string) []SteadyRatio {
	var out []SteadyRatio
	for h, key := range []string{"first_half_steady_ops_per_sec", "second_half_steady_ops_per_sec"} {
		med := func(e *Entry) float64 { return runMedian(e, func(r Run) float64 { return r.Extra[key] }) }
		var best *Entry
		for i := range r.Entries {
			e := &r.Entries[i]
			if e.Scenario == scenario && e.Status == "ok" && strings.HasPrefix(e.Allocator, "hakmem-fixed-") &&
				(best == nil || med(e) > med(best)) {
				best = e
			}
		}
		if best == nil || med(best) <= 0 {
			continue
		}
		for i := range r.Entries {
			e := &r.Entries[i]
			if e.Scenario != scenario || e.Status != "ok" || !slices.ContainsFunc(e.Runs, func(run Run) bool {
				return run.Series != nil && run.Series.Threshold != nil
			}) {
				continue
			}
			out = append(out, SteadyRatio{Learner: e.Allocator, Best: best.Allocator,
				Half: []string{"first", "second"}[h], Ratio: med(e) / med(best)})
		}
	}
	return out
}

// checksumMark flags an entry whose op-sequence checksum is wrong.
const checksumMark = " (checksum!)"

// writeRanking prints the points table, the per-scenario order and the note.
func writeRanking(w io.Writer, rk Ranking) {
	if len(rk.Totals) == 0 {
		return
	}
	fmt.Fprintf(w, "\npoints ranking (per scenario: N points for the best median ns/op ... 1 for the worst)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("allocator")
	for _, s := range rk.Totals {
		width = max(width, len(s.Allocator))
	}
	fmt.Fprintf(tw, "  %-*s\tpoints\twins\t\n", width, "allocator")
	for _, s := range rk.Totals {
		fmt.Fprintf(tw, "  %-*s\t%d\t%d\t\n", width, s.Allocator, s.Points, s.Wins)
	}
	tw.Flush()
	width = 0
	for _, sr := range rk.PerScenario {
		width = max(width, len(sr.Scenario))
	}
	for _, sr := range rk.PerScenario {
		var parts []string
		for i, p := range sr.Places {
			s := p.Allocator
			if i > 0 {
				mark := ""
				if p.Overlaps {
					mark = "~"
				}
				s = fmt.Sprintf("%s%s %s", mark, p.Allocator, fmtPct(p.BehindPct))
			}
			parts = append(parts, s)
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, sr.Scenario, strings.Join(parts, " > "))
	}
	fmt.Fprintf(w, "  (~ marks a place whose run range overlaps the one above; %% = median behind the best)\n")
	fmt.Fprintf(w, "note: %s\n", wrap(rk.Note, 100, "      "))
}

// wrap breaks text into lines of at most width runes, indenting the
// continuation lines.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(text) {
		if i > 0 {
			if line+1+len(word) > width {
				b.WriteString("\n" + indent)
				line = len(indent)
			} else {
				b.WriteByte(' ')
				line++
			}
		}
		b.WriteString(word)
		line += len(word)
	}
	return b.String()
}

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// writeStatusRow writes the one-line row of an entry that has no figures
// to show (not installed, not supported, failed, or no runs) and reports
// whether it did.
func writeStatusRow(w io.Writer, width int, e *Entry) bool {
	if e.Status == "ok" && len(e.Runs) > 0 {
		return false
	}
	status := e.Status
	if status == "ok" {
		status = "no runs"
	}
	fmt.Fprintf(w, "  %-*s\t%s\t\n", width, e.Allocator, status)
	return true
}
