package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/hakmem-go/hakmem/internal/bench"
)

// runCmd runs the command in-process and returns its exit code and output.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestBenchQuickSmoke runs a real quick battle on one small scenario and
// checks every output: JSON on stdout, the JSON file, the HTML report.
func TestBenchQuickSmoke(t *testing.T) {
	dir := t.TempDir()
	jsonFile, htmlFile := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	code, out, errs := runCmd(t, "bench", "vm", "--quick", "--warmups", "0", "--format", "json",
		"--json", jsonFile, "--html", htmlFile)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var res bench.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if res.Schema != bench.SchemaVersion || len(res.Entries) != len(bench.DefaultAllocators()) {
		t.Fatalf("schema %q, %d entries", res.Schema, len(res.Entries))
	}
	for _, e := range res.Entries {
		if e.Status != "ok" || len(e.Runs) != 1 || e.NsPerOp.Median <= 0 {
			t.Errorf("%s/%s: %s, %d runs, median %v", e.Scenario, e.Allocator, e.Status, len(e.Runs), e.NsPerOp.Median)
		}
	}
	if !strings.Contains(errs, "battle took") {
		t.Errorf("stderr lacks the duration:\n%s", errs)
	}
	if _, err := bench.ReadResult(jsonFile); err != nil {
		t.Error(err)
	}
	if html, err := os.ReadFile(htmlFile); err != nil || !bytes.Contains(html, []byte("<svg")) {
		t.Errorf("HTML report: %v", err)
	}

	// The table and gobench formats of the same scenario.
	code, out, _ = runCmd(t, "bench", "vm", "--quick", "--warmups", "0", "--allocators", "go,modernc", "--format", "gobench")
	if code != 0 || !strings.Contains(out, "BenchmarkVm/modernc-") {
		t.Errorf("gobench: exit %d\n%s", code, out)
	}
	// --native with a fake harness: one peer runs, one is missing, and the
	// battle carries on.
	defer func(old func() (bench.NativeHarness, string)) { nativeHarness = old }(nativeHarness)
	nativeHarness = func() (bench.NativeHarness, string) { return fakeNative{}, "" }
	code, out, _ = runCmd(t, "bench", "--quick", "--warmups=0", "vm", "--allocators=syncpool", "--native")
	if code != 0 || !strings.Contains(out, "points ranking") ||
		!regexp.MustCompile(`native-fakemalloc +not installed`).MatchString(out) ||
		!regexp.MustCompile(`native-glibc +1,000 `).MatchString(out) {
		t.Errorf("table with --native: exit %d\n%s", code, out)
	}

	// report re-renders the saved result.
	again := filepath.Join(dir, "again.html")
	if code, _, errs := runCmd(t, "report", jsonFile, "--html", again); code != 0 {
		t.Errorf("report: exit %d: %s", code, errs)
	}
	// compare of a result with itself: no regression, exit 0.
	if code, out, errs := runCmd(t, "compare", jsonFile, jsonFile); code != 0 || !strings.Contains(out, "no significant regression") {
		t.Errorf("compare with itself: exit %d\n%s%s", code, out, errs)
	}
}

// TestUsageErrors: unknown names and flags fail with exit 2 and list the
// valid choices; --help succeeds.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "nosuch"}, "random-mixed-8192"},
		{[]string{"bench", "--allocators", "go,nosuch"}, "hakmem, hakmem-minimal, hakmem-fast, hakmem-balanced, hakmem-learning, hakmem-research, hakmem-fixed-64K, hakmem-fixed-128K, hakmem-fixed-256K, hakmem-fixed-512K, hakmem-fixed-1M, go, syncpool, modernc"},
		{[]string{"bench", "--format", "xml"}, "table, json, gobench"},
		{[]string{"bench", "--bogus"}, "flag provided but not defined"},
		{[]string{"bench", "--live", "lots"}, "1GiB"},
		{[]string{"nosuch"}, "bench, compare, config, report"},
		{[]string{"compare", "one.json"}, "want two result files"},
		{[]string{"report", "r.json"}, "--html FILE"},
	} {
		code, _, errs := runCmd(t, tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr lacks %q:\n%s", tc.args, code, tc.want, errs)
		}
	}
	for _, cmd := range []string{"bench", "compare", "report"} {
		code, _, errs := runCmd(t, cmd, "--help")
		if code != exitOK || !strings.Contains(errs, "usage: hakmem "+cmd) {
			t.Errorf("%s --help: exit %d\n%s", cmd, code, errs)
		}
	}
	if code, out, _ := runCmd(t, "help"); code != exitOK || !strings.Contains(out, "commands:") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
}

// TestCompareExitCodes: a significant 10% regression exits 1; results from
// another machine are refused without --force.
func TestCompareExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, cpu string, runs ...float64) string {
		r := &bench.Result{Schema: bench.SchemaVersion, Provenance: bench.Provenance{CPUModel: cpu, Cores: 2, GOOS: "linux", GOARCH: "amd64"}}
		e := bench.Entry{Scenario: "larson", Allocator: "hakmem", Status: "ok", ChecksumOK: true}
		for _, ns := range runs {
			e.Runs = append(e.Runs, bench.Run{NsPerOp: ns})
		}
		r.Entries = []bench.Entry{e}
		path := filepath.Join(dir, name)
		f, _ := os.Create(path)
		defer f.Close()
		if err := r.WriteJSON(f); err != nil {
			t.Fatal(err)
		}
		return path
	}
	old := write("old.json", "cpu", 100, 101, 99, 100.5, 99.5)
	slow := write("slow.json", "cpu", 110, 111, 109, 110.5, 109.5)
	other := write("other.json", "other cpu", 100, 101, 99, 100.5, 99.5)
	if code, out, _ := runCmd(t, "compare", old, slow); code != exitFail || !strings.Contains(out, "REGRESSION") {
		t.Errorf("regression: exit %d\n%s", code, out)
	}
	if code, _, _ := runCmd(t, "compare", old, slow, "--threshold", "20"); code != exitOK {
		t.Errorf("regression under threshold: exit %d", code)
	}
	if code, _, errs := runCmd(t, "compare", old, other); code != exitFail || !strings.Contains(errs, "different machines") {
		t.Errorf("other machine: exit %d\n%s", code, errs)
	}
	if code, _, _ := runCmd(t, "compare", "--force", old, other); code != exitOK {
		t.Errorf("--force: exit %d", code)
	}
}

// fakeNative stands in for the C harness: glibc runs (1000 ns/op), a
// second peer is not installed.
type fakeNative struct{}

func (fakeNative) Peers() []bench.NativePeer {
	return []bench.NativePeer{{Name: "glibc", Installed: true}, {Name: "fakemalloc", Lib: "libfake.so"}}
}

func (fakeNative) Run(_ context.Context, peer, scenario string, _ map[string]string) (bench.NativeSample, error) {
	return bench.NativeSample{Scenario: scenario, Peer: peer, Ops: 10, Seconds: 1e-5, NsMedian: 1000}, nil
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "256MiB": 256 << 20, "512m": 512 << 20, "4096": 4096, "1.5G": 3 << 29, "64k": 64 << 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseSize("-1G"); err == nil {
		t.Error("negative size accepted")
	}
}

// TestBenchLearning runs the learning scenario once, named: its own
// allocators run (not the default battle's), the series are in the result,
// and the shorter minimum learning time is either set and noted, or, when
// an earlier test of this process already configured hakmem, warned
// about. --allocators replaces the scenario's own list.
func TestBenchLearning(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the learning scenario on seven allocators")
	}
	code, out, errs := runCmd(t, "bench", "learning", "--quick", "--warmups", "0", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var res bench.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	sc, _ := bench.LookupScenario("learning")
	if len(res.Entries) != len(sc.Allocators) {
		t.Fatalf("%d entries, want the scenario's %d", len(res.Entries), len(sc.Allocators))
	}
	for _, e := range res.Entries {
		if e.Status != "ok" || len(e.Runs) != 1 || e.Runs[0].Series == nil || len(e.Runs[0].Series.OpsPerSec) != sc.Params.Steps/sc.Params.Window {
			t.Errorf("%s: %s, runs %+v", e.Allocator, e.Status, e.Runs)
		}
	}
	noted := len(res.Provenance.Notes) == 1 && strings.Contains(res.Provenance.Notes[0], "HAKMEM_LEARN_MIN_MS=0") &&
		res.Provenance.HakmemConfig["HAKMEM_LEARN_MIN_MS"] == bench.ConfigValue{Value: "0", Source: "api"}
	warned := strings.Contains(errs, "HAKMEM_LEARN_MIN_MS stays")
	if noted == warned {
		t.Errorf("noted %v, warned %v: want exactly one\n%v\n%s", noted, warned, res.Provenance.Notes, errs)
	}

	code, out, errs = runCmd(t, "bench", "learning", "--quick", "--warmups", "0", "--allocators", "syncpool")
	if code != 0 || !regexp.MustCompile(`(?m)^  +syncpool .*\n  throughput over time`).MatchString(out) || strings.Contains(out, "hakmem-fixed") {
		t.Errorf("--allocators syncpool: exit %d\n%s%s", code, out, errs)
	}
}

// TestVersion: hakmem version names the library module and its version as
// the build info has it, the commit, and the Go version; bench provenance
// carries the same library version.
func TestVersion(t *testing.T) {
	code, out, errs := runCmd(t, "version")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	v := bench.ReadBuildVersion()
	for _, want := range []string{"hakmem library: github.com/hakmem-go/hakmem " + v.Hakmem, "commit:", runtime.Version()} {
		if !strings.Contains(out, want) {
			t.Errorf("hakmem version lacks %q:\n%s", want, out)
		}
	}
	if v.Hakmem == "unknown" || v.Hakmem == "" {
		t.Errorf("the build info does not list the hakmem module: %+v", v)
	}
	if p := bench.CollectProvenance(nil); p.HakmemVersion != v.Hakmem {
		t.Errorf("provenance hakmem_version %q, want %q", p.HakmemVersion, v.Hakmem)
	}
	if code, _, _ := runCmd(t, "version", "extra"); code != exitUsage {
		t.Errorf("version with an argument: exit %d", code)
	}
}
