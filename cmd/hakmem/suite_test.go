package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakmem-go/hakmem/internal/bench"
)

// TestMain lets this test binary serve as a learning-suite child (the
// suite starts os.Executable again, one process per variant), as main
// does.
func TestMain(m *testing.M) {
	if code, ok := bench.LearningSuiteChild(os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	if code, ok := bench.FootprintChild(os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestBenchLearningSuite: `hakmem bench learning-suite` runs alone, with
// its own flags, and prints the table and writes every child's result.
func TestBenchLearningSuite(t *testing.T) {
	if code, _, errs := runCmd(t, "bench", "learning-suite", "vm"); code != exitUsage || !strings.Contains(errs, "runs alone") {
		t.Errorf("with another scenario: exit %d, %q", code, errs)
	}
	if code, _, _ := runCmd(t, "bench", "learning-suite", "--suite-seconds", "0"); code != exitUsage {
		t.Errorf("--suite-seconds 0: exit %d", code)
	}
	if code, _, errs := runCmd(t, "bench", "learning-suite", "--suite-seconds", "0.1", "--suite-workloads", "nosuch"); code != exitFail || !strings.Contains(errs, "nosuch") {
		t.Errorf("unknown workload: exit %d, %q", code, errs)
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	jsonFile := filepath.Join(t.TempDir(), "suite.json")
	code, out, errs := runCmd(t, "bench", "learning-suite", "--suite-seconds", "0.2", "--runs", "1",
		"--suite-workloads", "ring-ends-700K-1M", "--suite-variants", "default,fixed-512K,learning", "--json", jsonFile)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"| ring-ends-700K-1M | learning |", "learning / best fixed configuration (per CPU-s)", "paired per round: median [min max]", "learning / best single variant", "round 1 ring-ends-700K-1M"} {
		if !strings.Contains(out+errs, want) {
			t.Errorf("output lacks %q:\n%s\n%s", want, out, errs)
		}
	}
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var rs []bench.SuiteResult
	if err := json.Unmarshal(b, &rs); err != nil || len(rs) != 3 {
		t.Fatalf("JSON: %d results, %v", len(rs), err)
	}
}
