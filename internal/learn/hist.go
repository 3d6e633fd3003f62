package learn

import "math"

// The size distribution of a site is a histogram over the engine's size
// classes, plus one bucket for requests above the largest. Two
// distributions are compared by their total variation distance,
// TVD(p, q) = 1/2 sum |p_i - q_i| over the normalised histograms: the share
// of the traffic that would have to move to another class to turn one into
// the other. It is bounded by [0, 1] whatever the number of classes (a
// threshold of 0.25 means "a quarter of the requests changed size class"),
// symmetric, defined when a bucket is empty on one side (KL divergence is
// not, and is unbounded), and costs one pass over the buckets.
//
// A window holds a sample of the site's requests, so its histogram differs
// from the distribution by chance: for n samples over k occupied buckets,
// E|p^_i - p_i| <= sqrt(p_i/n), and by Cauchy-Schwarz the expected TVD is
// at most 1/2 sqrt(k/n) (TVDNoise). The shift rule subtracts that bound, so
// a thin window of a wide distribution (50 samples over 20 classes: 0.32)
// is not taken for a shift.

// NumBuckets is the number of histogram buckets: one per size class of
// the engine (112, which the root package checks against its table) and
// one for requests above the largest class.
const NumBuckets = 112 + 1

// Hist is a size histogram, counts of sampled requests per bucket.
type Hist [NumBuckets]uint64

// Sizes gives each bucket's block size, bytes: the engine's class sizes,
// the last bucket (above every class) 0. Immutable once made.
type Sizes [NumBuckets]uintptr

// TVD is the total variation distance between the normalised histograms a
// and b, in [0, 1]; 0 when either is empty (nothing to compare).
func TVD(a, b *Hist) float64 {
	var na, nb uint64
	for i := range a {
		na += a[i]
		nb += b[i]
	}
	if na == 0 || nb == 0 {
		return 0
	}
	d := 0.0
	for i := range a {
		x := float64(a[i])/float64(na) - float64(b[i])/float64(nb)
		if x < 0 {
			x = -x
		}
		d += x
	}
	return d / 2
}

// TVDNoise bounds the expected TVD between a histogram of n samples and
// the distribution it samples, over the buckets occupied in a or b.
func TVDNoise(a, b *Hist, n uint64) float64 {
	if n == 0 {
		return 1
	}
	k := 0
	for i := range a {
		if a[i] != 0 || b[i] != 0 {
			k++
		}
	}
	return math.Sqrt(float64(k)/float64(n)) / 2
}

// Equivalent reports whether threshold arms i and j route every request
// of h alike: no occupied bucket of h lies between their thresholds. A
// request goes large when its size is above the threshold; every threshold
// is a class size, so that holds exactly when its class's size is above it
// (TestCandidatesAreClassSizes, in the root package), and a bucket's
// requests all go the same way.
func (z *Sizes) Equivalent(i, j int, h *Hist) bool {
	lo, hi := min(Thresholds[i], Thresholds[j]), max(Thresholds[i], Thresholds[j])
	for c := range NumBuckets - 1 {
		if h[c] != 0 && z[c] > lo && z[c] <= hi {
			return false
		}
	}
	return true
}

// Metrics is one closed window of one site: what ran and what it cost.
// The three outcome measures are per operation so that windows of
// different lengths compare. The engine fills it from its profile of the
// site at the window's close.
type Metrics struct {
	Strategy    int     // threshold arm that ran
	Cache       int     // cache arm that ran
	Churn       uint64  // the site's BigCache evictions and decays in the window
	Samples     uint64  // sampled requests (a counted pooled hit several times)
	Draws       uint64  // samples drawn (a counted hit once): the histogram's evidence, for TVDNoise
	Ops         uint64  // estimated requests above the smallest threshold: samples x SampleEvery
	CPUNsPerOp  float64 // mean time of a sampled request in the allocator, ns (slow paths, mmap included)
	FaultsPerOp float64 // fresh pages mapped for the site per request: each faults on first touch
	// MemBytes is memory per request beyond what was asked: the mean
	// rounding waste (class or page rounding) plus the site's BigCache
	// bytes at the window's close spread over the window's requests. A
	// proxy: pooled blocks in per-P caches cannot be told apart by site.
	MemBytes float64
	Hist     Hist // sampled requests per size bucket

	// The score: the site's requests per CPU-second of the process over
	// the window's measured part (Tput; SiteOps requests), and over the
	// whole window, the settle after a switch included (FullTput: what
	// the window cost).
	Tput, FullTput float64
	SiteOps        uint64
}

// add sums m's per-operation measures into w (for a mean of windows).
func (w *Metrics) add(m *Metrics) {
	w.Strategy, w.Samples, w.Draws, w.Ops = m.Strategy, w.Samples+m.Samples, w.Draws+m.Draws, w.Ops+m.Ops
	w.CPUNsPerOp += m.CPUNsPerOp
	w.FaultsPerOp += m.FaultsPerOp
	w.MemBytes += m.MemBytes
}

// scale multiplies w's per-operation measures by f.
func (w *Metrics) scale(f float64) {
	w.CPUNsPerOp *= f
	w.FaultsPerOp *= f
	w.MemBytes *= f
}
