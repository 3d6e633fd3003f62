package learn

import "math"

// Strategies and their ELO ratings, per site. A strategy is a routing
// threshold: the site's requests above it take the large path (own
// mapping, BigCache), the others the pooled classes. Every A/B window pair
// (Machine) is a game between the challenger and the incumbent, won on
// throughput (the composite of CPU time in the allocator, page faults and
// memory breaking ties), rated with the chess expected-score formula. The
// ratings are the leaderboard's: they record what was learned (and are
// saved in policy files); the sign test over the pairs, not the ratings,
// decides what runs.

// AllPooled is the largest routing threshold, the default: every request
// of the small size classes is pooled. It is the engine's largest class
// (maxSmall, which the root package checks against it).
const AllPooled = 1 << 20

// Thresholds are the strategies, in bytes, doubling from 64 KiB to
// AllPooled. Below the smallest every request is pooled whatever the
// threshold (the engine's slow path does not even look it up), and above
// AllPooled every request is large, so the threshold only means something
// in [64 KiB, 1 MiB]. hakmem's 12 candidates from 512 KiB to 32 MiB are
// mostly outside that range here. Doubling gives 5 arms: eight classes per
// power of two lie between two neighbours, finer steps would split traffic
// that behaves alike, and 5 arms x 50 samples are learned within a few
// windows.
var Thresholds = [...]uintptr{64 << 10, 128 << 10, 256 << 10, 512 << 10, AllPooled}

// NumStrategies is the number of threshold arms.
const NumStrategies = len(Thresholds)

// DefaultArm is the threshold arm of the default threshold (AllPooled).
const DefaultArm = NumStrategies - 1

// Strategy is one arm's record. Guarded by its site's lock.
type Strategy struct {
	Threshold           uintptr // routing threshold, bytes (threshold arms)
	Rating              float64 // ELO rating, starts at Settings.InitialRating
	Wins, Losses, Draws uint64  // rated games
	Samples             uint64  // sampled allocations it ran, in all
	EpWindows           int     // rated windows it ran in the current LEARN episode
	Retired             bool    // rejected or pruned in the current episode; not tested again until LEARN restarts
}

// EloExpected is the expected score of a player rated ra against one
// rated rb: 1/(1+10^((rb-ra)/400)). 400 is the scale of the ELO system: a
// 400 point lead expects to score 10 times what the other does.
func EloExpected(ra, rb float64) float64 {
	return 1 / (1 + math.Pow(10, (rb-ra)/400))
}

// EloUpdate returns both new ratings after a game in which a scored sa (1
// win, 0.5 draw, 0 loss) against b.
func EloUpdate(ra, rb, sa, k float64) (float64, float64) {
	ea := EloExpected(ra, rb)
	return ra + k*(sa-ea), rb + k*((1-sa)-(1-ea))
}

// Cost floors of the composite tie-breaker (CompositeScore): a measure
// this small counts as this, so that a baseline of zero faults does not
// make one fault an infinite difference. The floors are one price in three
// units: a per-P pop (CPUFloorNs), the faults that cost as much (a minor
// fault with its page zeroing is about 0.5 us on this project's VMs, 50
// pops: 0.02 per request), and a cache line of memory per request.
const (
	CPUFloorNs   = 10   // ns per request: a per-P pop is a few ns
	FaultsFloor  = 0.02 // faults per request: CPUFloorNs / 500 ns per fault
	MemFloorByte = 64   // bytes per request: below a cache line is noise
)

// CompositeScore is a's share of the composite score against b, in
// [0, 1]: for each measure (lower is better, floored) a's share is
// b/(a+b), and the shares are weighted by the settings. 0.5 is a tie.
func CompositeScore(a, b *Metrics, st *Settings) float64 {
	// Floored (weighMeasures): without the floor, 0.001 faults per request
	// against none would lose the whole faults weight.
	return weighMeasures(a, b, st, 0.5, func(x, y float64) float64 { return y / (x + y) })
}

// weighMeasures is the settings' weighted mean of f over the three
// measures of a and b, each floored first (the cost floors), or none when
// every weight is 0.
func weighMeasures(a, b *Metrics, st *Settings, none float64, f func(x, y float64) float64) float64 {
	w := st.WCPU + st.WFaults + st.WMem
	if w <= 0 {
		return none
	}
	g := func(x, y, floor float64) float64 { return f(max(x, floor), max(y, floor)) }
	return (st.WCPU*g(a.CPUNsPerOp, b.CPUNsPerOp, CPUFloorNs) +
		st.WFaults*g(a.FaultsPerOp, b.FaultsPerOp, FaultsFloor) +
		st.WMem*g(a.MemBytes, b.MemBytes, MemFloorByte)) / w
}

// GameResult turns a composite score into a game result: 1, 0.5 or 0.
func GameResult(score, margin float64) float64 {
	switch {
	case score > 0.5+margin:
		return 1
	case score < 0.5-margin:
		return 0
	}
	return 0.5
}

// Play rates a game between strategies a and b where a scored sa.
func Play(a, b *Strategy, sa, k float64) {
	a.Rating, b.Rating = EloUpdate(a.Rating, b.Rating, sa, k)
	switch sa {
	case 1:
		a.Wins++
		b.Losses++
	case 0:
		a.Losses++
		b.Wins++
	default:
		a.Draws++
		b.Draws++
	}
}

// StrategyIndex is the index of the threshold arm with threshold t, or -1.
func StrategyIndex(t uintptr) int {
	for i, c := range Thresholds {
		if c == t {
			return i
		}
	}
	return -1
}
