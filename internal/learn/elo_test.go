package learn

import (
	"math"
	"testing"
)

func TestELOArithmetic(t *testing.T) {
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	// Equal ratings: E = 1/(1+10^0) = 0.5; a win moves both by 32*0.5 = 16.
	if e := EloExpected(1500, 1500); e != 0.5 {
		t.Errorf("E(1500,1500) = %v, want 0.5", e)
	}
	if a, b := EloUpdate(1500, 1500, 1, 32); a != 1516 || b != 1484 {
		t.Errorf("win at 1500/1500: %v %v, want 1516 1484", a, b)
	}
	// 1600 against 1400: E = 1/(1+10^(-200/400)) = 1/(1+0.316227766) =
	// 0.759746926647958. A loss: 1600 - 32*0.759746926647958 =
	// 1575.688098347265; 1400 + 24.311901652735 = 1424.311901652735.
	if e := EloExpected(1600, 1400); !near(e, 0.759746926647958) {
		t.Errorf("E(1600,1400) = %.15f", e)
	}
	if a, b := EloUpdate(1600, 1400, 0, 32); !near(a, 1575.688098347265) || !near(b, 1424.311901652735) {
		t.Errorf("loss at 1600/1400: %.12f %.12f", a, b)
	}
	// A draw: 1600 + 32*(0.5-0.759746926647958) = 1591.688098347265.
	if a, b := EloUpdate(1600, 1400, 0.5, 32); !near(a, 1591.688098347265) || !near(b, 1408.311901652735) {
		t.Errorf("draw at 1600/1400: %.12f %.12f", a, b)
	}
	// The sum of the ratings is conserved.
	if a, b := EloUpdate(1437, 1712, 1, 32); !near(a+b, 1437+1712) {
		t.Errorf("ratings not conserved: %v + %v", a, b)
	}
	var x, y Strategy
	x.Rating, y.Rating = 1500, 1500
	Play(&x, &y, 1, 32)
	Play(&x, &y, 0.5, 32)
	if x.Wins != 1 || y.Losses != 1 || x.Draws != 1 || y.Draws != 1 {
		t.Errorf("counts: %+v %+v", x, y)
	}
}

func TestCompositeScore(t *testing.T) {
	st := Defaults()
	// CPU 100 vs 300: share 300/400 = 0.75; faults 0 vs 0: 0.5; memory 50
	// vs 50: 0.5. 0.4*0.75 + 0.3*0.5 + 0.3*0.5 = 0.6.
	a := Metrics{CPUNsPerOp: 100, MemBytes: 50}
	b := Metrics{CPUNsPerOp: 300, MemBytes: 50}
	if s := CompositeScore(&a, &b, &st); math.Abs(s-0.6) > 1e-12 {
		t.Errorf("score = %v, want 0.6", s)
	}
	// Faults 1 vs 3 (share 0.75), the rest equal: 0.4*0.5 + 0.3*0.75 + 0.3*0.5 = 0.575.
	a, b = Metrics{CPUNsPerOp: 1, FaultsPerOp: 1, MemBytes: 1}, Metrics{CPUNsPerOp: 1, FaultsPerOp: 3, MemBytes: 1}
	if s := CompositeScore(&a, &b, &st); math.Abs(s-0.575) > 1e-12 {
		t.Errorf("score = %v, want 0.575", s)
	}
	for _, c := range []struct{ score, want float64 }{{0.6, 1}, {0.4, 0}, {0.51, 0.5}, {0.49, 0.5}} {
		if g := GameResult(c.score, 0.02); g != c.want {
			t.Errorf("GameResult(%v) = %v, want %v", c.score, g, c.want)
		}
	}
}
