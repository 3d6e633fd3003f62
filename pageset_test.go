package hakmem

import (
	"math/rand/v2"
	"testing"
)

// TestPageSetRandom checks the word-level pageSet operations against a bool
// array, on random runs.
func TestPageSetRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 2000; iter++ {
		var ps pageSet
		var ref [pagesPerSegment]bool
		for k := r.IntN(8); k >= 0; k-- {
			first := r.IntN(pagesPerSegment)
			n := 1 + r.IntN(pagesPerSegment-first)
			on := r.IntN(3) != 0
			ps.set(first, n, on)
			for i := first; i < first+n; i++ {
				ref[i] = on
			}
		}
		best, run, empty := 0, 0, true
		for i, v := range ref {
			if ps.get(i) != v {
				t.Fatalf("page %d: got %v want %v", i, ps.get(i), v)
			}
			if v {
				run, empty = 0, false
			} else {
				run++
				best = max(best, run)
			}
		}
		if ps.longestFreeRun() != best || ps.empty() != empty {
			t.Fatalf("longest free run %d want %d, empty %v want %v", ps.longestFreeRun(), best, ps.empty(), empty)
		}
		if best > 0 {
			n := 1 + r.IntN(best)
			f := ps.firstFreeRun(n)
			for i := f; i < f+n; i++ {
				if ref[i] {
					t.Fatalf("firstFreeRun(%d) = %d covers used page %d", n, f, i)
				}
			}
		}
	}
}
