package learn

import "testing"

// TestCapStateDecide: the capacity learner's arithmetic on two synthetic
// classes, no engine: a thrashing class doubles within the budget, a calm
// raised class halves back after CapCalmWindows windows, and a budget too
// small for a doubling refuses it.
func TestCapStateDecide(t *testing.T) {
	cls := []CapClass{{Size: 64, Def: 32, Ceil: 512}, {Size: 4096, Def: 8, Ceil: 128}}
	thrash := []CapInput{{Ops: 10000, Misses: 2000, CapMisses: 2000}, {}}
	var s CapState
	if !s.Decide(thrash, cls, 0.98, 2, 1<<20) || s.Caps[0] != 64 || s.Caps[1] != 8 || s.Raises != 1 {
		t.Fatalf("thrash: caps %v, raises %d", s.Caps, s.Raises)
	}
	if got := s.Extra(0, cls, 2); got != 32*64*2 {
		t.Fatalf("extra = %d, want %d", got, 32*64*2)
	}
	calm := []CapInput{{Ops: 10000}, {}}
	for i := 1; i < CapCalmWindows; i++ {
		if s.Decide(calm, cls, 0.98, 2, 1<<20) {
			t.Fatalf("calm window %d changed caps %v", i, s.Caps)
		}
	}
	if !s.Decide(calm, cls, 0.98, 2, 1<<20) || s.Caps[0] != 32 || s.Lowers != 1 || !s.Probed[0] {
		t.Fatalf("after %d calm windows: caps %v, lowers %d", CapCalmWindows, s.Caps, s.Lowers)
	}
	var tight CapState
	if tight.Decide(thrash, cls, 0.98, 2, 32*64*2-1) || tight.Caps[0] != 32 {
		t.Fatalf("a budget one byte short of the doubling: caps %v", tight.Caps)
	}
}
