package learn

import "slices"

// The capacity learner's decisions: per size class, the per-P cap. The
// engine measures (per P and class, the refills and flushes its slow paths
// count) and applies the caps; what follows is the arithmetic of one
// window, as the engine's learn_cap.go describes it:
//   - capacity hit rate 1 - CapMisses/Ops below the target, with at least
//     CapMinOps operations: double the cap, up to the class's ceiling, if
//     the budget has room for the new cap on every P; the classes missing
//     most go first;
//   - capacity misses under 1/CapCalmDiv of the allowed rate (or fewer than
//     CapMinOps operations) for a run of calm windows: halve the cap, down
//     to the generated one. The run starts at CapCalmWindows; a halving
//     that brought the misses back (a raise in the next window) doubles
//     it, up to CapCalmMax, and one that held resets it;
//   - over budget: halve the classes that reserve the most bytes first
//     until it fits.

const (
	// CapMinOps: a class with fewer operations in a window (at least 50 ms,
	// so under 20,000 a second) is not raised: even if every operation
	// missed, ~150 ns a trip, it would cost the program under 0.3% of a CPU.
	CapMinOps = 1000
	// CapCalmWindows calm windows in a row let a raised cap halve (0.8 s
	// at 100 ms), so a pause in a phased program does not undo its caps.
	CapCalmWindows = 8
	// CapCalmMax bounds the backoff after failed halvings: one window of
	// thrash in 256 (25.6 s) costs under 0.4% of the class's time.
	CapCalmMax = 256
	// CapCalmDiv: a window is calm when its capacity miss rate is under a
	// quarter of the allowed rate (1 - target): comfortably above target,
	// with room for noise before a halving would be undone.
	CapCalmDiv = 4
)

// CapClass is one size class as the capacity learner sees it.
type CapClass struct {
	Size uint64 // block size, bytes
	Def  uint32 // the generated per-P cap, scaled, blocks
	Ceil uint32 // the most the learner gives it, blocks
}

// CapInput is one class's evidence for one window, summed over the Ps.
type CapInput struct {
	Ops       uint64 // allocations and frees through the per-P lists
	Misses    uint64 // refills and flushes
	CapMisses uint64 // 2 x min(refills, flushes) of each P: the misses a bigger cap would have saved
}

// CapState is the capacity learner's decision state, one entry per class.
type CapState struct {
	Caps   []uint32 // decided cap, blocks
	Calm   []int    // calm windows in a row
	Need   []int    // calm windows a halving needs now (CapCalmWindows .. CapCalmMax)
	Probed []bool   // the last decision halved the cap: a raise now means the probe failed
	Init   bool     // Caps and Need hold the generated values
	Raises uint64   // caps doubled, since start
	Lowers uint64   // caps halved (calm or over budget; not the engine's resets)
}

// Setup gives every class its generated cap, once.
func (s *CapState) Setup(cls []CapClass) {
	if s.Init {
		return
	}
	n := len(cls)
	s.Caps, s.Calm, s.Need, s.Probed = make([]uint32, n), make([]int, n), make([]int, n), make([]bool, n)
	for c := range cls {
		s.Caps[c] = cls[c].Def
		s.Need[c] = CapCalmWindows
	}
	s.Init = true
}

// Extra is what class c's cap above the generated one reserves, worst
// case, on nP Ps, in bytes.
func (s *CapState) Extra(c int, cls []CapClass, nP int) uint64 {
	return uint64(s.Caps[c]-min(s.Caps[c], cls[c].Def)) * cls[c].Size * uint64(nP)
}

// Decide applies one window's inputs (one per class) and reports whether
// any cap changed. target is the capacity hit rate to reach (0 .. 1);
// budget is in bytes; nP is the number of Ps.
func (s *CapState) Decide(in []CapInput, cls []CapClass, target float64, nP int, budget uint64) bool {
	s.Setup(cls)
	changed := false
	var total uint64
	for c := range s.Caps {
		total += s.Extra(c, cls, nP)
	}
	// Over budget: halve the classes reserving the most, largest first.
	for total > budget {
		big := -1
		for c := range s.Caps {
			if s.Extra(c, cls, nP) > 0 && (big < 0 || s.Extra(c, cls, nP) > s.Extra(big, cls, nP)) {
				big = c
			}
		}
		if big < 0 {
			break
		}
		total -= s.Extra(big, cls, nP)
		s.Caps[big] = max(s.Caps[big]/2, cls[big].Def)
		total += s.Extra(big, cls, nP)
		s.Calm[big], s.Probed[big] = 0, false
		s.Lowers++
		changed = true
	}
	allowed := 1 - target
	var raise []int
	for c := range s.Caps {
		x := &in[c]
		var rate float64
		if x.Ops > 0 {
			rate = float64(x.CapMisses) / float64(x.Ops)
		}
		switch {
		case x.Ops >= CapMinOps && rate > allowed:
			s.Calm[c] = 0
			if s.Probed[c] { // the halving brought the misses back
				s.Need[c] = min(2*s.Need[c], CapCalmMax)
			}
			s.Probed[c] = false
			if s.Caps[c] < cls[c].Ceil {
				raise = append(raise, c)
			}
		case x.Ops < CapMinOps || rate*CapCalmDiv <= allowed:
			s.Calm[c]++
			if s.Probed[c] && s.Calm[c] >= s.Need[c] { // the halving held
				s.Need[c], s.Probed[c] = CapCalmWindows, false
			}
			def := cls[c].Def
			if s.Caps[c] > def && s.Calm[c] >= s.Need[c] {
				total -= s.Extra(c, cls, nP)
				s.Caps[c] = max(s.Caps[c]/2, def)
				total += s.Extra(c, cls, nP)
				s.Calm[c], s.Probed[c] = 0, true
				s.Lowers++
				changed = true
			}
		default:
			s.Calm[c] = 0
		}
	}
	// The classes missing most first; each raise must fit the budget.
	rate := func(c int) float64 { return float64(in[c].CapMisses) / float64(in[c].Ops) }
	slices.SortStableFunc(raise, func(a, b int) int {
		switch ra, rb := rate(a), rate(b); {
		case ra > rb:
			return -1
		case ra < rb:
			return 1
		}
		return 0
	})
	for _, c := range raise {
		old := s.Caps[c]
		s.Caps[c] = min(2*old, cls[c].Ceil)
		grown := uint64(s.Caps[c]-old) * cls[c].Size * uint64(nP)
		if total+grown > budget {
			s.Caps[c] = old
			continue
		}
		total += grown
		s.Raises++
		changed = true
	}
	return changed
}
