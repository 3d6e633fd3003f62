package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// SchemaVersion names the layout of result files. Change it whenever a field
// changes meaning or disappears; adding a field keeps it. docs/SCENARIOS.md
// documents the schema.
const SchemaVersion = "hakmem-bench/1"

// Result is one battle: what ran, where, and what it measured. It is what
// `hakmem bench --json` writes and `hakmem compare` / `hakmem report` read.
type Result struct {
	Schema     string     `json:"schema"`     // SchemaVersion
	Provenance Provenance `json:"provenance"` // where and how the numbers were made
	Settings   Settings   `json:"settings"`   // runner settings
	Scenarios  []Scenario `json:"scenarios"`  // the scenarios run, with their parameters
	Entries    []Entry    `json:"entries"`    // one per (scenario, allocator), scenario order then allocator order
	Ranking    Ranking    `json:"ranking"`    // the points ranking
}

// Settings are the runner's settings of a battle.
type Settings struct {
	Runs    int `json:"runs"`    // measured runs per (scenario, allocator)
	Warmups int `json:"warmups"` // discarded warm-up runs before them
	// Allocators are every adapter that ran, in interleaving order
	// (Config.AllAllocators: the battle's list, or a scenario's own,
	// Scenario.Allocators).
	Allocators []string `json:"allocators"`
	Native     bool     `json:"native"` // native C peers were asked for
}

// Entry is the result of one allocator on one scenario.
type Entry struct {
	Scenario  string `json:"scenario"`
	Allocator string `json:"allocator"`
	// Native is true for the C peers run by the native harness.
	Native bool `json:"native,omitempty"`
	// Status is "ok", "not installed", "not supported" (the peer has no
	// such scenario) or "error: ..." (the runs stopped).
	Status string `json:"status"`
	// Note says why an entry did not run (the missing library), if known.
	Note string `json:"note,omitempty"`
	// Runs are the measured runs in the order they ran.
	Runs []Run `json:"runs"`
	// NsPerOp summarises the runs' primary metric (Run.NsPerOp); lower
	// is better. Ranking and compare use its median.
	NsPerOp Summary `json:"ns_per_op"`
	// OpsPerSec summarises Run.OpsPerSec.
	OpsPerSec Summary `json:"ops_per_sec"`
	// PeakRSS summarises Run.PeakRSS in bytes.
	PeakRSS Summary `json:"peak_rss"`
	// ChecksumOK is false when a run's op-sequence checksum differs from
	// the one the spec gives for these parameters (a bug in the scenario);
	// true otherwise (also when the scenario has no checksum).
	ChecksumOK bool `json:"checksum_ok"`
}

// Run is one measured run.
type Run struct {
	Ops     uint64  `json:"ops"`     // operations, counted by the scenario's rule
	Seconds float64 `json:"seconds"` // wall time of the measured phase
	// NsPerOp is the primary metric: for json/mir/vm/mixed the median of
	// the per-op latencies of this run (the spec's "median ns per op");
	// for the other scenarios Seconds / Ops in ns.
	NsPerOp   float64 `json:"ns_per_op"`
	OpsPerSec float64 `json:"ops_per_sec"` // Ops / Seconds
	// Per-op latency quantiles in ns, only for scenarios that time each op.
	NsMedian float64 `json:"ns_median,omitempty"`
	NsP95    float64 `json:"ns_p95,omitempty"`
	NsP99    float64 `json:"ns_p99,omitempty"`
	// Page faults of the measured phase (getrusage delta, whole process).
	MinorFaults uint64 `json:"minor_faults"`
	MajorFaults uint64 `json:"major_faults"`
	// PeakRSS is the process's resident-set high-water mark in bytes over
	// the run (setup included, e.g. gc-pressure's live set), BaseRSS the
	// resident set at the start of the run; RSSMethod says how the peak was
	// measured: "clear_refs" (reset before the run), "vmhwm" (could not
	// reset: peak since process start) or "none".
	PeakRSS   uint64 `json:"peak_rss"`
	BaseRSS   uint64 `json:"base_rss"`
	RSSMethod string `json:"rss_method"`
	// Garbage collector during the measured phase (runtime/metrics).
	GCCycles     uint64  `json:"gc_cycles"`      // /gc/cycles/total:gc-cycles delta
	GCCPUSeconds float64 `json:"gc_cpu_seconds"` // /cpu/classes/gc/total:cpu-seconds delta
	GCPauseP99   float64 `json:"gc_pause_p99_s"` // p99 of /sched/pauses/total/gc:seconds, upper bucket edge, seconds
	// Checksum is worker 0's op-sequence checksum (spec, "Checksum");
	// absent for scenarios without one. Written as a hex string: JSON
	// readers that hold numbers as doubles would round a uint64.
	Checksum Hex64 `json:"checksum,omitempty"`
	// Extra holds scenario-specific figures (docs/SCENARIOS.md).
	Extra map[string]float64 `json:"extra,omitempty"`
	// Allocator holds the allocator's own counters (hakmem only), the
	// cumulative ones as deltas over the run.
	Allocator *AllocatorStats `json:"allocator,omitempty"`
	// Series is the run's throughput window by window, and a learning
	// allocator's lifecycle transitions (the learning scenario only).
	Series *Series `json:"series,omitempty"`
	// Footprint is a gc-footprint run's points, one per amount held, each
	// measured in its own child process (the gc-footprint scenario only).
	Footprint []FootprintPoint `json:"footprint,omitempty"`
}

// Hex64 is a uint64 written in JSON as a "0x..." hex string.
type Hex64 uint64

// MarshalJSON writes "0x" and 16 hex digits.
func (h Hex64) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`"%#016x"`, uint64(h))), nil
}

// UnmarshalJSON reads the hex string (or a plain number).
func (h *Hex64) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n uint64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("checksum: want a hex string: %s", b)
		}
		*h = Hex64(n)
		return nil
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		return fmt.Errorf("checksum %q: %v", s, err)
	}
	*h = Hex64(n)
	return nil
}

// Lookup returns the entry of (scenario, allocator), or nil.
func (r *Result) Lookup(scenario, allocator string) *Entry {
	for i := range r.Entries {
		if r.Entries[i].Scenario == scenario && r.Entries[i].Allocator == allocator {
			return &r.Entries[i]
		}
	}
	return nil
}

// summarize fills the entry's summaries from its runs.
func (e *Entry) summarize() {
	var ns, ops, rss []float64
	for _, r := range e.Runs {
		ns = append(ns, r.NsPerOp)
		ops = append(ops, r.OpsPerSec)
		rss = append(rss, float64(r.PeakRSS))
	}
	e.NsPerOp = Summarize(ns)
	e.OpsPerSec = Summarize(ops)
	e.PeakRSS = Summarize(rss)
}

// WriteJSON writes the result as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadResult reads a result file, checking its schema version.
func ReadResult(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: not a hakmem bench result: %v", path, err)
	}
	if r.Schema != SchemaVersion {
		return nil, fmt.Errorf("%s: schema %q, this tool reads %q", path, r.Schema, SchemaVersion)
	}
	return &r, nil
}
