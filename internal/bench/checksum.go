package bench

import "encoding/binary"

// The checksum ties the Go scenarios to the native C harness: both feed the
// first checksumOps operations drawn by worker 0 into FNV-1a 64, each as the
// 16 little-endian bytes of (slot, size). See docs/SCENARIOS.md, "Checksum".
const (
	checksumOps = 10000                // operations covered: fill first, then steps
	fnvOffset   = 14695981039346656037 // FNV-1a 64 offset basis
	fnvPrime    = 1099511628211        // FNV-1a 64 prime
)

// opChecksum accumulates the checksum of the first checksumOps operations.
// The zero value is not ready: use newOpChecksum.
type opChecksum struct {
	h uint64 // FNV-1a state
	n int    // operations fed so far, stops growing at checksumOps
}

func newOpChecksum() opChecksum { return opChecksum{h: fnvOffset} }

// add feeds one operation; it ignores everything past the first checksumOps.
func (c *opChecksum) add(slot, size int) {
	if c.n >= checksumOps {
		return
	}
	c.n++
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:8], uint64(slot))
	binary.LittleEndian.PutUint64(b[8:16], uint64(size))
	h := c.h
	for _, x := range b {
		h ^= uint64(x)
		h *= fnvPrime
	}
	c.h = h
}

// sum returns the checksum so far.
func (c *opChecksum) sum() uint64 { return c.h }

// SlotChecksum computes, from the PRNG alone (no allocation), the checksum of
// a slot workload: slots fill operations (slot = i), then replacement steps
// (victim = rand(slots)), each with size = min + rand(max-min+1), drawn by
// worker 0 from seed. larson and random-mixed both have this shape.
func SlotChecksum(seed uint64, slots, minSize, maxSize int) uint64 {
	rng := newRNG(seed, 0)
	c := newOpChecksum()
	span := maxSize - minSize + 1
	for i := 0; i < slots && c.n < checksumOps; i++ {
		c.add(i, minSize+rng.intn(span))
	}
	for c.n < checksumOps {
		victim := rng.intn(slots)
		c.add(victim, minSize+rng.intn(span))
	}
	return c.sum()
}

// ExpectedChecksum returns the checksum a scenario's run must report with the
// given parameters, and false for scenarios that draw nothing from the PRNG.
func ExpectedChecksum(kind Kind, p Params) (uint64, bool) {
	switch kind {
	case KindLarson:
		return SlotChecksum(p.Seed, p.Chunks, p.MinSize, p.MaxSize), true
	case KindRandomMixed:
		return SlotChecksum(p.Seed, p.Slots, p.MinSize, p.MaxSize), true
	}
	return 0, false
}
