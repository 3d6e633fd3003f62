package learn

import (
	"math"
	"testing"
)

// TestSignTestRule: the sign test's p-values against hand-computed ones,
// the verdicts at the edges, and the rule's error rates over all its looks
// (the figures Settings.Confidence states): a challenger no better
// than the incumbent (wins a pair with probability 1/2) is adopted with
// probability 0.049; one that wins 9 pairs in 10 with 0.92.
func TestSignTestRule(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-4 }
	for _, c := range []struct {
		k, n int
		p    float64
	}{{7, 7, 1.0 / 128}, {5, 5, 1.0 / 32}, {10, 12, 79.0 / 4096}, {9, 12, 299.0 / 4096}, {0, 3, 1}, {3, 3, 0.125}} {
		if got := SignP(c.k, c.n); !near(got, c.p) {
			t.Errorf("SignP(%d, %d) = %v, want %v", c.k, c.n, got, c.p)
		}
	}
	st := Defaults()
	for _, c := range []struct {
		wins, n int
		med     float64
		want    int
	}{
		{6, 6, 1.5, VerdictNone},   // 6 of 6 would do (p 0.016) but adoption waits for minPairs
		{7, 7, 1.5, VerdictAdopt},  // p 0.008
		{7, 7, 0.97, VerdictNone},  // significant, but the median is worse than 1 - drawMargin
		{6, 7, 1.5, VerdictNone},   // p 0.06; 10 of 12 still possible
		{5, 7, 1.5, VerdictNone},   // 10 of 12 still possible
		{4, 7, 1.5, VerdictReject}, // 9 of 12 at best: p 0.07
		{0, 3, 0.5, VerdictReject}, // three pairs not won
		{1, 3, 0.5, VerdictNone},
		{10, 12, 1.2, VerdictAdopt},
		{9, 12, 1.2, VerdictReject},
	} {
		if got := TestVerdict(c.wins, c.n, c.med, &st); got != c.want {
			t.Errorf("TestVerdict(%d of %d, median %.2f) = %d, want %d", c.wins, c.n, c.med, got, c.want)
		}
	}
	// The rule's adoption probability, over every sequence of pair
	// outcomes, for a challenger that wins a pair with probability q.
	adopt := func(q float64) float64 {
		var walk func(wins, n int, pr float64) float64
		walk = func(wins, n int, pr float64) float64 {
			sum := 0.0
			for _, w := range []int{1, 0} {
				p := pr * q
				if w == 0 {
					p = pr * (1 - q)
				}
				switch TestVerdict(wins+w, n+1, 1.5, &st) {
				case VerdictAdopt:
					sum += p
				case VerdictNone:
					sum += walk(wins+w, n+1, p)
				}
			}
			return sum
		}
		return walk(0, 0, 1)
	}
	if a := adopt(0.5); a > 0.05 || !near(a, 0.0488) {
		t.Errorf("no better challenger adopted with probability %.4f, want 0.0488 (<= 1 - confidence)", a)
	}
	if a := adopt(0.9); a < 0.9 {
		t.Errorf("a challenger winning 9 pairs in 10 adopted with probability %.4f, want >= 0.9", a)
	}
	if a := adopt(0.2); a > 0.001 {
		t.Errorf("a challenger winning 1 pair in 5 adopted with probability %.4f", a)
	}
}

// token is a Token for one site alone.
type token struct{ held bool }

func (k *token) Acquire() bool { k.held = true; return true }
func (k *token) Release()      { k.held = false }
func (k *token) Busy() bool    { return false }

// TestMachineStep drives one machine with windows alone, no engine: every
// request is 300 KiB, so the thresholds split into two routings; the
// challenger (256 KiB, the largest of the other routing) runs at half the
// incumbent's throughput, loses three pairs, is rejected, and the site
// freezes on the default.
func TestMachineStep(t *testing.T) {
	var z Sizes
	for b := range NumBuckets - 1 {
		z[b] = uintptr(b+1) * 16 << 10 // bucket 18: 304 KiB
	}
	st := Defaults()
	st.MinLearnNs = 0
	var sm Machine
	sm.Sizes, sm.Tok = &z, &token{}
	sm.Init(AllPooled, 0, &st)
	if sm.Cur != DefaultArm || sm.State != StateLearn {
		t.Fatalf("start: arm %d, %v", sm.Cur, sm.State)
	}
	window := func(tput float64) Metrics {
		m := Metrics{SiteOps: 100, Tput: tput, Samples: 10, Draws: 10}
		m.Hist[18] = 10
		return m
	}
	var d Decision
	for i := 1; i <= 8; i++ {
		tput := 100.0
		if sm.Cur != sm.Best {
			tput = 50 // the challenger's window
		}
		m := window(tput)
		d = sm.Step(&m, int64(i), &st)
		if !d.Rated {
			t.Fatalf("window %d not rated", i)
		}
		if i == 2 && (d.Cur != 2 || !d.Switched || !sm.Test.On) {
			t.Fatalf("window 2: want the 256 KiB challenger's test, got arm %d (switched %v, test %v)", d.Cur, d.Switched, sm.Test.On)
		}
	}
	if sm.State != StateFrozen || sm.Best != DefaultArm || d.Cur != DefaultArm || !sm.Strats[2].Retired {
		t.Fatalf("after three lost pairs: %v on arm %d (decision %d), 256 KiB retired %v", sm.State, sm.Best, d.Cur, sm.Strats[2].Retired)
	}
	if len(d.Events) != 1 || d.Events[0].Tr != TrLearnFrozen || sm.Transitions[TrLearnFrozen] != 1 {
		t.Fatalf("events %+v, transitions %v", d.Events, sm.Transitions)
	}
	if sm.Strats[2].Losses != 3 || sm.Strats[DefaultArm].Wins != 3 {
		t.Fatalf("games: challenger %+v, incumbent %+v", sm.Strats[2], sm.Strats[DefaultArm])
	}
	unrated := Metrics{SiteOps: 1, Tput: 1}
	if d := sm.Step(&unrated, 9, &st); d.Rated || d.Switched {
		t.Fatalf("a window of one request: %+v", d)
	}
}
