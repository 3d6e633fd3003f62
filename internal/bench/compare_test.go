package bench

import (
	"strings"
	"testing"
)

// resultWith builds a one-entry result with the given ns/op runs.
func resultWith(cpu string, runs ...float64) *Result {
	r := &Result{Schema: SchemaVersion, Provenance: Provenance{CPUModel: cpu, Cores: 2, GOOS: "linux", GOARCH: "amd64"}}
	e := Entry{Scenario: "larson", Allocator: "hakmem", Status: "ok", ChecksumOK: true}
	for _, ns := range runs {
		e.Runs = append(e.Runs, Run{NsPerOp: ns})
	}
	e.summarize()
	r.Entries = append(r.Entries, e)
	return r
}

var baseRuns = []float64{100, 101, 99, 100.5, 99.5}

func TestCompareFlagsRealRegression(t *testing.T) {
	old := resultWith("cpu", baseRuns...)
	slow := resultWith("cpu", 110, 111, 109, 110.5, 109.5) // 10% slower, no overlap
	rep, err := Compare(old, slow, 5, false)
	if err != nil {
		t.Fatal(err)
	}
	ch := rep.Changes[0]
	if ch.Verdict != VerdictSlower || !ch.Regression || rep.Regressions() != 1 {
		t.Fatalf("10%% regression not flagged: %+v", ch)
	}
	if ch.ChangePct < 9.9 || ch.ChangePct > 10.1 {
		t.Errorf("change %.2f%%, want 10%%", ch.ChangePct)
	}
	// The same change under a 15% threshold is slower but not a failure.
	rep, _ = Compare(old, slow, 15, false)
	if rep.Changes[0].Verdict != VerdictSlower || rep.Regressions() != 0 {
		t.Errorf("threshold 15%%: %+v", rep.Changes[0])
	}
	// And the other way round it is faster.
	rep, _ = Compare(slow, old, 5, false)
	if rep.Changes[0].Verdict != VerdictFaster || rep.Regressions() != 0 {
		t.Errorf("improvement: %+v", rep.Changes[0])
	}
}

func TestCompareIgnoresNoise(t *testing.T) {
	old := resultWith("cpu", baseRuns...)
	noise := resultWith("cpu", 100.2, 99.8, 100.6, 99.4, 100.1) // same distribution, shuffled noise
	rep, err := Compare(old, noise, 5, false)
	if err != nil {
		t.Fatal(err)
	}
	if ch := rep.Changes[0]; ch.Verdict != VerdictNoChange || ch.Regression {
		t.Fatalf("noise flagged: %+v", ch)
	}
	// A large change measured once is not significant: too few samples.
	rep, _ = Compare(resultWith("cpu", 100), resultWith("cpu", 150), 5, false)
	if ch := rep.Changes[0]; ch.Verdict != VerdictNoChange || len(ch.Notes) == 0 {
		t.Fatalf("one run each: %+v", ch)
	}
}

func TestCompareRefusesOtherMachines(t *testing.T) {
	a, b := resultWith("EPYC", baseRuns...), resultWith("Xeon", baseRuns...)
	_, err := Compare(a, b, 5, false)
	if err == nil || !strings.Contains(err.Error(), `CPU model "EPYC" vs "Xeon"`) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("want a refusal naming the difference, got %v", err)
	}
	rep, err := Compare(a, b, 5, true)
	if err != nil || len(rep.Notes) == 0 {
		t.Fatalf("--force: %v %+v", err, rep)
	}
}

func TestCompareMissingEntries(t *testing.T) {
	old := resultWith("cpu", baseRuns...)
	cur := resultWith("cpu", baseRuns...)
	cur.Entries[0].Allocator = "go"
	rep, _ := Compare(old, cur, 5, false)
	if len(rep.Changes) != 2 || rep.Changes[0].Verdict != VerdictMissing || rep.Changes[1].Verdict != VerdictMissing {
		t.Fatalf("%+v", rep.Changes)
	}
	var sb strings.Builder
	if err := WriteCompare(&sb, rep); err != nil || !strings.Contains(sb.String(), "no runs in the new result") {
		t.Fatalf("%v\n%s", err, sb.String())
	}
}
