package native

import (
	"fmt"
	"strconv"
)

// The Go reference of the spec's PRNG, draw order and checksum, used to check
// that the C harness (and any Go scenario) draws the same operations.

// checksumOps is how many operations of worker 0 the checksum covers.
const checksumOps = 10000

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// splitmix64 is the spec's PRNG; the state starts at seed + worker index.
type splitmix64 uint64

func (s *splitmix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// below is the spec's rand(n): next() % n, modulo bias accepted.
func (s *splitmix64) below(n uint64) uint64 { return s.next() % n }

// fnvOp feeds the 16 bytes little-endian of (slot, size) to FNV-1a 64.
func fnvOp(h, slot, size uint64) uint64 {
	for i := 0; i < 8; i++ {
		h ^= (slot >> (8 * i)) & 0xff
		h *= fnvPrime
	}
	for i := 0; i < 8; i++ {
		h ^= (size >> (8 * i)) & 0xff
		h *= fnvPrime
	}
	return h
}

// Sizes of the page scenarios and of random-mixed (spec).
const (
	jsonSize = 65536
	mirSize  = 262144
	vmSize   = 2097152

	rmMin  = 16   // random-mixed sizes are 16 + rand(1009): 16..1024
	rmSpan = 1009 //
)

// GoChecksum computes in Go what `hakmem-native checksum` computes in C: the
// FNV-1a 64 checksum of (slot, size) of the first 10,000 operations drawn by
// worker 0, fill first. params take the harness's keys and defaults (min=8,
// max=1000, chunks=5000, seed=4141, slots=400); keys that do not change the
// draws (seconds, rounds, threads, steps) are accepted and ignored.
//
// json, mir, vm and mixed draw nothing; for them (an extension of the spec,
// the same in C) each op is fed as (slot 0, size), in order, so the checksum
// still tells whether two sides run the same op sequence.
func GoChecksum(scenario string, params map[string]string) (uint64, error) {
	p := map[string]uint64{"min": 8, "max": 1000, "chunks": 5000, "seed": 4141, "slots": 400}
	for k, v := range params {
		switch k {
		case "min", "max", "chunks", "seed", "slots", "rounds", "threads", "steps":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("native: %s=%s: not a non-negative integer", k, v)
			}
			p[k] = n
		case "seconds":
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return 0, fmt.Errorf("native: seconds=%s: not a number", v)
			}
		default:
			return 0, fmt.Errorf("native: unknown key %s", k)
		}
	}
	switch scenario {
	case "random-mixed-400":
		p["slots"], scenario = 400, "random-mixed"
	case "random-mixed-8192":
		p["slots"], scenario = 8192, "random-mixed"
	}

	h := uint64(fnvOffset)
	switch scenario {
	case "larson":
		if p["min"] < 1 || p["max"] < p["min"] || p["chunks"] < 1 {
			return 0, fmt.Errorf("native: want 1 <= min <= max and chunks >= 1")
		}
		return drawChecksum(p["seed"], p["chunks"], p["min"], p["max"]-p["min"]+1), nil
	case "random-mixed":
		if p["slots"] < 1 {
			return 0, fmt.Errorf("native: want slots >= 1")
		}
		return drawChecksum(p["seed"], p["slots"], rmMin, rmSpan), nil
	case "json":
		for i := 0; i < 1000; i++ {
			h = fnvOp(h, 0, jsonSize)
		}
	case "mir":
		for i := 0; i < 100; i++ {
			h = fnvOp(h, 0, mirSize)
		}
	case "vm":
		for i := 0; i < 10; i++ {
			h = fnvOp(h, 0, vmSize)
		}
	case "mixed":
		for i := 0; i < 1000; i++ { // 1110 ops: under checksumOps
			h = fnvOp(h, 0, jsonSize)
			if i%10 == 0 {
				h = fnvOp(h, 0, mirSize)
			}
			if i%100 == 0 {
				h = fnvOp(h, 0, vmSize)
			}
		}
	default:
		return 0, fmt.Errorf("native: unknown scenario %q", scenario)
	}
	return h, nil
}

// drawChecksum: worker 0 (rng seeded seed+0) fills n slots with sizes
// min + rand(span), then steps: victim = rand(n), size = min + rand(span).
func drawChecksum(seed, n, min, span uint64) uint64 {
	rng := splitmix64(seed)
	h := uint64(fnvOffset)
	ops := uint64(0)
	for i := uint64(0); i < n && ops < checksumOps; i, ops = i+1, ops+1 {
		h = fnvOp(h, i, min+rng.below(span))
	}
	for ; ops < checksumOps; ops++ {
		victim := rng.below(n)
		size := min + rng.below(span)
		h = fnvOp(h, victim, size)
	}
	return h
}
