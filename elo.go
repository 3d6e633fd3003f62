package hakmem

import "math"

// Strategies and their ELO ratings, per site. A strategy is a routing
// threshold: the site's requests above it take the large path (own
// mapping, BigCache), the others the pooled classes. Every A/B window pair
// (lifecycle.go) is a game between the challenger and the incumbent, won
// on throughput (the composite of CPU time in the allocator, page faults
// and memory breaking ties), rated with the chess expected-score formula.
// The ratings are the leaderboard's: they record what was learned (and are
// saved in policy files); the sign test over the pairs, not the ratings,
// decides what runs.

// thresholdCandidates are the strategies, in bytes, doubling from 64 KiB to
// 1 MiB. Below minLargeThreshold every request is pooled whatever the
// threshold (the slow path does not even look it up), and above maxSmall
// every request is large, so the threshold only means something in
// [64 KiB, 1 MiB]; 1 MiB is "all pooled" (the default). hakmem's 12
// candidates from 512 KiB to 32 MiB are mostly outside that range here.
// Doubling gives 5 arms: eight classes per power of two lie between two
// neighbours, finer steps would split traffic that behaves alike, and 5
// arms x 50 samples are learned within a few windows.
var thresholdCandidates = [...]uintptr{64 << 10, 128 << 10, 256 << 10, 512 << 10, maxSmall}

// numStrategies is the number of candidates.
const numStrategies = len(thresholdCandidates)

// strategy is one candidate's record. Guarded by its siteLearn's mu.
type strategy struct {
	threshold           uintptr // routing threshold, bytes
	rating              float64 // ELO rating, starts at learnSettings.initialRating
	wins, losses, draws uint64  // rated games
	samples             uint64  // sampled allocations it ran, in all
	epWindows           int     // rated windows it ran in the current LEARN episode
	retired             bool    // rejected or pruned in the current episode (lifecycle.go); not tested again until LEARN restarts
}

// eloExpected is the expected score of a player rated ra against one rated
// rb: 1/(1+10^((rb-ra)/400)). 400 is the scale of the ELO system: a 400
// point lead expects to score 10 times what the other does.
func eloExpected(ra, rb float64) float64 {
	return 1 / (1 + math.Pow(10, (rb-ra)/400))
}

// eloUpdate returns both new ratings after a game in which a scored sa (1
// win, 0.5 draw, 0 loss) against b.
func eloUpdate(ra, rb, sa, k float64) (float64, float64) {
	ea := eloExpected(ra, rb)
	return ra + k*(sa-ea), rb + k*((1-sa)-(1-ea))
}

// compositeScore is a's share of the composite score against b, in [0, 1]:
// for each measure (lower is better, floored as in costOf) a's share is
// b/(a+b), and the shares are weighted by the settings. 0.5 is a tie.
func compositeScore(a, b *windowMetrics, st *learnSettings) float64 {
	// Floored (weighMeasures): without the floor, 0.001 faults per request
	// against none would lose the whole faults weight.
	return weighMeasures(a, b, st, 0.5, func(x, y float64) float64 { return y / (x + y) })
}

// weighMeasures is the settings' weighted mean of f over the three
// measures of a and b, each floored first (the cost floors, lifecycle.go),
// or none when every weight is 0. compositeScore and costOf are it with
// their own f.
func weighMeasures(a, b *windowMetrics, st *learnSettings, none float64, f func(x, y float64) float64) float64 {
	w := st.wCPU + st.wFaults + st.wMem
	if w <= 0 {
		return none
	}
	g := func(x, y, floor float64) float64 { return f(max(x, floor), max(y, floor)) }
	return (st.wCPU*g(a.cpuNsPerOp, b.cpuNsPerOp, cpuFloorNs) +
		st.wFaults*g(a.faultsPerOp, b.faultsPerOp, faultsFloor) +
		st.wMem*g(a.memBytes, b.memBytes, memFloorByte)) / w
}

// gameResult turns a composite score into a game result: 1, 0.5 or 0.
func gameResult(score, margin float64) float64 {
	switch {
	case score > 0.5+margin:
		return 1
	case score < 0.5-margin:
		return 0
	}
	return 0.5
}

// play rates a game between strategies a and b where a scored sa.
func play(a, b *strategy, sa, k float64) {
	a.rating, b.rating = eloUpdate(a.rating, b.rating, sa, k)
	switch sa {
	case 1:
		a.wins++
		b.losses++
	case 0:
		a.losses++
		b.wins++
	default:
		a.draws++
		b.draws++
	}
}

// strategyIndex is the index of the candidate with threshold t, or -1.
func strategyIndex(t uintptr) int {
	for i, c := range thresholdCandidates {
		if c == t {
			return i
		}
	}
	return -1
}
