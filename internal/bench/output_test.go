package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// syntheticResult is a fixed result: the golden tests and the report test
// render it, so its output never depends on the machine.
func syntheticResult() *Result {
	r := &Result{
		Schema: SchemaVersion,
		Provenance: Provenance{
			ToolVersion: ToolVersion, HakmemVersion: "v0.1.0", GitCommit: "0123456789abcdef0123456789abcdef01234567", GitSource: "git",
			Date: "2026-01-02T03:04:05Z", GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64",
			CPUModel: "Test CPU 9000", Cores: 2, GOMAXPROCS: 2,
			HakmemConfig: map[string]ConfigValue{"HAKMEM_MODE": {"balanced", "env"}, "HAKMEM_THP": {"auto", "default"}},
			Command:      []string{"hakmem", "bench", "json", "larson"},
		},
		Settings: Settings{Runs: 3, Warmups: 1, Allocators: []string{"hakmem", "go"}, Native: true},
	}
	for _, name := range []string{"json", "larson"} {
		sc, _ := LookupScenario(name)
		sc.Params = sc.Params.Resolved(sc.Kind)
		sc.Params.Threads = 2
		r.Scenarios = append(r.Scenarios, sc)
	}
	mk := func(sc, alloc string, ns ...float64) Entry {
		e := Entry{Scenario: sc, Allocator: alloc, Status: "ok", ChecksumOK: true}
		for i, x := range ns {
			run := Run{Ops: 1000, Seconds: x * 1000 / 1e9, NsPerOp: x, OpsPerSec: 1e9 / x,
				MinorFaults: uint64(100 + i), PeakRSS: uint64(20+i) << 20, BaseRSS: 10 << 20, RSSMethod: rssClearRefs,
				GCCycles: 3, GCCPUSeconds: 0.002, GCPauseP99: 50e-6}
			if sc == "json" {
				run.NsMedian, run.NsP95, run.NsP99 = x, 2*x, 3*x
			} else {
				run.Checksum = Hex64(wantLarsonChecksum)
			}
			if alloc == "hakmem" {
				run.Allocator = &AllocatorStats{MappedBytes: 4 << 20, Allocs: 1000, Frees: 1000}
			}
			e.Runs = append(e.Runs, run)
		}
		e.summarize()
		return e
	}
	r.Entries = []Entry{
		mk("json", "hakmem", 900, 950, 1000), mk("json", "go", 4000, 4100, 4500),
		{Scenario: "json", Allocator: "native-mimalloc", Native: true, Status: "not installed", ChecksumOK: true},
		mk("larson", "hakmem", 60, 62, 70), mk("larson", "go", 300, 310, 320),
		{Scenario: "larson", Allocator: "native-mimalloc", Native: true, Status: "not installed", ChecksumOK: true},
	}
	r.Ranking = Rank(r.Entries, []string{"json", "larson"})
	return r
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestTableGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, syntheticResult()); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.golden", buf.Bytes())
}

func TestJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := syntheticResult().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	golden(t, "result.golden.json", buf.Bytes())

	// The file reads back to the same result.
	path := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResult(path)
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	_ = back.WriteJSON(&again)
	if !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Error("JSON does not round-trip")
	}
}

func TestReadResultRejectsOtherSchemas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	data, _ := json.Marshal(map[string]string{"schema": "hakmem-bench/0"})
	_ = os.WriteFile(path, data, 0o644)
	if _, err := ReadResult(path); err == nil || !strings.Contains(err.Error(), "hakmem-bench/0") {
		t.Fatalf("want a schema error, got %v", err)
	}
}

func TestGoBench(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteGoBench(&buf, syntheticResult()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Benchmark") {
			lines++
			f := strings.Fields(l)
			if len(f) < 4 || f[3] != "ns/op" {
				t.Errorf("not a benchmark line: %q", l)
			}
		}
	}
	if lines != 12 { // 2 scenarios x 2 allocators x 3 runs; "not installed" rows print nothing
		t.Errorf("%d benchmark lines, want 12:\n%s", lines, out)
	}
	for _, want := range []string{"BenchmarkJson/hakmem-2\t1000\t900.0 ns/op", "BenchmarkLarson/go-2", "cpu: Test CPU 9000", "# HAKMEM_MODE=balanced", "# hakmem bench 0.1.0, commit 0123456789abcdef"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if got := BenchName("random-mixed-400", "syncpool", 8); got != "BenchmarkRandomMixed400/syncpool-8" {
		t.Errorf("BenchName = %q", got)
	}
}

// TestHTMLReport renders the report and checks that it parses, holds one
// SVG chart per scenario, the ranking and the provenance.
func TestHTMLReport(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, syntheticResult()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	dec := xml.NewDecoder(strings.NewReader(out))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("report does not parse: %v", err)
		}
	}
	if n := strings.Count(out, "<svg"); n != 2 {
		t.Errorf("%d <svg> elements, want one per scenario (2)", n)
	}
	for _, want := range []string{
		"0123456789abcdef0123456789abcdef01234567", "Test CPU 9000", "go1.26.8", "linux/amd64",
		"HAKMEM_MODE=balanced", "hakmem bench json larson", "Points ranking", "What the points hide",
		"not installed", "2026-01-02T03:04:05Z",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
