package bench

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The outputs of gc-footprint: a table per (allocator, point) and line
// charts against GiB held, from the runs' points (Run.Footprint), medians
// over the runs.

// footprintTitle says plainly what the scenario measures.
const footprintTitle = "GC CPU per forced cycle and GC-scanned heap against GiB held in each allocator"

// footprintAgg is one (allocator, point): medians over the runs that
// measured it.
type footprintAgg struct {
	Held int64
	// Note says why no run measured the point (skipped, or its child
	// failed), or how many runs failed when some did ("" when none).
	Note  string
	N     int // runs that measured it
	Fails int // runs whose child failed
	CPU, CPUGrowth,
	Scan, ScanGrowth,
	Live, LiveGrowth,
	RSS float64
}

// footprintPoints aggregates an entry's points, in the order of the runs.
func footprintPoints(e *Entry) []footprintAgg {
	var order []int64
	type acc struct {
		pts            []FootprintPoint
		fails, skips   int
		skipped, error string // the first reasons seen
	}
	by := map[int64]*acc{}
	for _, r := range e.Runs {
		for _, pt := range r.Footprint {
			a := by[pt.HeldBytes]
			if a == nil {
				a = &acc{}
				by[pt.HeldBytes] = a
				order = append(order, pt.HeldBytes)
			}
			switch {
			case pt.Measured():
				a.pts = append(a.pts, pt)
			case pt.Error != "":
				a.fails++
				if a.error == "" {
					a.error = pt.Error
				}
			default:
				a.skips++
				if a.skipped == "" {
					a.skipped = pt.Skipped
				}
			}
		}
	}
	var out []footprintAgg
	for _, h := range order {
		acc := by[h]
		pts := acc.pts
		a := footprintAgg{Held: h, N: len(pts), Fails: acc.fails}
		switch {
		case len(pts) == 0 && acc.fails > 0:
			a.Note = fmt.Sprintf("failed in %d of %d run(s): %s", acc.fails, acc.fails+acc.skips, acc.error)
		case len(pts) == 0:
			a.Note = acc.skipped
			if a.Note == "" {
				a.Note = "not measured"
			}
		case acc.fails > 0:
			a.Note = fmt.Sprintf("failed in %d of %d run(s), medians of the others: %s", acc.fails, acc.fails+len(pts), acc.error)
		}
		if len(pts) == 0 {
			out = append(out, a)
			continue
		}
		med := func(f func(FootprintPoint) float64) float64 {
			xs := make([]float64, len(pts))
			for i, p := range pts {
				xs[i] = f(p)
			}
			return median(xs)
		}
		a.CPU = med(func(p FootprintPoint) float64 { return p.GCCPUPerCycle })
		a.CPUGrowth = med(FootprintPoint.GCCPUGrowth)
		a.Scan = med(func(p FootprintPoint) float64 { return float64(p.ScanHeap) })
		a.ScanGrowth = med(FootprintPoint.ScanGrowth)
		a.Live = med(func(p FootprintPoint) float64 { return float64(p.LiveHeap) })
		a.LiveGrowth = med(FootprintPoint.LiveGrowth)
		a.RSS = med(func(p FootprintPoint) float64 { return float64(p.RSS) })
		out = append(out, a)
	}
	return out
}

// fmtGiB writes an amount held in GiB: 0.5, 1, 4, 0.0625.
func fmtGiB(b int64) string { return fmt.Sprintf("%.4g", float64(b)/(1<<30)) }

// fmtMiB writes a heap or RSS size: KiB under 1 MiB, MiB with one decimal
// under 1 GiB, else GiB with two.
func fmtMiB(b float64) string {
	switch {
	case b < 1<<10:
		return fmt.Sprintf("%.0f B", b)
	case b < 1<<20:
		return fmt.Sprintf("%.0f KiB", b/(1<<10))
	case b < 1<<30:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", b/(1<<30))
}

// fmtGrowth writes a signed difference with fmt: "+3.0 MiB", "-12µs".
func fmtGrowth(x float64, f func(float64) string) string {
	if x < 0 {
		return "-" + f(-x)
	}
	return "+" + f(x)
}

// fmtDuration writes seconds like fmtSeconds, but 0 as "0µs".
func fmtDuration(s float64) string {
	if s == 0 {
		return "0µs"
	}
	return fmtSeconds(s)
}

// footprintHeader is the table's explanation under the parameters.
func footprintHeader(r *Result) []string {
	return []string{
		"per point a fresh child process: GC CPU per forced cycle (/cpu/classes/gc/total:cpu-seconds over the cycles),",
		"scannable heap (/gc/scan/heap:bytes) and live heap (/gc/heap/live:bytes) after them; \"vs empty\" = minus the",
		"same child measured before it allocated; RSS = the child's VmRSS holding the point. Off-heap blocks are not",
		"referenced from the Go heap; go-heap's are kept in a [][]byte. Points whose RSS could exceed half the physical",
		"memory are skipped (go-heap counted in full). Medians over " + fmt.Sprint(r.Settings.Runs) + " run(s). In the ranking",
		"and in compare, ns/op is the GC CPU per forced cycle at an allocator's largest point measured, in ns.",
	}
}

// writeFootprintTable prints the gc-footprint table of scenario sc.
func writeFootprintTable(w io.Writer, r *Result, sc Scenario) {
	for _, l := range footprintHeader(r) {
		fmt.Fprintf(w, "  %s\n", l)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("allocator")
	for _, e := range r.Entries {
		if e.Scenario == sc.Name {
			width = max(width, len(e.Allocator))
		}
	}
	fmt.Fprintf(tw, "  %-*s\tGiB held\tGC CPU/cycle\tvs empty\tscan heap\tvs empty\tlive heap\tvs empty\tRSS\t note\n", width, "allocator")
	for i := range r.Entries {
		e := &r.Entries[i]
		if e.Scenario != sc.Name {
			continue
		}
		if writeStatusRow(tw, width, e) {
			continue
		}
		for _, a := range footprintPoints(e) {
			note := a.Note
			if note != "" {
				note = " " + note
			}
			if a.N == 0 {
				fmt.Fprintf(tw, "  %-*s\t%s\t\t\t\t\t\t\t\t%s\n", width, e.Allocator, fmtGiB(a.Held), note)
				continue
			}
			fmt.Fprintf(tw, "  %-*s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", width, e.Allocator, fmtGiB(a.Held),
				fmtDuration(a.CPU), fmtGrowth(a.CPUGrowth, fmtDuration),
				fmtMiB(a.Scan), fmtGrowth(a.ScanGrowth, fmtMiB),
				fmtMiB(a.Live), fmtGrowth(a.LiveGrowth, fmtMiB), fmtMiB(a.RSS), note)
		}
	}
	tw.Flush()
}

// footprintRow is one row of the HTML table.
type footprintRow struct {
	Allocator, Held, CPU, CPUGrowth, Scan, ScanGrowth, Live, LiveGrowth, RSS, Status string
}

// footprintRows are the HTML table's rows of scenario sc.
func footprintRows(r *Result, sc Scenario) []footprintRow {
	var rows []footprintRow
	for i := range r.Entries {
		e := &r.Entries[i]
		if e.Scenario != sc.Name {
			continue
		}
		if e.Status != "ok" || len(e.Runs) == 0 {
			rows = append(rows, footprintRow{Allocator: e.Allocator, Status: e.Status})
			continue
		}
		for _, a := range footprintPoints(e) {
			row := footprintRow{Allocator: e.Allocator, Held: fmtGiB(a.Held), Status: "ok"}
			if a.Note != "" {
				row.Status = a.Note
			}
			if a.N > 0 {
				row.CPU, row.CPUGrowth = fmtDuration(a.CPU), fmtGrowth(a.CPUGrowth, fmtDuration)
				row.Scan, row.ScanGrowth = fmtMiB(a.Scan), fmtGrowth(a.ScanGrowth, fmtMiB)
				row.Live, row.LiveGrowth = fmtMiB(a.Live), fmtGrowth(a.LiveGrowth, fmtMiB)
				row.RSS = fmtMiB(a.RSS)
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// footprintCharts draws scenario sc's two line charts, GC CPU per forced
// cycle and scannable heap against GiB held, and returns the <svg>
// elements; "" when no entry measured a point.
func footprintCharts(r *Result, sc Scenario) (template.HTML, error) {
	cpu, err := footprintChart(r, sc, "GC CPU per forced cycle", "GC CPU per cycle (log)",
		func(a footprintAgg) float64 { return a.CPU }, secondsTicks{})
	if err != nil || cpu == "" {
		return "", err
	}
	scan, err := footprintChart(r, sc, "scannable heap (/gc/scan/heap:bytes)", "scannable heap (log)",
		func(a footprintAgg) float64 { return a.Scan }, bytesTicks{})
	if err != nil {
		return "", err
	}
	return template.HTML(cpu + "\n" + scan), nil
}

// footprintChart draws one figure of the points against GiB held, one
// line per allocator (medians over the runs), y on a log scale.
func footprintChart(r *Result, sc Scenario, what, ylabel string, y func(footprintAgg) float64, ticks plot.Ticker) (string, error) {
	p, err := footprintPlot(r, sc, what, ylabel, y, ticks)
	if p == nil || err != nil {
		return "", err
	}
	return svgOf(p, chartHeight)
}

// footprintPlot builds footprintChart's plot; nil when no entry measured a
// point.
func footprintPlot(r *Result, sc Scenario, what, ylabel string, y func(footprintAgg) float64, ticks plot.Ticker) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = sc.Name + ": " + what + " against GiB held (medians over runs; lower is better)"
	p.X.Label.Text = "GiB held (plus 1/8 of it in 256 B blocks)"
	p.Y.Label.Text = ylabel
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = ticks
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(6), -vg.Points(4)
	lo, hi := math.Inf(1), 0.0
	xmax := 0.0
	var xs []float64
	other, drawn := 0, 0
	for k := range r.Entries {
		e := &r.Entries[k]
		if e.Scenario != sc.Name || e.Status != "ok" {
			continue
		}
		var xys plotter.XYs
		for _, a := range footprintPoints(e) {
			v := y(a)
			if a.N == 0 || v <= 0 {
				continue
			}
			x := float64(a.Held) / (1 << 30)
			xys = append(xys, plotter.XY{X: x, Y: v})
			lo, hi, xmax = min(lo, v), max(hi, v), max(xmax, x)
			if !slices.Contains(xs, x) {
				xs = append(xs, x)
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		c := seriesColors[other%len(seriesColors)]
		if e.Allocator == "hakmem" {
			c = colorHakmem
			l.LineStyle.Width = seriesLearnW
		} else {
			other++
			l.LineStyle.Width = seriesLineW
		}
		l.LineStyle.Color, pts.Color = c, c
		pts.Shape = footprintGlyphs[drawn%len(footprintGlyphs)]
		drawn++
		pts.Radius = vg.Points(3.5)
		p.Add(l, pts)
		p.Legend.Add(e.Allocator, l, pts)
	}
	if hi == 0 {
		return nil, nil
	}
	// A factor of 12 at least: a labelled decade always shows; room for
	// the legend above the lines.
	p.Y.Min, p.Y.Max = lo/3, hi*4
	p.X.Min, p.X.Max = 0, xmax*1.05
	slices.Sort(xs)
	p.X.Tick.Marker = heldTicks(xs)
	p.Add(plotter.NewGrid())
	return p, nil
}

// footprintGlyphs tell apart lines that lie on each other (raw-mmap and
// modernc hold nothing on the Go heap).
var footprintGlyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{},
	draw.CrossGlyph{}, draw.PlusGlyph{}, draw.RingGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}}

// heldTicks are the x ticks: one per point held.
type heldTicks []float64

func (h heldTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for _, x := range h {
		ts = append(ts, plot.Tick{Value: x, Label: fmt.Sprintf("%.4g", x)})
	}
	return ts
}

// secondsTicks are log ticks labelled as durations (10µs, 1.0ms).
type secondsTicks struct{}

func (secondsTicks) Ticks(lo, hi float64) []plot.Tick {
	return decadeTicks(lo, hi, 1, fmtSeconds)
}

// bytesTicks are log ticks at decades of MiB labelled as sizes (0.1 MiB,
// 1 MiB, 10 MiB).
type bytesTicks struct{}

func (bytesTicks) Ticks(lo, hi float64) []plot.Tick {
	return decadeTicks(lo, hi, 1<<20, func(v float64) string { return fmt.Sprintf("%g MiB", v/(1<<20)) })
}

// decadeTicks are log-axis ticks within lo..hi at unit x 10^k, labelled,
// and unlabelled ones at 2..9 times those.
func decadeTicks(lo, hi, unit float64, label func(float64) string) []plot.Tick {
	var ts []plot.Tick
	if lo <= 0 || hi <= lo {
		return ts
	}
	for k := math.Floor(math.Log10(lo / unit)); k <= math.Ceil(math.Log10(hi/unit)); k++ {
		base := unit * math.Pow(10, k)
		for m := 1.0; m <= 9; m++ {
			v := base * m
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 {
				t.Label = label(v)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// footprintParamsString describes gc-footprint's parameters on one line.
func footprintParamsString(p Params) string {
	held := make([]string, len(p.Held))
	for i, h := range p.Held {
		held[i] = fmtGiB(h)
	}
	s := fmt.Sprintf("held %s GiB in %s blocks + 1/%d as much in %s blocks, %d forced GC cycles per point, one child process per allocator and point",
		strings.Join(held, ", "), fmtBytes(float64(p.LiveBlock)), p.SmallDiv, fmtBytes(float64(p.SmallBlock)), p.Cycles)
	switch {
	case slices.Equal(p.Held, footprintQuickHeld):
		s += " (--quick sizes; a full run holds 0.5, 1, 2, 4 GiB)"
	case !slices.Equal(p.Held, footprintHeld):
		s += " (a full run holds 0.5, 1, 2, 4 GiB)"
	}
	return s
}
