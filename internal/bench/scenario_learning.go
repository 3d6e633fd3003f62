package bench

import (
	"context"
	"time"
)

// runLearning runs the learning scenario: a workload whose best routing
// strategy changes halfway, for hakmem's learner. One worker (rng
// seed+0) makes Steps steps:
//
//   - first half: allocate a random size in [learnSmallMin, learnSmallMax],
//     touch its ends, free it at once (short-lived blocks under the default
//     threshold: the pooled classes serve them best);
//   - second half: sizes in [learnBigMin, learnBigMax], which jump across
//     the default threshold (1 MiB), each replacing a random one of Slots
//     live blocks (long-lived: a large block held for many steps).
//
// One op per step. Every Window steps (learnWindowOps when 0) it records
// the window's throughput (Series.OpsPerSec); if the allocator learns
// (Learner: hakmem-learning through its site) it then reads the learner's
// state and records the lifecycle transitions since the last window and
// the threshold in force. That read is not timed: the windows' times, the
// halves' times and the run's time (rawRun.seconds) are the sum of the
// steps' time only. Extra reports "first_half_ops_per_sec",
// "second_half_ops_per_sec" and "switch_window" (the first window of the
// second half).
//
// hakmem learns only from a Site's traffic: the runner gives sited
// adapters a fresh site per run (Kind.wantsSite), so every run learns from
// scratch.
func runLearning(ctx context.Context, a Allocator, p Params, m *meter) (rawRun, error) {
	rng := newRNG(p.Seed, 0)
	half := p.Steps / 2
	win := p.Window
	if win <= 0 {
		win = learnWindowOps
	}
	slots := make([][]byte, max(p.Slots, 1))
	ser := &Series{WindowOps: win, SwitchWindow: half / win}
	learner, learns := a.(Learner)
	var seen LearnState // the learner's state at the last poll
	learned := false    // a poll found the site learning
	var halves [2]time.Duration
	var winDur time.Duration
	m.start()
	t0 := time.Now()
	// lap adds the time since t0 to the window and to the half h, and
	// restarts t0.
	lap := func(h int) {
		t1 := time.Now()
		d := t1.Sub(t0)
		halves[h] += d
		winDur += d
		t0 = t1
	}
	steps := 0
	for ; steps < p.Steps; steps++ {
		if steps&1023 == 0 && ctx.Err() != nil {
			break
		}
		if steps == half {
			lap(0)
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
			lap(halfOf(steps, half))
			ser.OpsPerSec = append(ser.OpsPerSec, float64(win)/winDur.Seconds())
			winDur = 0
			if learns {
				w := len(ser.OpsPerSec) - 1
				st, ok := learner.LearnState()
				if ok {
					ser.Transitions = append(ser.Transitions, transitionsSince(seen, st, w)...)
					seen, learned = st, true
				}
				ser.Threshold = append(ser.Threshold, st.Threshold)
				t0 = time.Now() // the poll is not timed
			}
		}
	}
	lap(halfOf(steps-1, half))
	m.stop()
	if !learned {
		ser.Threshold = nil // the allocator could learn but did not (a fixed site, learning not live)
	}
	for i, b := range slots {
		if b != nil {
			a.Free(b)
			slots[i] = nil
		}
	}
	if err := ctx.Err(); err != nil {
		return rawRun{}, err
	}
	extra := map[string]float64{"switch_window": float64(ser.SwitchWindow)}
	if halves[0] > 0 {
		extra["first_half_ops_per_sec"] = float64(min(steps, half)) / halves[0].Seconds()
	}
	if halves[1] > 0 && steps > half {
		extra["second_half_ops_per_sec"] = float64(steps-half) / halves[1].Seconds()
	}
	// The steady state of each half: its last half of windows, where a
	// learner has had time to settle (ops over their summed time).
	nw := half / win
	for h, key := range []string{"first_half_steady_ops_per_sec", "second_half_steady_ops_per_sec"} {
		if v := steadyRate(ser.OpsPerSec, h*nw+nw/2, (h+1)*nw); v > 0 {
			extra[key] = v
		}
	}
	return rawRun{ops: uint64(steps), seconds: (halves[0] + halves[1]).Seconds(), extra: extra, series: ser}, nil
}

// steadyRate is the throughput of windows [from, to) of rates, each of
// the same number of operations: their count over their summed time
// (the harmonic mean); 0 when the range is empty.
func steadyRate(rates []float64, from, to int) float64 {
	to = min(to, len(rates))
	var t float64
	for _, r := range rates[min(from, to):to] {
		if r <= 0 {
			return 0
		}
		t += 1 / r
	}
	if t == 0 {
		return 0
	}
	return float64(to-min(from, to)) / t
}

// halfOf is the half (0 or 1) that step i belongs to.
func halfOf(i, half int) int {
	if i >= half {
		return 1
	}
	return 0
}

// The learning scenario's constants.
const (
	// learnWindowOps is the reporting window, in steps: hakmem's learner
	// window (HAKMEM_LEARN_WINDOW_OPS, 10,000 requests), so each reported
	// figure is about one of its decisions.
	learnWindowOps = 10000
	// First half: 96 .. 400 KiB freed at once, above minLargeThreshold (64
	// KiB, where routing starts to matter): the per-P caches of the pooled
	// classes serve them best, so thresholds of 512 KiB and 1 MiB (the
	// default) win and 64 to 256 KiB send some of them to the large path.
	learnSmallMin = 96 << 10
	learnSmallMax = 400 << 10
	// Second half: 448 .. 544 KiB, long-lived in a ring of Slots blocks:
	// each goes through the page heap when pooled, while on the large path
	// the BigCache hands the block just freed back (sizes within its 25%
	// reuse margin), so thresholds of 64 to 256 KiB win and the default
	// loses: the best strategy changes halfway.
	learnBigMin = 448 << 10
	learnBigMax = 544 << 10
)
