package bench

import (
	"math"
	"sort"
)

// Summary describes a set of measurements (one per run, or one per op).
// Quantiles use linear interpolation between order statistics (R type 7,
// numpy's default), so with 5 runs p95 and p99 lie between the two largest
// values: read them as "near the worst run", not as tail estimates.
type Summary struct {
	N      int     `json:"n"`      // number of values
	Min    float64 `json:"min"`    // smallest value
	Q1     float64 `json:"q1"`     // 25th percentile
	Median float64 `json:"median"` // 50th percentile
	Q3     float64 `json:"q3"`     // 75th percentile
	P95    float64 `json:"p95"`    // 95th percentile
	P99    float64 `json:"p99"`    // 99th percentile
	Max    float64 `json:"max"`    // largest value
	Mean   float64 `json:"mean"`   // arithmetic mean
}

// IQR is the interquartile range Q3 - Q1.
func (s Summary) IQR() float64 { return s.Q3 - s.Q1 }

// SpreadPct is (max - min) / median in percent, 0 when the median is 0.
func (s Summary) SpreadPct() float64 {
	if s.Median == 0 {
		return 0
	}
	return 100 * (s.Max - s.Min) / s.Median
}

// Summarize computes the summary of xs (which it does not modify). An empty
// input gives the zero Summary.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	return Summary{
		N:      len(s),
		Min:    s[0],
		Q1:     quantileSorted(s, 0.25),
		Median: quantileSorted(s, 0.50),
		Q3:     quantileSorted(s, 0.75),
		P95:    quantileSorted(s, 0.95),
		P99:    quantileSorted(s, 0.99),
		Max:    s[len(s)-1],
		Mean:   sum / float64(len(s)),
	}
}

// quantileSorted returns the q-quantile (0..1) of sorted data by linear
// interpolation between the closest ranks.
func quantileSorted(s []float64, q float64) float64 {
	if len(s) == 1 {
		return s[0]
	}
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	frac := pos - float64(lo)
	return s[lo] + (s[hi]-s[lo])*frac
}

// median returns the median of xs (0 for none).
func median(xs []float64) float64 { return Summarize(xs).Median }
