package bench

import (
	"fmt"
	"html/template"
	"image/color"
	"io"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart geometry and colours of the HTML report.
const (
	chartWidth    = 24 * vg.Centimeter // about 900 px: the page's text width
	chartHeight   = 9 * vg.Centimeter
	chartHeadroom = 1.15 // y axis ends 15% above the slowest run, room for the value labels
	barWidth      = 28   // points; bars stay readable up to ~10 allocators
)

var (
	colorHakmem = color.RGBA{R: 0xd9, G: 0x5f, B: 0x02, A: 0xff} // hakmem stands out
	colorGo     = color.RGBA{R: 0x1b, G: 0x9e, B: 0x77, A: 0xff} // pure-Go peers
	colorNative = color.RGBA{R: 0x75, G: 0x70, B: 0xb3, A: 0xff} // C peers (native and cgo)
)

// WriteHTML writes a self-contained HTML report: the provenance, one SVG bar
// chart per scenario (median ns/op, whiskers from the fastest to the slowest
// run) with its numbers, and the points ranking with its note.
func WriteHTML(w io.Writer, r *Result) error {
	type row struct {
		Allocator, Status, Median, Range, Spread, Ops, RSS, Faults, GCs, GCCPU string
	}
	type half struct {
		Allocator, First, Second, Freezes string
	}
	type section struct {
		Name, Doc, Params string
		SVG               template.HTML
		Rows              []row
		SeriesSVG         template.HTML // throughput over time, "" when the scenario records none
		Halves            []half        // its summary by halves
		FootprintSVG      template.HTML // gc-footprint: the charts against GiB held, instead of the bars
		Footprint         []footprintRow
		FootprintHeader   string
	}
	var sections []section
	for _, sc := range r.Scenarios {
		if sc.Kind == KindGCFootprint {
			fsvg, err := footprintCharts(r, sc)
			if err != nil {
				return fmt.Errorf("chart of %s: %w", sc.Name, err)
			}
			sections = append(sections, section{Name: sc.Name, Doc: sc.Doc, Params: ParamsString(sc),
				FootprintSVG: fsvg, Footprint: footprintRows(r, sc), FootprintHeader: strings.Join(footprintHeader(r), " ")})
			continue
		}
		svg, err := scenarioChart(r, sc)
		if err != nil {
			return fmt.Errorf("chart of %s: %w", sc.Name, err)
		}
		ssvg, err := seriesChart(r, sc)
		if err != nil {
			return fmt.Errorf("series chart of %s: %w", sc.Name, err)
		}
		s := section{Name: sc.Name, Doc: sc.Doc, Params: ParamsString(sc), SVG: template.HTML(svg), SeriesSVG: template.HTML(ssvg)}
		for i := range r.Entries {
			e := &r.Entries[i]
			if e.Scenario != sc.Name {
				continue
			}
			rw := row{Allocator: e.Allocator, Status: e.Status}
			if e.Status == "ok" && len(e.Runs) > 0 {
				if !e.ChecksumOK {
					rw.Status = "checksum mismatch"
				}
				rw.Median = fmtNs(e.NsPerOp.Median)
				rw.Range = fmtNs(e.NsPerOp.Min) + " .. " + fmtNs(e.NsPerOp.Max)
				rw.Spread = fmt.Sprintf("±%.1f%%", e.NsPerOp.SpreadPct()/2)
				rw.Ops = fmtRate(e.OpsPerSec.Median)
				rw.RSS = fmtBytes(e.PeakRSS.Median)
				rw.Faults = group(int64(runMedian(e, func(r Run) float64 { return float64(r.MinorFaults) })))
				rw.GCs = group(int64(runMedian(e, func(r Run) float64 { return float64(r.GCCycles) })))
				rw.GCCPU = fmtSeconds(runMedian(e, func(r Run) float64 { return r.GCCPUSeconds }))
			}
			s.Rows = append(s.Rows, rw)
			if ssvg != "" && e.Status == "ok" && len(e.Runs) > 0 {
				h := half{Allocator: e.Allocator,
					First:  fmtRate(runMedian(e, func(r Run) float64 { return r.Extra["first_half_ops_per_sec"] })),
					Second: fmtRate(runMedian(e, func(r Run) float64 { return r.Extra["second_half_ops_per_sec"] }))}
				var fr []string
				for _, run := range e.Runs {
					if run.Series != nil && run.Series.Threshold != nil {
						fr = append(fr, run.Series.freezeString())
					}
				}
				h.Freezes = strings.Join(fr, " | ")
				s.Halves = append(s.Halves, h)
			}
		}
		sections = append(sections, s)
	}
	p := r.Provenance
	commit := p.GitCommit
	if p.GitDirty {
		commit += " (uncommitted changes)"
	}
	env := p.changedConfig()
	if len(env) == 0 {
		env = []string{"(hakmem at its defaults)"}
	}
	data := map[string]any{
		"P":        p,
		"Commit":   commit,
		"Env":      strings.Join(env, " "),
		"Command":  strings.Join(p.Command, " "),
		"Settings": r.Settings,
		"Schema":   r.Schema,
		"Sections": sections,
		"Ranking":  r.Ranking,
	}
	return reportTemplate.Execute(w, data)
}

// scenarioChart draws one scenario as an SVG bar chart and returns the
// <svg> element (the XML prologue stripped, so it can sit inline).
func scenarioChart(r *Result, sc Scenario) (string, error) {
	p := plot.New()
	p.Title.Text = sc.Name + ": median ns/op (whiskers: fastest .. slowest run)"
	p.Y.Label.Text = "ns/op (lower is better)"
	p.Y.Min = 0
	var names []string
	var labels plotter.XYLabels
	top := 0.0
	i := 0
	for k := range r.Entries {
		e := &r.Entries[k]
		if e.Scenario != sc.Name || e.Status != "ok" || len(e.Runs) == 0 {
			continue
		}
		bars, err := plotter.NewBarChart(plotter.Values{e.NsPerOp.Median}, barWidth)
		if err != nil {
			return "", err
		}
		bars.XMin = float64(i)
		bars.LineStyle.Width = 0
		bars.Color = allocatorColor(e)
		errs, err := plotter.NewYErrorBars(spreadBar{x: float64(i), e: e})
		if err != nil {
			return "", err
		}
		p.Add(bars, errs)
		names = append(names, e.Allocator)
		// The median written above the whisker: bars of fast allocators
		// are too short to read on a linear axis.
		labels.XYs = append(labels.XYs, plotter.XY{X: float64(i), Y: e.NsPerOp.Max})
		labels.Labels = append(labels.Labels, fmtNs(e.NsPerOp.Median))
		top = max(top, e.NsPerOp.Max)
		i++
	}
	if len(names) > 0 {
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return "", err
		}
		for j := range l.TextStyle {
			l.TextStyle[j].XAlign = draw.XCenter
		}
		l.Offset = vg.Point{Y: 4}
		p.Add(l)
		p.Y.Max = top * chartHeadroom
	}
	p.Y.Tick.Marker = nsTicks{}
	if len(names) == 0 {
		p.Title.Text = sc.Name + ": no successful runs"
	}
	p.NominalX(names...)
	p.Add(plotter.NewGrid())
	return svgOf(p, chartHeight)
}

func allocatorColor(e *Entry) color.Color {
	switch {
	case e.Allocator == "hakmem":
		return colorHakmem
	case e.Native || strings.HasPrefix(e.Allocator, "cgo-"):
		return colorNative
	}
	return colorGo
}

// nsTicks places the default ticks and labels them like the tables do
// (thousands separators, no decimals on large values).
type nsTicks struct{}

func (nsTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label == "" {
			continue
		}
		if ts[i].Value == 0 {
			ts[i].Label = "0"
		} else {
			ts[i].Label = fmtNs(ts[i].Value)
		}
	}
	return ts
}

// spreadBar is one whisker: from the fastest to the slowest run around the
// median (plotter.YErrorBars wants an XYer and a YErrorer).
type spreadBar struct {
	x float64
	e *Entry
}

func (s spreadBar) Len() int                  { return 1 }
func (s spreadBar) XY(int) (float64, float64) { return s.x, s.e.NsPerOp.Median }
func (s spreadBar) YError(int) (float64, float64) {
	return s.e.NsPerOp.Median - s.e.NsPerOp.Min, s.e.NsPerOp.Max - s.e.NsPerOp.Median
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hakmem bench report {{.P.Date}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; text-align: right; border-bottom: 1px solid #eee; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
table.prov td { text-align: left; } table.prov td:first-child { font-weight: 600; }
.note { background: #fff8e5; border-left: 4px solid #e0a800; padding: 0.6em 1em; }
.params { color: #555; font-size: 0.9em; }
code { font-size: 0.9em; }
svg { display: block; max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>hakmem bench report</h1>
<table class="prov">
<tr><td>date</td><td>{{.P.Date}}</td></tr>
<tr><td>tool</td><td>hakmem bench {{.P.ToolVersion}}, schema {{.Schema}}{{if .P.HakmemVersion}}, hakmem library {{.P.HakmemVersion}}{{end}}</td></tr>
<tr><td>commit</td><td><code>{{.Commit}}</code> (from {{.P.GitSource}})</td></tr>
<tr><td>Go</td><td>{{.P.GoVersion}} {{.P.GOOS}}/{{.P.GOARCH}}, GOMAXPROCS {{.P.GOMAXPROCS}}{{if .P.GOGC}}, GOGC={{.P.GOGC}}{{end}}</td></tr>
<tr><td>CPU</td><td>{{.P.CPUModel}}, {{.P.Cores}} cores</td></tr>
<tr><td>hakmem configuration</td><td><code>{{.Env}}</code></td></tr>
<tr><td>command</td><td><code>{{.Command}}</code></td></tr>
{{range .P.Notes}}<tr><td>note</td><td>{{.}}</td></tr>
{{end}}
<tr><td>runs</td><td>{{.Settings.Runs}} measured + {{.Settings.Warmups}} warm-up per allocator, interleaved</td></tr>
</table>

<h2>Points ranking</h2>
<p>Per scenario, N points for the best median ns/op down to 1 for the worst.</p>
<table>
<tr><th>allocator</th><th>points</th><th>wins</th></tr>
{{range .Ranking.Totals}}<tr><td>{{.Allocator}}</td><td>{{.Points}}</td><td>{{.Wins}}</td></tr>
{{end}}</table>
<table>
<tr><th>scenario</th><th>order (median behind the best; ~ = run ranges overlap with the place above)</th></tr>
{{range .Ranking.PerScenario}}<tr><td>{{.Scenario}}</td><td style="text-align:left">{{range $i, $p := .Places}}{{if $i}} &gt; {{if $p.Overlaps}}~{{end}}{{end}}{{$p.Allocator}}{{if $i}} ({{printf "%+.1f" $p.BehindPct}}%){{end}}{{end}}</td></tr>
{{end}}</table>
<p class="note"><b>What the points hide.</b> {{.Ranking.Note}}</p>
<p>Charts: bar = median ns/op over the runs, with its value written above; whisker = fastest to slowest run. Colours:
<span style="color:#d95f02">&#9632; hakmem</span>, <span style="color:#1b9e77">&#9632; pure-Go peers</span>,
<span style="color:#7570b3">&#9632; C peers (native, cgo)</span>.</p>

{{range .Sections}}
<h2 id="{{.Name}}">{{.Name}}</h2>
<p>{{.Doc}}<br><span class="params">{{.Params}}</span></p>
{{if .Footprint}}<p>{{.FootprintHeader}}</p>
{{.FootprintSVG}}
<table>
<tr><th>allocator</th><th>GiB held</th><th>GC CPU per cycle</th><th>vs empty</th><th>scan heap</th><th>vs empty</th><th>live heap</th><th>vs empty</th><th>RSS</th><th>status</th></tr>
{{range .Footprint}}<tr><td>{{.Allocator}}</td><td>{{.Held}}</td><td>{{.CPU}}</td><td>{{.CPUGrowth}}</td><td>{{.Scan}}</td><td>{{.ScanGrowth}}</td><td>{{.Live}}</td><td>{{.LiveGrowth}}</td><td>{{.RSS}}</td><td>{{.Status}}</td></tr>
{{end}}</table>
{{else}}{{.SVG}}
<table>
<tr><th>allocator</th><th>median ns/op</th><th>fastest .. slowest</th><th>spread</th><th>ops/s</th><th>peak RSS</th><th>minor faults</th><th>GC cycles</th><th>GC CPU</th><th>status</th></tr>
{{range .Rows}}<tr><td>{{.Allocator}}</td><td>{{.Median}}</td><td>{{.Range}}</td><td>{{.Spread}}</td><td>{{.Ops}}</td><td>{{.RSS}}</td><td>{{.Faults}}</td><td>{{.GCs}}</td><td>{{.GCCPU}}</td><td>{{.Status}}</td></tr>
{{end}}</table>
{{if .SeriesSVG}}<h3>{{.Name}}: throughput over time</h3>
<p>One line per allocator: its throughput in each window (median over the runs; the learner's state is read between windows, outside the timed part). Solid vertical line: the switch to the second half. Dashed: the lifecycle transitions of the learning allocator's median run (by ops/s), drawn at the end of the window in which they were seen.</p>
{{.SeriesSVG}}
<table>
<tr><th>allocator</th><th>1st half ops/s</th><th>2nd half ops/s</th><th>freezes per run (window:threshold)</th></tr>
{{range .Halves}}<tr><td>{{.Allocator}}</td><td>{{.First}}</td><td>{{.Second}}</td><td style="text-align:left">{{.Freezes}}</td></tr>
{{end}}</table>
{{end}}
{{end}}
{{end}}
<p class="params">Medians over runs. ns/op: for json, mir, vm and mixed each run's median op latency; otherwise the run's time over its operations. Peak RSS is the whole process's high-water mark during the run.</p>
</body>
</html>
`))
