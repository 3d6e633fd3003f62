package bench

import "testing"

// The checksums of the shared op-sequence spec at seed 4141, cross-checked
// against an independent C implementation of the spec (the native harness
// must print the same values).
const (
	wantLarsonChecksum  = 0xa096e7f9b489ec7d // larson 8..1000 B, 5000 chunks
	wantRandomMixed400  = 0xbec64ae87e246569 // random-mixed, 400 slots
	wantRandomMixed8192 = 0x35d51a40458a4006 // random-mixed, 8192 slots
)

// TestSplitmix checks the generator against the published test vector of
// splitmix64 (seed 1234567, from Vigna's reference splitmix64.c).
func TestSplitmix(t *testing.T) {
	want := []uint64{6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431, 16408922859458223821}
	r := newRNG(1234567, 0)
	for i, w := range want {
		if got := r.next(); got != w {
			t.Fatalf("output %d = %d, want %d", i, got, w)
		}
	}
	// Worker w starts from seed+w.
	a, b := newRNG(10, 1), newRNG(11, 0)
	if a.next() != b.next() {
		t.Fatal("worker 1 of seed 10 differs from worker 0 of seed 11")
	}
}

// TestChecksumStopsAt10000 checks that only the first checksumOps ops count.
func TestChecksumStopsAt10000(t *testing.T) {
	c := newOpChecksum()
	for i := 0; i < checksumOps; i++ {
		c.add(i, i)
	}
	before := c.sum()
	c.add(1, 2)
	if c.sum() != before {
		t.Fatal("op 10001 changed the checksum")
	}
}

func TestPinnedChecksums(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		want     uint64
	}{
		{"larson", wantLarsonChecksum},
		{"random-mixed-400", wantRandomMixed400},
		{"random-mixed-8192", wantRandomMixed8192},
	} {
		sc, err := LookupScenario(tc.scenario)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := ExpectedChecksum(sc.Kind, sc.Params)
		if !ok || got != tc.want {
			t.Errorf("%s: checksum %#x (ok %v), want %#x", tc.scenario, got, ok, tc.want)
		}
	}
}
