package bench

import (
	"math"
	"runtime/metrics"
	"testing"
)

func TestSummarize(t *testing.T) {
	// 1..100: type-7 quantiles are 1 + q*99.
	xs := make([]float64, 100)
	for i := range xs {
		xs[len(xs)-1-i] = float64(i + 1) // reversed: Summarize must sort
	}
	s := Summarize(xs)
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"min", s.Min, 1}, {"max", s.Max, 100}, {"median", s.Median, 50.5},
		{"q1", s.Q1, 25.75}, {"q3", s.Q3, 75.25}, {"p95", s.P95, 95.05}, {"p99", s.P99, 99.01},
		{"mean", s.Mean, 50.5}, {"iqr", s.IQR(), 49.5},
	} {
		if math.Abs(tc.got-tc.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if xs[0] != 100 {
		t.Error("Summarize modified its input")
	}

	// Five runs, the usual battle: median is the middle one.
	s = Summarize([]float64{10, 12, 11, 30, 9})
	if s.Median != 11 || s.Min != 9 || s.Max != 30 || s.N != 5 {
		t.Errorf("five runs: %+v", s)
	}
	if got := s.SpreadPct(); math.Abs(got-100*21.0/11) > 1e-9 {
		t.Errorf("spread %v", got)
	}
	if one := Summarize([]float64{7}); one.Median != 7 || one.P99 != 7 {
		t.Errorf("one value: %+v", one)
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("empty input should give the zero summary")
	}
}

func TestPauseQuantile(t *testing.T) {
	h := func(counts ...uint64) *metrics.Float64Histogram {
		return &metrics.Float64Histogram{Counts: counts, Buckets: []float64{0, 1e-6, 1e-5, 1e-4, math.Inf(1)}}
	}
	before := h(5, 0, 0, 0)
	after := h(5, 99, 1, 0) // this phase: 99 pauses of 1..10µs, 1 of 10..100µs
	if got := pauseQuantile(before, after, 0.99); got != 1e-5 {
		t.Errorf("p99 = %v, want 1e-5", got)
	}
	if got := pauseQuantile(before, after, 1); got != 1e-4 {
		t.Errorf("max = %v, want 1e-4", got)
	}
	if got := pauseQuantile(after, after, 0.99); got != 0 {
		t.Errorf("no pauses: %v", got)
	}
	inf := h(0, 0, 0, 3)
	if got := pauseQuantile(nil, inf, 0.5); got != 1e-4 {
		t.Errorf("unbounded bucket: %v, want its lower edge", got)
	}
}

func TestRank(t *testing.T) {
	mk := func(sc, a string, runs ...float64) Entry {
		e := Entry{Scenario: sc, Allocator: a, Status: "ok", ChecksumOK: true}
		for _, ns := range runs {
			e.Runs = append(e.Runs, Run{NsPerOp: ns})
		}
		e.summarize()
		return e
	}
	entries := []Entry{
		mk("s1", "a", 10, 11, 12), mk("s1", "b", 20, 21, 22), mk("s1", "c", 11.5, 12, 30),
		mk("s2", "a", 5, 5, 5), mk("s2", "b", 5, 5, 5), mk("s2", "c", 1, 1, 1),
		{Scenario: "s1", Allocator: "d", Status: "not installed"},
	}
	r := Rank(entries, []string{"s1", "s2"})
	// s1: a 3, c 2, b 1. s2: c 3, a and b tie for 2.
	want := map[string]int{"a": 5, "b": 3, "c": 5}
	if len(r.Totals) != 3 {
		t.Fatalf("totals %+v: the allocator that never ran must not appear", r.Totals)
	}
	for _, s := range r.Totals {
		if s.Points != want[s.Allocator] {
			t.Errorf("%s: %d points, want %d", s.Allocator, s.Points, want[s.Allocator])
		}
	}
	p := r.PerScenario[0].Places
	if p[1].Allocator != "c" || !p[1].Overlaps || math.Abs(p[1].BehindPct-100*(12.0/11-1)) > 1e-9 {
		t.Errorf("s1 second place %+v", p[1])
	}
	if !p[2].Overlaps {
		t.Errorf("b's runs (20..22) overlap c's (11.5..30): want the overlap mark")
	}
}
