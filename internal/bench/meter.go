package bench

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"runtime/metrics"
	"strconv"
	"syscall"
	"time"
)

// The runtime/metrics names the runner reads around a measured phase.
const (
	metricGCCycles = "/gc/cycles/total:gc-cycles"
	metricGCCPU    = "/cpu/classes/gc/total:cpu-seconds"
	metricGCPauses = "/sched/pauses/total/gc:seconds"
)

// snapshot is the state of the process at one instant.
type snapshot struct {
	t        time.Time
	minflt   uint64                    // minor page faults since process start
	majflt   uint64                    // major page faults since process start
	gcCycles uint64                    // completed GC cycles
	gcCPU    float64                   // estimated CPU seconds spent in GC
	pauses   *metrics.Float64Histogram // GC stop-the-world pauses (cumulative)
}

var metricSamples = []metrics.Sample{{Name: metricGCCycles}, {Name: metricGCCPU}, {Name: metricGCPauses}}

func takeSnapshot() snapshot {
	var s snapshot
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.minflt, s.majflt = uint64(ru.Minflt), uint64(ru.Majflt)
	}
	samples := make([]metrics.Sample, len(metricSamples))
	copy(samples, metricSamples)
	metrics.Read(samples)
	if samples[0].Value.Kind() == metrics.KindUint64 {
		s.gcCycles = samples[0].Value.Uint64()
	}
	if samples[1].Value.Kind() == metrics.KindFloat64 {
		s.gcCPU = samples[1].Value.Float64()
	}
	if samples[2].Value.Kind() == metrics.KindFloat64Histogram {
		s.pauses = samples[2].Value.Float64Histogram()
	}
	s.t = time.Now()
	return s
}

// meter measures the phase between start and stop of one run.
type meter struct {
	before, after snapshot
	started       bool
	stopped       bool
}

// start marks the beginning of the measured phase.
func (m *meter) start() { m.before = takeSnapshot(); m.started = true }

// stop marks its end; the runner reads the peak RSS right after.
func (m *meter) stop() { m.after = takeSnapshot(); m.stopped = true }

func (m *meter) seconds() float64 { return m.after.t.Sub(m.before.t).Seconds() }

// pauseQuantile returns the q-quantile (0..1) of the GC pauses that happened
// between two cumulative histograms, in seconds, or 0 when there were none.
// It reports the upper edge of the bucket holding the quantile (the lower
// edge for the last, unbounded bucket): an upper bound, as the histogram
// cannot say more.
func pauseQuantile(before, after *metrics.Float64Histogram, q float64) float64 {
	if after == nil {
		return 0
	}
	counts := make([]uint64, len(after.Counts))
	var total uint64
	for i, c := range after.Counts {
		if before != nil && i < len(before.Counts) {
			c -= before.Counts[i]
		}
		counts[i] = c
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q*float64(total) - 1e-9)) // the epsilon keeps 0.99*100 at 99
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank && c > 0 {
			hi := after.Buckets[i+1]
			if math.IsInf(hi, 1) {
				return after.Buckets[i]
			}
			return hi
		}
	}
	return 0
}

// RSS measurement methods, recorded per run so that readers know what the
// peak means.
const (
	rssClearRefs = "clear_refs" // VmHWM reset before the run: the run's own peak
	rssHWM       = "vmhwm"      // reset refused: VmHWM since process start (an upper bound)
	rssNone      = "none"       // /proc not available: no RSS figures
)

// resetPeakRSS resets the kernel's high-water mark of the resident set to the
// current RSS ("echo 5 > /proc/self/clear_refs"), and says how the next
// readPeakRSS is to be read.
func resetPeakRSS() string {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		return rssNone
	}
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return rssHWM
	}
	return rssClearRefs
}

// readStatusKB returns a "Vm...:  N kB" field of /proc/self/status in bytes.
func readStatusKB(field string) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	prefix := []byte(field + ":")
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, prefix) {
			continue
		}
		f := bytes.Fields(line[len(prefix):])
		if len(f) == 0 {
			return 0
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0
		}
		return kb * 1024
	}
	return 0
}

// readPeakRSS returns VmHWM in bytes (0 when unknown).
func readPeakRSS() uint64 { return readStatusKB("VmHWM") }

// readRSS returns the current resident set (VmRSS) in bytes (0 when unknown).
func readRSS() uint64 { return readStatusKB("VmRSS") }
