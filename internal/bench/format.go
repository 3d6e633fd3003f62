package bench

import (
	"fmt"
	"math"
	"strings"
)

// Number formatting shared by the table, the gobench lines and the HTML
// report.

// fmtNs formats nanoseconds: one decimal below 100 ns, thousands
// separators above.
func fmtNs(ns float64) string {
	if ns == 0 {
		return "-"
	}
	if ns < 100 {
		return fmt.Sprintf("%.1f", ns)
	}
	return group(int64(math.Round(ns)))
}

// group writes n with comma thousands separators.
func group(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtRate formats a rate with k/M/G suffixes.
func fmtRate(x float64) string {
	switch {
	case x == 0:
		return "-"
	case x >= 1e9:
		return fmt.Sprintf("%.2fG", x/1e9)
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

// fmtBytes formats a byte count in binary units.
func fmtBytes(b float64) string {
	if b < 0 {
		return "-" + fmtBytes(-b)
	}
	switch {
	case b == 0:
		return "-"
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.0f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.0f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

// fmtSeconds formats a duration in seconds with a fitting unit.
func fmtSeconds(s float64) string {
	switch {
	case s == 0:
		return "-"
	case s >= 1:
		return fmt.Sprintf("%.2fs", s)
	case s >= 1e-3:
		return fmt.Sprintf("%.1fms", s*1e3)
	}
	return fmt.Sprintf("%.0fµs", s*1e6)
}

// fmtPct formats a percentage with a sign.
func fmtPct(p float64) string { return fmt.Sprintf("%+.1f%%", p) }

// runMedian is the median over the entry's runs of one figure.
func runMedian(e *Entry, f func(Run) float64) float64 {
	xs := make([]float64, len(e.Runs))
	for i, r := range e.Runs {
		xs[i] = f(r)
	}
	return median(xs)
}

// ParamsString describes a scenario's parameters on one line.
func ParamsString(s Scenario) string {
	p := s.Params
	switch s.Kind {
	case KindBlocks:
		var parts []string
		for i, size := range p.Sizes {
			part := fmtBytes(float64(size))
			if p.Every[i] > 1 {
				part += fmt.Sprintf(" every %d", p.Every[i])
			}
			parts = append(parts, part)
		}
		return fmt.Sprintf("%d iterations of %s", p.Iterations, strings.Join(parts, " + "))
	case KindLarson:
		return fmt.Sprintf("%gs, %d..%d B, %d chunks, %d rounds, seed %d, %s workers",
			p.Seconds, p.MinSize, p.MaxSize, p.Chunks, p.Rounds, p.Seed, threadsString(p.Threads, "GOMAXPROCS"))
	case KindRandomMixed:
		return fmt.Sprintf("%d slots, %s steps, %d..%d B, seed %d", p.Slots, group(int64(p.Steps)), p.MinSize, p.MaxSize, p.Seed)
	case KindXmalloc:
		return fmt.Sprintf("%gs, %s producer/consumer pairs, %d..%d B, batches of %d, seed %d",
			p.Seconds, threadsString(p.Threads, "GOMAXPROCS/2"), p.MinSize, p.MaxSize, p.Batch, p.Seed)
	case KindGCPressure:
		return fmt.Sprintf("live %s in %s blocks, churn %s of %d..%d B in %d slots, %s worker(s), seed %d",
			fmtBytes(float64(p.LiveBytes)), fmtBytes(float64(p.LiveBlock)), fmtBytes(float64(p.ChurnBytes)),
			p.MinSize, p.MaxSize, p.Slots, threadsString(p.Threads, "1"), p.Seed)
	case KindLearning:
		return fmt.Sprintf("%s steps in windows of %s: half %d..%d KiB freed at once, half %d..%d KiB in %d slots, seed %d",
			group(int64(p.Steps)), group(int64(p.Window)), learnSmallMin>>10, learnSmallMax>>10,
			learnBigMin>>10, learnBigMax>>10, p.Slots, p.Seed)
	case KindGCFootprint:
		return footprintParamsString(p)
	case KindArena:
		return fmt.Sprintf("%d requests of %d nodes (32 B) + %d..%d B strings, seed %d", p.Steps, p.Slots, p.MinSize, p.MaxSize, p.Seed)
	}
	return ""
}

func threadsString(n int, dflt string) string {
	if n == 0 {
		return dflt
	}
	return fmt.Sprint(n)
}
