package bench

import (
	"bytes"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The throughput-over-time chart of the HTML report (scenarios that record
// a Series: learning): x = window, y = ops/s on a log axis (the halves
// differ by two orders of magnitude), one line per allocator (the median
// over its runs, window by window), the halfway switch as a solid vertical
// line, and the lifecycle transitions of each learning allocator's median
// run (by ops/s) as dashed vertical lines with a label.

// Geometry of the series chart.
const (
	seriesHeight   = 12 * vg.Centimeter // taller than the bar charts: room for the transition labels
	seriesHeadroom = 6.0                // y axis ends 6x above the fastest window (log axis): the labels sit there
	seriesFloor    = 0.3                // y axis starts at 0.3x the slowest window: room for the legend
	seriesLearnW   = 2.5                // points: the learning allocator's line, drawn over the others
	seriesLineW    = 1.2                // points: the other lines
)

var (
	colorSwitch     = color.Gray{Y: 0x30}                            // the halfway switch
	colorTransition = color.RGBA{R: 0xb0, G: 0x30, B: 0x30, A: 0xff} // transition lines and labels
	// seriesColors are the lines of the allocators that do not learn, in
	// entry order: no orange, which is hakmem learning's.
	seriesColors = []color.Color{
		color.RGBA{R: 0x37, G: 0x7e, B: 0xb8, A: 0xff}, // blue
		color.RGBA{R: 0x4d, G: 0xaf, B: 0x4a, A: 0xff}, // green
		color.RGBA{R: 0x98, G: 0x4e, B: 0xa3, A: 0xff}, // purple
		color.RGBA{R: 0xa6, G: 0x56, B: 0x28, A: 0xff}, // brown
		color.RGBA{R: 0xf7, G: 0x81, B: 0xbf, A: 0xff}, // pink
		color.RGBA{R: 0x66, G: 0x66, B: 0x66, A: 0xff}, // grey
		color.RGBA{R: 0x1b, G: 0x9e, B: 0x77, A: 0xff}, // teal
		color.RGBA{R: 0xe4, G: 0x1a, B: 0x1c, A: 0xff}, // red
	}
)

// seriesChart draws scenario sc's throughput series as an SVG line chart
// and returns the <svg> element; "" when no entry recorded a series.
func seriesChart(r *Result, sc Scenario) (string, error) {
	if !r.hasSeries(sc.Name) {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = sc.Name + ": throughput per window (median over runs); transitions of the median run"
	p.X.Label.Text = "window"
	p.Y.Label.Text = "ops/s (log scale, higher is better)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = rateTicks{}
	p.Legend.Top, p.Legend.Left = false, true
	lo, hi := math.Inf(1), 0.0
	switchW, nwin := -1, 0
	type marked struct {
		e *Entry
		s *Series
	}
	var learners []marked
	other := 0
	for k := range r.Entries {
		e := &r.Entries[k]
		if e.Scenario != sc.Name || e.Status != "ok" {
			continue
		}
		ys := medianSeries(e)
		if ys == nil {
			continue
		}
		xys := make(plotter.XYs, 0, len(ys))
		for w, y := range ys {
			if y > 0 {
				xys = append(xys, plotter.XY{X: float64(w), Y: y})
				lo, hi = min(lo, y), max(hi, y)
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return "", err
		}
		mr := e.Runs[medianRun(e)].Series
		switchW, nwin = mr.SwitchWindow, max(nwin, len(ys))
		if mr.Threshold != nil {
			l.LineStyle.Width = seriesLearnW
			l.LineStyle.Color = colorHakmem
			learners = append(learners, marked{e, mr})
		} else {
			l.LineStyle.Width = seriesLineW
			l.LineStyle.Color = seriesColors[other%len(seriesColors)]
			if !strings.HasPrefix(e.Allocator, "hakmem") {
				l.LineStyle.Dashes = []vg.Length{vg.Points(6), vg.Points(2)}
			}
			other++
		}
		p.Add(l)
		p.Legend.Add(e.Allocator, l)
	}
	if hi == 0 {
		p.Title.Text = sc.Name + ": no throughput recorded"
		return svgOf(p, seriesHeight)
	}
	p.Y.Min, p.Y.Max = lo*seriesFloor, hi*seriesHeadroom
	p.X.Min, p.X.Max = -0.5, float64(nwin)-0.5
	p.X.Tick.Marker = windowTicks{}
	p.Add(plotter.NewGrid())

	var labels plotter.XYLabels
	vline := func(x float64, c color.Color, dashed bool) error {
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: p.Y.Min}, {X: x, Y: hi * 1.2}})
		if err != nil {
			return err
		}
		l.LineStyle.Color, l.LineStyle.Width = c, 1
		if dashed {
			l.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l)
		return nil
	}
	label := func(x float64, text string) {
		labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: hi * 1.3})
		labels.Labels = append(labels.Labels, text)
	}
	if switchW > 0 {
		x := float64(switchW) - 0.5
		if err := vline(x, colorSwitch, false); err != nil {
			return "", err
		}
		label(x, "switch: big, long-lived")
	}
	for _, m := range learners {
		for _, t := range m.s.Transitions {
			x := float64(t.Window) + 0.5 // seen at the end of window t.Window
			if err := vline(x, colorTransition, true); err != nil {
				return "", err
			}
			text := transitionLabel(t)
			if len(learners) > 1 {
				text = m.e.Allocator + ": " + text
			}
			label(x, text)
		}
	}
	if len(labels.Labels) > 0 {
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return "", err
		}
		for j := range l.TextStyle {
			l.TextStyle[j].Rotation = math.Pi / 2
			l.TextStyle[j].XAlign = draw.XLeft
			l.TextStyle[j].YAlign = draw.YCenter
			l.TextStyle[j].Color = colorTransition
		}
		l.TextStyle[0].Color = colorSwitch
		if switchW <= 0 {
			l.TextStyle[0].Color = colorTransition
		}
		p.Add(l)
	}
	return svgOf(p, seriesHeight)
}

// svgOf renders p as an inline <svg> element (the XML prologue stripped).
func svgOf(p *plot.Plot, height vg.Length) (string, error) {
	wt, err := p.WriterTo(chartWidth, height, "svg")
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return "", err
	}
	svg := buf.String()
	if k := strings.Index(svg, "<svg"); k > 0 {
		svg = svg[k:]
	}
	return svg, nil
}

// windowTicks puts a tick on every window and labels every 1st, 2nd, 5th
// or 10th, so that at most windowLabels are labelled.
type windowTicks struct{}

// windowLabels is the most window numbers written under the x axis.
const windowLabels = 25

func (windowTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := int(math.Ceil(lo)), int(math.Floor(hi))
	step := 1
	for _, s := range []int{1, 2, 5, 10, 20, 50, 100} {
		step = s
		if (last-first)/s < windowLabels {
			break
		}
	}
	var ts []plot.Tick
	for w := max(first, 0); w <= last; w++ {
		t := plot.Tick{Value: float64(w)}
		if w%step == 0 {
			t.Label = strconv.Itoa(w)
		}
		ts = append(ts, t)
	}
	return ts
}

// rateTicks places log ticks (powers of ten, unlabelled minor ticks in
// between) and labels them like the tables (100k, 1.00M).
type rateTicks struct{}

func (rateTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.LogTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = fmtRate(ts[i].Value)
		}
	}
	return ts
}
