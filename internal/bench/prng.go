package bench

// splitmix64 is the generator the shared op-sequence spec prescribes
// (docs/SCENARIOS.md, "PRNG"): the C harness uses the same one, so that both
// sides draw the same sizes and victims from the same seed.
type splitmix64 struct {
	state uint64 // advanced by the golden-ratio increment on every draw
}

// Constants of splitmix64 (Steele, Lea, Flood 2014), as in the spec.
const (
	splitmixGamma = 0x9e3779b97f4a7c15 // state increment: 2^64 / golden ratio, odd
	splitmixMul1  = 0xbf58476d1ce4e5b9 // first finaliser multiplier
	splitmixMul2  = 0x94d049bb133111eb // second finaliser multiplier
)

// newRNG returns the generator of one worker: state = seed + worker index.
func newRNG(seed uint64, worker int) splitmix64 {
	return splitmix64{state: seed + uint64(worker)}
}

// next returns the next 64 random bits.
func (r *splitmix64) next() uint64 {
	r.state += splitmixGamma
	z := r.state
	z = (z ^ (z >> 30)) * splitmixMul1
	z = (z ^ (z >> 27)) * splitmixMul2
	return z ^ (z >> 31)
}

// intn returns next() % n. The modulo bias is accepted by the spec: both the
// Go and the C side draw the same way.
func (r *splitmix64) intn(n int) int {
	return int(r.next() % uint64(n))
}
