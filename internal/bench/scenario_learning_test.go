package bench

import (
	"context"
	"fmt"
	"testing"
)

// TestLearningScenario runs the learning scenario on the Go heap: every
// block is freed, every window reported, and the second half draws the big
// sizes.
func TestLearningScenario(t *testing.T) {
	rec := newRecorder(goAlloc{})
	var m meter
	p := Params{Slots: 4, Steps: 1200, Rounds: 300, Seed: 4141}
	raw, err := runLearning(context.Background(), rec, p, &m)
	if err != nil {
		t.Fatal(err)
	}
	if raw.ops != uint64(p.Steps) || len(rec.live) != 0 || len(rec.bad) != 0 {
		t.Fatalf("ops %d, %d live, %v", raw.ops, len(rec.live), rec.bad)
	}
	for i := 0; i < p.Steps/p.Rounds; i++ {
		if raw.extra[windowKey(i)] <= 0 {
			t.Errorf("window %d: no throughput", i)
		}
	}
	if raw.extra["switch_window"] != float64(p.Steps/2/p.Rounds) {
		t.Errorf("switch_window %v", raw.extra["switch_window"])
	}
	for i, n := range rec.sizes {
		big := n >= learnBigMin
		if want := i >= p.Steps/2; big != want {
			t.Fatalf("step %d: size %d", i, n)
		}
	}
}

func windowKey(i int) string { return fmt.Sprintf("window_%02d_ops_per_sec", i) }
