package learn

import (
	"math"
	"testing"
)

func TestTVD(t *testing.T) {
	var a, b Hist
	a[0], a[1] = 1, 1
	b[1], b[2] = 5, 5
	// (0.5, 0.5, 0) against (0, 0.5, 0.5): (0.5 + 0 + 0.5)/2 = 0.5.
	if d := TVD(&a, &b); math.Abs(d-0.5) > 1e-12 {
		t.Errorf("tvd = %v, want 0.5", d)
	}
	if d := TVD(&a, &a); d != 0 {
		t.Errorf("TVD(a, a) = %v", d)
	}
	var c Hist
	c[7] = 3
	if d := TVD(&a, &c); d != 1 {
		t.Errorf("disjoint tvd = %v, want 1", d)
	}
	if d := TVD(&a, &Hist{}); d != 0 {
		t.Errorf("tvd with empty = %v, want 0", d)
	}
}
