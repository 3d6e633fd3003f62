package bench

import (
	"context"
	"fmt"
	"time"
)

// runLearning runs the learning scenario: a workload whose best routing
// strategy changes halfway, for hakmem's learner (issue 6). One worker (rng
// seed+0) makes Steps steps:
//
//   - first half: allocate a random size in [learnSmallMin, learnSmallMax],
//     touch its ends, free it at once (short-lived blocks under the default
//     threshold: the pooled classes serve them best);
//   - second half: sizes in [learnBigMin, learnBigMax], which jump across
//     the default threshold (1 MiB), each replacing a random one of Slots
//     live blocks (long-lived: a large block held for many steps).
//
// One op per step. Extra reports the throughput of every window of Rounds
// steps (learnWindowOps when Rounds is 0) ("window_00_ops_per_sec", ...) so that a learner's
// adaptation after the switch shows as a dip and a recovery, and
// "switch_window", the first window of the second half.
//
// Not registered yet: the lead adds KindLearning to the Kind constants,
// a {Name: "learning", Kind: KindLearning, Params: Params{Slots: 64,
// Steps: 200000, Seed: defaultSeed}} entry to the scenario table, a case in
// Kind.run and EstimateSeconds, and the spec to docs/SCENARIOS.md. Learning
// only sees the traffic if the hakmem adapter allocates through a Site.
func runLearning(ctx context.Context, a Allocator, p Params, m *meter) (rawRun, error) {
	rng := newRNG(p.Seed, 0)
	half := p.Steps / 2
	win := p.Rounds
	if win <= 0 {
		win = learnWindowOps
	}
	slots := make([][]byte, max(p.Slots, 1))
	var winRates []float64
	m.start()
	t0 := time.Now()
	steps := 0
	for ; steps < p.Steps; steps++ {
		if steps&1023 == 0 && ctx.Err() != nil {
			break
		}
		if steps < half {
			b := a.Alloc(learnSmallMin + rng.intn(learnSmallMax-learnSmallMin+1))
			touchEnds(b)
			a.Free(b)
		} else {
			v := rng.intn(len(slots))
			if slots[v] != nil {
				a.Free(slots[v])
			}
			slots[v] = a.Alloc(learnBigMin + rng.intn(learnBigMax-learnBigMin+1))
			touchEnds(slots[v])
		}
		if (steps+1)%win == 0 {
			t1 := time.Now()
			winRates = append(winRates, float64(win)/t1.Sub(t0).Seconds())
			t0 = t1
		}
	}
	m.stop()
	for i, b := range slots {
		if b != nil {
			a.Free(b)
			slots[i] = nil
		}
	}
	if err := ctx.Err(); err != nil {
		return rawRun{}, err
	}
	extra := map[string]float64{"switch_window": float64(half / win)}
	for i, r := range winRates {
		extra[fmt.Sprintf("window_%02d_ops_per_sec", i)] = r
	}
	return rawRun{ops: uint64(steps), extra: extra}, nil
}

// The learning scenario's constants.
const (
	// learnWindowOps is the reporting window, in steps: hakmem's learner
	// window (10,000 operations), so each reported figure is one of its
	// decisions.
	learnWindowOps = 10000
	// First half: 96 .. 256 KiB, above minLargeThreshold (64 KiB, where
	// routing starts to matter) and well under the default threshold.
	learnSmallMin = 96 << 10
	learnSmallMax = 256 << 10
	// Second half: 768 KiB .. 1.5 MiB, straddling the default threshold
	// (1 MiB), so a learned threshold decides where most of them go.
	learnBigMin = 768 << 10
	learnBigMax = 1536 << 10
)
