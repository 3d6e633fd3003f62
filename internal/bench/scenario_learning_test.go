package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	hakmem "github.com/hakmem-go/hakmem"
)

// TestLearningScenario runs the learning scenario on the Go heap: every
// block is freed, every window reported, the halves' throughputs add up to
// the run's, and the second half draws the big sizes.
func TestLearningScenario(t *testing.T) {
	rec := newRecorder(goAlloc{})
	var m meter
	p := Params{Slots: 4, Steps: 1200, Window: 300, Seed: 4141}
	raw, err := runLearning(context.Background(), rec, p, &m)
	if err != nil {
		t.Fatal(err)
	}
	if raw.ops != uint64(p.Steps) || len(rec.live) != 0 || len(rec.bad) != 0 {
		t.Fatalf("ops %d, %d live, %v", raw.ops, len(rec.live), rec.bad)
	}
	s := raw.series
	if s == nil || s.WindowOps != p.Window || len(s.OpsPerSec) != p.Steps/p.Window {
		t.Fatalf("series %+v", s)
	}
	for i, r := range s.OpsPerSec {
		if r <= 0 {
			t.Errorf("window %d: no throughput", i)
		}
	}
	if s.Threshold != nil || s.Transitions != nil {
		t.Errorf("the go adapter does not learn, yet the series has %v, %v", s.Threshold, s.Transitions)
	}
	if s.SwitchWindow != p.Steps/2/p.Window || raw.extra["switch_window"] != float64(s.SwitchWindow) {
		t.Errorf("switch_window %v / %v", s.SwitchWindow, raw.extra["switch_window"])
	}
	// The halves' times add up to the run's: ops/seconds is their
	// harmonic combination.
	f, sec := raw.extra["first_half_ops_per_sec"], raw.extra["second_half_ops_per_sec"]
	if f <= 0 || sec <= 0 {
		t.Fatalf("halves %v, %v", f, sec)
	}
	half := float64(p.Steps / 2)
	if got := half/f + half/sec; !near(got, raw.seconds, 1e-9) {
		t.Errorf("halves take %v s, the run %v s", got, raw.seconds)
	}
	// Each half's steady state is the harmonic mean of its last half of
	// windows.
	nw := p.Steps / 2 / p.Window
	if want := steadyRate(s.OpsPerSec, nw+nw/2, 2*nw); !near(raw.extra["second_half_steady_ops_per_sec"], want, 1e-12) || want <= 0 {
		t.Errorf("second half steady %v, want %v", raw.extra["second_half_steady_ops_per_sec"], want)
	}
	if got := steadyRate([]float64{1, 2, 4, 4}, 2, 4); got != 4 || steadyRate([]float64{2, 2}, 1, 1) != 0 {
		t.Errorf("steadyRate: %v", got)
	}
	for i, n := range rec.sizes {
		big := n >= learnBigMin
		if want := i >= p.Steps/2; big != want {
			t.Fatalf("step %d: size %d", i, n)
		}
	}
}

func near(a, b, tol float64) bool { return a-b <= tol && b-a <= tol }

// scriptedLearner is a Go-heap allocator that "learns": its state moves
// on a script, one entry per poll.
type scriptedLearner struct {
	goAlloc
	script []LearnState // state at poll i; ok is false past the script's end and for a zero State
	polls  int
}

func (s *scriptedLearner) LearnState() (LearnState, bool) {
	i := s.polls
	s.polls++
	if i >= len(s.script) || s.script[i].State == "" {
		return LearnState{}, false
	}
	return s.script[i], true
}

// TestLearningRecordsTransitions: the scenario polls a Learner once per
// window and records each counted transition at the window it was first
// seen, with the threshold of every window.
func TestLearningRecordsTransitions(t *testing.T) {
	tr := func(kv ...any) map[string]uint64 {
		m := map[string]uint64{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = uint64(kv[i+1].(int))
		}
		return m
	}
	l := &scriptedLearner{script: []LearnState{
		{}, // window 0: the site has not learned anything yet
		{State: "LEARN", Threshold: 64 << 10, Transitions: tr()},
		{State: "FROZEN", Threshold: 256 << 10, Transitions: tr("LEARN->FROZEN", 1)},
		{State: "FROZEN", Threshold: 256 << 10, Transitions: tr("LEARN->FROZEN", 1)},
		{State: "LEARN", Threshold: 256 << 10, Transitions: tr("LEARN->FROZEN", 1, "FROZEN->LEARN(shift)", 1)},
		{State: "FROZEN", Threshold: 1 << 20, Transitions: tr("LEARN->FROZEN", 2, "FROZEN->LEARN(shift)", 1)},
	}}
	var m meter
	raw, err := runLearning(context.Background(), l, Params{Slots: 2, Steps: 600, Window: 100, Seed: 1}, &m)
	if err != nil {
		t.Fatal(err)
	}
	s := raw.series
	if l.polls != 6 {
		t.Fatalf("%d polls, want one per window (6)", l.polls)
	}
	if want := []uint64{0, 64 << 10, 256 << 10, 256 << 10, 256 << 10, 1 << 20}; !slices.Equal(s.Threshold, want) {
		t.Errorf("thresholds %v, want %v", s.Threshold, want)
	}
	want := []Transition{
		{Window: 2, Name: "LEARN->FROZEN", State: "FROZEN", Threshold: 256 << 10},
		{Window: 4, Name: "FROZEN->LEARN(shift)", State: "LEARN", Threshold: 256 << 10},
		{Window: 5, Name: "LEARN->FROZEN", State: "FROZEN", Threshold: 1 << 20},
	}
	if !reflect.DeepEqual(s.Transitions, want) {
		t.Errorf("transitions %+v\nwant %+v", s.Transitions, want)
	}
	if got := s.freezeString(); got != "w2:256K w5:1M" {
		t.Errorf("freezes %q", got)
	}
}

// TestLearningRegistered: the scenario is in the table with its own
// allocators (all registered), runs when named, and stays out of the
// default battle.
func TestLearningRegistered(t *testing.T) {
	sc, err := LookupScenario("learning")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Kind != KindLearning || !sc.Kind.wantsSite() || sc.Params.Window != learnWindowOps || sc.Params.Steps != learnSteps {
		t.Errorf("scenario %+v", sc)
	}
	if err := CheckAllocators(sc.Allocators); err != nil || !slices.Contains(sc.Allocators, "hakmem-learning") {
		t.Errorf("allocators %v: %v", sc.Allocators, err)
	}
	for _, th := range fixedThresholds {
		if name := "hakmem-fixed-" + fmtThreshold(uint64(th)); !slices.Contains(sc.Allocators, name) {
			t.Errorf("%s missing from %v", name, sc.Allocators)
		}
	}
	for _, d := range DefaultBattleScenarios() {
		if d.Kind == KindLearning {
			t.Error("learning is in the default battle")
		}
	}
	if e := sc.EstimateSeconds(); e < 0.1 || e > 2 {
		t.Errorf("estimate %v s per run", e)
	}
}

// TestLearningAdapterRestoresMode: hakmem-learning switches to Learning
// for its run only, and the battle leaves the process in the mode it
// found; its runs allocate through a site that learns (the learner has a
// state for it), the fixed entries' sites keep their threshold.
func TestLearningAdapterRestoresMode(t *testing.T) {
	if testing.Short() {
		t.Skip("learns on 40,000 requests")
	}
	before := hakmem.CurrentMode()
	a, err := NewAllocator("hakmem-learning")
	if err != nil {
		t.Fatal(err)
	}
	a.(Settler).Settle()
	if got := hakmem.CurrentMode(); got != hakmem.Learning {
		t.Fatalf("mode in the run %v", got)
	}
	a.(AfterRunner).AfterRun()
	if got := hakmem.CurrentMode(); got != before {
		t.Fatalf("mode after the run %v, want %v", got, before)
	}

	sc, _ := LookupScenario("learning")
	sc.Params.Steps = 40000 // two reporting windows per half
	sc.Allocators = []string{"hakmem-learning", "hakmem-fixed-128K"}
	res, err := RunBattle(context.Background(), Config{Scenarios: []Scenario{sc}, Runs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := hakmem.CurrentMode(); got != before {
		t.Fatalf("mode after the battle %v, want %v", got, before)
	}
	l := res.Lookup("learning", "hakmem-learning")
	if l == nil || l.Status != "ok" || l.Runs[0].Series == nil {
		t.Fatalf("learning entry %+v", l)
	}
	// The series has thresholds only when a poll found the site learning
	// (its first sample made a learning state): 40,000 requests are far
	// fewer than an A/B test needs at 100 ms windows, so nothing need move.
	if th := l.Runs[0].Series.Threshold; len(th) == 0 || th[len(th)-1] == 0 {
		t.Errorf("thresholds %v: the site did not learn (not through a site, or not live?)", th)
	}
	f := res.Lookup("learning", "hakmem-fixed-128K")
	if f == nil || f.Status != "ok" || f.Runs[0].Series.Threshold != nil {
		t.Errorf("fixed entry %+v", f)
	}
	if !slices.Equal(res.Settings.Allocators, sc.Allocators) {
		t.Errorf("settings list %v", res.Settings.Allocators)
	}
}

// learningResult is a synthetic learning result: a learning entry with
// two runs (transitions in both) and a fixed one.
func learningResult() *Result {
	r := syntheticResult()
	sc, _ := LookupScenario("learning")
	r.Scenarios = []Scenario{sc}
	r.Provenance.Notes = []string{"HAKMEM_LEARN_MIN_MS=0 set by a test"}
	run := func(ops float64, tr []Transition, th []uint64, rates ...float64) Run {
		return Run{Ops: 1000, Seconds: 1000 / ops, NsPerOp: 1e9 / ops, OpsPerSec: ops,
			Extra: map[string]float64{"first_half_ops_per_sec": rates[0], "second_half_ops_per_sec": rates[len(rates)-1], "switch_window": 2,
				"first_half_steady_ops_per_sec": rates[1], "second_half_steady_ops_per_sec": rates[len(rates)-1]},
			Series: &Series{WindowOps: 250, SwitchWindow: 2, OpsPerSec: rates, Threshold: th, Transitions: tr}}
	}
	froze := []Transition{{Window: 1, Name: "LEARN->FROZEN", State: "FROZEN", Threshold: 512 << 10},
		{Window: 2, Name: "FROZEN->LEARN(shift)", State: "LEARN", Threshold: 512 << 10},
		{Window: 3, Name: "LEARN->FROZEN", State: "FROZEN", Threshold: 128 << 10}}
	th := []uint64{1 << 20, 512 << 10, 512 << 10, 128 << 10}
	learn := Entry{Scenario: "learning", Allocator: "hakmem-learning", Status: "ok", ChecksumOK: true, Runs: []Run{
		run(3e6, froze, th, 9e6, 1e7, 3e5, 4e5),
		run(2e6, froze[:1], th, 8e6, 1.1e7, 2e5, 2e5),
	}}
	fixed := Entry{Scenario: "learning", Allocator: "hakmem-fixed-1M", Status: "ok", ChecksumOK: true, Runs: []Run{
		run(2.5e6, nil, nil, 1.2e7, 1.2e7, 3e5, 3e5),
	}}
	learn.summarize()
	fixed.summarize()
	r.Entries = []Entry{learn, fixed}
	r.Ranking = Rank(r.Entries, []string{"learning"})
	return r
}

// TestSeriesJSONRoundTrip: the series, its transitions and the notes
// survive a write and a read; a result without them still reads.
func TestSeriesJSONRoundTrip(t *testing.T) {
	r := learningResult()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"series": {`, `"window_ops": 250`, `"switch_window": 2`, `"transitions": [`,
		`"name": "LEARN-\u003eFROZEN"`, `"threshold": 524288`, `"notes": [`, `"window": 10000`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResult(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Entries, r.Entries) || !reflect.DeepEqual(back.Provenance.Notes, r.Provenance.Notes) ||
		!reflect.DeepEqual(back.Scenarios[0].Allocators, r.Scenarios[0].Allocators) {
		t.Errorf("round trip changed the result:\n%+v\nwant\n%+v", back.Entries, r.Entries)
	}
	if strings.Contains(mustJSON(t, syntheticResult()), `"series"`) {
		t.Error("a result without series writes a series field")
	}
}

func mustJSON(t *testing.T, r *Result) string {
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestSeriesChart: the series chart has one line per allocator, the
// switch and the transitions of the learning entry's median run; a result
// without series has none.
func TestSeriesChart(t *testing.T) {
	r := learningResult()
	svg, err := seriesChart(r, r.Scenarios[0])
	if err != nil {
		t.Fatal(err)
	}
	// The median run by ops/s of two is the slower one: one freeze.
	for _, want := range []string{"<svg", "hakmem-learning", "hakmem-fixed-1M", "switch", "froze 512K", "window"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	for _, not := range []string{"froze 128K", "relearn"} {
		if strings.Contains(svg, not) {
			t.Errorf("chart marks %q, from a run that is not the median", not)
		}
	}
	if got := medianSeries(&r.Entries[0]); !slices.Equal(got, []float64{8.5e6, 1.05e7, 2.5e5, 3e5}) {
		t.Errorf("median series %v", got)
	}
	if svg, err := seriesChart(syntheticResult(), syntheticResult().Scenarios[0]); err != nil || svg != "" {
		t.Errorf("chart without series: %q, %v", svg, err)
	}

	var html, table bytes.Buffer
	if err := WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(html.String(), "<svg"); n != 2 {
		t.Errorf("%d charts, want the bars and the series", n)
	}
	for _, want := range []string{"throughput over time", "w1:512K w3:128K | w1:512K", "HAKMEM_LEARN_MIN_MS=0 set by a test"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if err := WriteTable(&table, r); err != nil {
		t.Fatal(err)
	}
	// Steady states: learning 1.05e7 (median of 1e7 and 1.1e7) against the
	// fixed 1.2e7 in the first half, 3e5 against 3e5 in the second.
	for _, want := range []string{"1st half ops/s", "8.50M", "w1:512K w3:128K | w1:512K", "note: HAKMEM_LEARN_MIN_MS=0", "2nd steady",
		"steady state, hakmem-learning / best fixed (hakmem-fixed-1M): 0.88 in the first half",
		"steady state, hakmem-learning / best fixed (hakmem-fixed-1M): 1.00 in the second half"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}
