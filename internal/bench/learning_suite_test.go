package bench

import (
	"bytes"
	"context"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestLearningSuiteProtocol runs the suite's smallest form: every
// workload's default and learning variants, and the two-site workload's
// per-site variant, in child processes (this test binary, TestMain) for a
// fifth of a second each: every child reports operations and CPU time,
// a learning child its sites' states, and the table names the best fixed
// variant and the ratios.
func TestLearningSuiteProtocol(t *testing.T) {
	if runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no processes")
	}
	if testing.Short() {
		t.Skip("starts a child process per workload and variant")
	}
	rs, err := RunLearningSuite(context.Background(), SuiteOptions{Seconds: 0.2, Rounds: 1,
		Variants: []string{"default", "fixed-A512K-B1M", "cache-hold", "learning"}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := 3*len(suiteWorkloads) + 1; len(rs) != want {
		t.Fatalf("%d results, want %d", len(rs), want)
	}
	for _, r := range rs {
		if r.Error != "" || r.Ops == 0 || r.CPUSeconds <= 0 || r.OpsPerCPU <= 0 || r.OpsPerWall <= 0 {
			t.Errorf("%s %s: %+v", r.Workload, r.Variant, r)
		}
		// A site is learned from its first sample (1 request in 64): the
		// ring's hundreds of thousands of requests have one, a slow
		// workload's hundred in 0.2 s may not.
		if r.Variant == "learning" && r.Workload == "ring-ends-700K-1M" && len(r.Learned) == 0 {
			t.Errorf("%s: the learning child reports no learning state", r.Workload)
		}
		if r.Variant != "learning" && len(r.Learned) != 0 {
			t.Errorf("%s %s: a fixed child learned %v", r.Workload, r.Variant, r.Learned)
		}
	}
	rows := SummariseSuite(rs)
	var b bytes.Buffer
	if err := WriteSuiteTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.Best == "" || row.Best == "learning" || row.LearnRatio <= 0 {
			t.Errorf("%s: best %q, ratio %v", row.Workload, row.Best, row.LearnRatio)
		}
	}
	if !strings.Contains(b.String(), "learning / best fixed") || !strings.Contains(b.String(), "two-sites | fixed-A512K-B1M") {
		t.Errorf("table:\n%s", b.String())
	}
	if _, err := RunLearningSuite(context.Background(), SuiteOptions{Seconds: 0.1, Workloads: []string{"nosuch"}}); err == nil {
		t.Error("an unknown workload was accepted")
	}
}

// TestSuiteVariants: every workload has the default, the four fixed
// thresholds below it, the two other BigCache policies and learning; the
// fixed ones give every site its threshold.
func TestSuiteVariants(t *testing.T) {
	for _, w := range suiteWorkloads {
		vs := w.variants()
		if vs[0] != "default" || vs[len(vs)-1] != "learning" || len(vs) < 6 {
			t.Errorf("%s: variants %v", w.name, vs)
		}
		for _, v := range vs[1 : len(vs)-1] {
			ths, err := w.thresholds(v)
			if cachePolicyOf(v) != "" {
				if err != nil || ths != nil {
					t.Errorf("%s %s: %v %v, want the default threshold", w.name, v, ths, err)
				}
				continue
			}
			if err != nil || len(ths) != len(w.sites) {
				t.Errorf("%s %s: %v %v", w.name, v, ths, err)
			}
		}
		if !slices.Contains(vs, "cache-hold") || !slices.Contains(vs, "cache-lean") || cachePolicyOf("cache-hold") != "hold" || cachePolicyOf("fixed-64K") != "" {
			t.Errorf("%s: cache variants %v", w.name, vs)
		}
		if ths, err := w.thresholds("live-fixed-512K"); err != nil || len(ths) != len(w.sites) || ths[0] != 512<<10 {
			t.Errorf("%s live-fixed-512K: %v %v", w.name, ths, err)
		}
		if env := variantEnv("live-fixed-512K"); !slices.Contains(env, "HAKMEM_MODE=learning") {
			t.Errorf("live-fixed-512K runs in %v", env)
		}
		if _, err := w.thresholds("fixed-3K"); err == nil {
			t.Errorf("%s: unknown variant accepted", w.name)
		}
	}
	if len(suiteWorkloads) < 6 || suiteWorkloads[0].name != "burst-touch-520K-1M" || suiteWorkloads[1].name != "ring-ends-700K-1M" {
		t.Errorf("the suite: %v (want at least 6, burst-touch-520K-1M and ring-ends-700K-1M first)", SuiteWorkloadNames())
	}
}

// TestSuiteConfigs: variants that handle every request of a workload alike
// share a configuration, and the summary pools their rounds before it
// picks the best; variants that route a size otherwise, or that differ in
// the cache policy of requests that take the large path, do not.
func TestSuiteConfigs(t *testing.T) {
	w, _ := lookupSuiteWorkload("short-96K-160K")
	same := []string{"default", "fixed-256K", "fixed-512K", "cache-hold", "cache-lean"}
	for _, v := range same {
		if w.config(v) != w.config("default") {
			t.Errorf("short: %s configured otherwise than the default (%q, %q)", v, w.config(v), w.config("default"))
		}
	}
	for _, v := range []string{"fixed-64K", "fixed-128K"} {
		if w.config(v) == w.config("default") {
			t.Errorf("short: %s (routes some sizes to the large path) configured as the default", v)
		}
	}
	if w.config("fixed-64K") == w.config("fixed-128K") {
		t.Errorf("short: 64 KiB (all large) and 128 KiB (split) configured alike")
	}
	rt, _ := lookupSuiteWorkload("ring-touch-64K-2M")
	if rt.config("cache-hold") == rt.config("default") || rt.config("cache-lean") == rt.config("cache-hold") {
		t.Errorf("ring-touch: the cache policies configured alike, though sizes above 1 MiB take the large path")
	}
	ts, _ := lookupSuiteWorkload("two-sites")
	if ts.config("fixed-A512K-B1M") == ts.config("default") || ts.config("fixed-A512K-B1M") == ts.config("fixed-512K") {
		t.Errorf("two-sites: the per-site variant configured as a uniform one")
	}
	if ts.config("cache-hold") != ts.config("default") {
		t.Errorf("two-sites: cache-hold configured otherwise than the default, though no request is large")
	}
	ph, _ := lookupSuiteWorkload("phases-ring-burst")
	if ph.config("fixed-64K") != ph.config("fixed-128K") || ph.config("fixed-512K") == ph.config("default") {
		t.Errorf("phases: 64 and 128 KiB (both send every size large) differ, or 512 KiB is the default")
	}
	if ph.config("learning") != "" {
		t.Errorf("learning has a fixed configuration")
	}

	// Three variants of one configuration, each lucky once: pooled, the
	// best is their common median, not the luckiest variant's.
	var rs []SuiteResult
	add := func(v string, xs ...float64) {
		for i, x := range xs {
			rs = append(rs, SuiteResult{Workload: "short-96K-160K", Variant: v, Round: i, OpsPerCPU: x, OpsPerWall: x})
		}
	}
	add("default", 100, 100, 130)
	add("fixed-256K", 100, 130, 100)
	add("cache-hold", 130, 100, 130)
	add("fixed-64K", 50, 50, 50)
	add("learning", 100, 100, 100)
	row := SummariseSuite(rs)[0]
	if row.Best != "default+fixed-256K+cache-hold" || row.LearnRatio != 1 {
		t.Errorf("pooled: best %q, learning / best %v; want the three pooled, 1", row.Best, row.LearnRatio)
	}
	if row.BestVariant != "cache-hold" || row.VarRatio >= 0.8 {
		t.Errorf("single variants: best %q, learning / best %v; want cache-hold, 100/130", row.BestVariant, row.VarRatio)
	}
}

// TestSuitePairedRatio: the per-round ratio pairs learning with the best
// configuration of the same round, so a host whose speed drifts between
// rounds does not move it, where the ratio of medians moves with which
// rounds each variant's median falls in.
func TestSuitePairedRatio(t *testing.T) {
	var rs []SuiteResult
	add := func(v string, round int, x float64) {
		rs = append(rs, SuiteResult{Workload: "ring-touch-64K-2M", Variant: v, Round: round, OpsPerCPU: x, OpsPerWall: x})
	}
	// The host runs at 240, 240, 240, 170, 170 over five rounds; learning
	// is 0.98 of cache-hold in every round.
	speed := []float64{240, 240, 240, 170, 170}
	for r, s := range speed {
		add("cache-hold", r, s)
		add("default", r, s/30)
		if r != 2 { // a failed learning child: that round is left out
			add("learning", r, 0.98*s)
		}
	}
	row := SummariseSuite(rs)[0]
	if row.Best != "cache-hold" {
		t.Fatalf("best %q, want cache-hold", row.Best)
	}
	if len(row.RoundRatios) != 4 {
		t.Fatalf("%d round ratios (%v), want 4: one per round with learning", len(row.RoundRatios), row.RoundRatios)
	}
	for _, x := range row.RoundRatios {
		if math.Abs(x-0.98) > 1e-9 {
			t.Errorf("round ratio %v, want 0.98", x)
		}
	}
	if math.Abs(row.PairedRatio-0.98) > 1e-9 {
		t.Errorf("paired ratio %v, want 0.98", row.PairedRatio)
	}
	if row.LearnRatio > 0.95 {
		t.Errorf("ratio of medians %v: the drift no longer moves it, so this test shows nothing", row.LearnRatio)
	}
	var b strings.Builder
	if err := WriteSuiteTable(&b, []SuiteRow{row}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| 0.980 [0.980 0.980] |") {
		t.Errorf("the table lacks the paired ratio:\n%s", b.String())
	}
}
