package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"time"

	hakmem "github.com/hakmem-go/hakmem"
)

// The learning suite: site workloads on which hakmem's learner
// must reach the best fixed strategy, each variant in its own process.
//
// A variant is one way to run a workload: "default" (learning off: every
// site on the default threshold, 1 MiB), "fixed-<K>" (learning off, the
// workload's sites fixed at one candidate threshold by Site.SetThreshold),
// "cache-lean" and "cache-hold" (learning off, the default threshold, the
// sites' BigCache policy fixed by Site.SetBigCachePolicy),
// a per-site choice for the two-site workload ("fixed-A512K-B1M"), and
// "learning" (HAKMEM_MODE=learning, HAKMEM_LEARN_MIN_MS=0, every other
// setting default). The parent (RunLearningSuite) starts this program again
// once per (round, workload, variant), the spec in suiteEnv; the child
// (LearningSuiteChild) runs the workload for Seconds and reports the
// operations, the process CPU time (getrusage, user + system) and the wall
// time over the second half, and for "learning" the sites' final
// learning state. Rounds are interleaved: every variant of a workload runs
// once per round, in an order that rotates from round to round, so that
// drift on a shared machine hits every variant alike. The table gives, per
// workload and variant, the median over the rounds of operations per
// CPU-second and per wall second, and the ratio of learning to the best
// fixed variant (by the per-CPU-second medians).

const (
	// suiteEnv carries a child's suiteSpec (not HAKMEM_-prefixed: hakmem
	// warns about HAKMEM_ variables it does not know).
	suiteEnv = "HAKMEMBENCH_LEARNING_SUITE_CHILD"
	// suiteProfileEnv, if set in a child's environment, names the file
	// its CPU profile is written to.
	suiteProfileEnv = "HAKMEMBENCH_LEARNING_SUITE_CPUPROFILE"
	// suiteMarker starts the child's result line.
	suiteMarker = "learning-suite-result: "
)

// SuiteOptions are the suite's knobs (hakmem bench learning-suite flags).
type SuiteOptions struct {
	Seconds   float64  // each variant's run, seconds (the second half is measured); the issue asks >= 10
	Rounds    int      // interleaved rounds (>= 3 asked)
	Workloads []string // workload names; empty: all
	Variants  []string // variant names; empty: all of each workload's
	Seed      uint64
	// Progress, if set, receives one line per finished child.
	Progress io.Writer
}

// suiteSpec is one child's work.
type suiteSpec struct {
	Workload string  `json:"workload"`
	Variant  string  `json:"variant"`
	Seconds  float64 `json:"seconds"`
	Seed     uint64  `json:"seed"`
}

// SuiteResult is one child's measurement of the second half of its run.
type SuiteResult struct {
	Workload   string  `json:"workload"`
	Variant    string  `json:"variant"`
	Round      int     `json:"round"`
	Ops        uint64  `json:"ops"`         // operations in the second half
	CPUSeconds float64 `json:"cpu_seconds"` // process CPU time (user + system) in the second half
	Wall       float64 `json:"wall_seconds"`
	// OpsPerCPU and OpsPerWall are Ops over CPUSeconds and Wall.
	OpsPerCPU  float64 `json:"ops_per_cpu_second"`
	OpsPerWall float64 `json:"ops_per_wall_second"`
	// FaultsPerOp is the process's minor page faults per operation.
	FaultsPerOp float64 `json:"faults_per_op"`
	// Learned is, for the learning variant, each site's final state:
	// "site: STATE threshold K bigcache P" (hakmem.Leaderboard).
	Learned []string `json:"learned,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// suiteWorkload is one workload: its sites' names and a step function
// that runs one operation on them (the state is the workload's own).
type suiteWorkload struct {
	name  string
	doc   string
	sites []string
	// fixed are extra per-site variants (name -> threshold per site).
	fixed map[string][]int
	// sizes are, per site, the ranges of request sizes (bytes, inclusive)
	// the workload asks for: what decides which variants configure it
	// alike (config).
	sizes [][][2]int
	// newRun returns the step function for one run of secs seconds on
	// sites (in sites order); step(now) does one operation; now is the
	// time since the run began, for phased workloads.
	newRun func(sites []*hakmem.Site, rng *splitmix64, secs float64) func(now time.Duration)
}

const (
	kib = 1 << 10
	mib = 1 << 20
)

// burstStep allocates n blocks of min..max bytes through s, touching every
// page, then frees them all: one operation per block.
func burstStep(s *hakmem.Site, r *splitmix64, n, lo, hi int, held *[][]byte) {
	b := s.Alloc(lo + r.intn(hi-lo+1))
	touchPages(b)
	*held = append(*held, b)
	if len(*held) == n {
		for i, x := range *held {
			hakmem.Free(x)
			(*held)[i] = nil
		}
		*held = (*held)[:0]
	}
}

// burstEnds is burstStep with only the blocks' ends touched.
func burstEnds(s *hakmem.Site, r *splitmix64, n, lo, hi int, held *[][]byte) {
	b := s.Alloc(lo + r.intn(hi-lo+1))
	touchEnds(b)
	*held = append(*held, b)
	if len(*held) == n {
		for i, x := range *held {
			hakmem.Free(x)
			(*held)[i] = nil
		}
		*held = (*held)[:0]
	}
}

// suitePhaseOps is the length of a phase of phases-ring-burst, in
// operations: phases by count, not by time, so that a process that gets
// less of the machine does not see them in other proportions.
const suitePhaseOps = 2 << 20

// ringStep replaces the next of len(ring) slots by a block of lo..hi bytes
// through s, touching its ends (or every page with pages).
func ringStep(s *hakmem.Site, r *splitmix64, ring [][]byte, i *int, lo, hi int, pages bool) {
	j := *i % len(ring)
	*i++
	if ring[j] != nil {
		hakmem.Free(ring[j])
	}
	b := s.Alloc(lo + r.intn(hi-lo+1))
	if pages {
		touchPages(b)
	} else {
		touchEnds(b)
	}
	ring[j] = b
}

// suiteWorkloads: the two workloads the learner was first judged on first.
var suiteWorkloads = []suiteWorkload{
	{name: "burst-touch-520K-1M", sites: []string{"burst"}, sizes: [][][2]int{{{520 * kib, 1000 * kib}}},
		doc: "bursts of 24 blocks of 520..1000 KiB, every page touched, then all freed",
		newRun: func(s []*hakmem.Site, r *splitmix64, _ float64) func(time.Duration) {
			var held [][]byte
			return func(time.Duration) { burstStep(s[0], r, 24, 520*kib, 1000*kib, &held) }
		}},
	{name: "ring-ends-700K-1M", sites: []string{"ring"}, sizes: [][][2]int{{{700 * kib, 1000 * kib}}},
		doc: "a ring of 16 blocks of 700..1000 KiB replaced in turn, only their ends touched",
		newRun: func(s []*hakmem.Site, r *splitmix64, _ float64) func(time.Duration) {
			ring, i := make([][]byte, 16), 0
			return func(time.Duration) { ringStep(s[0], r, ring, &i, 700*kib, 1000*kib, false) }
		}},
	{name: "short-96K-160K", sites: []string{"short"}, sizes: [][][2]int{{{96 * kib, 160 * kib}}},
		doc: "96..160 KiB blocks freed at once, ends touched (per-P cache hits when pooled)",
		newRun: func(s []*hakmem.Site, r *splitmix64, _ float64) func(time.Duration) {
			return func(time.Duration) {
				b := s[0].Alloc(96*kib + r.intn(64*kib+1))
				touchEnds(b)
				hakmem.Free(b)
			}
		}},
	{name: "ring-touch-64K-2M", sites: []string{"ring"}, sizes: [][][2]int{{{64 * kib, 2 * mib}}},
		doc: "a ring of 32 blocks of 64 KiB..2 MiB replaced at random, every page touched",
		newRun: func(s []*hakmem.Site, r *splitmix64, _ float64) func(time.Duration) {
			ring := make([][]byte, 32)
			return func(time.Duration) {
				i := r.intn(len(ring))
				ringStep(s[0], r, ring, &i, 64*kib, 2*mib, true)
			}
		}},
	{name: "phases-ring-burst", sites: []string{"phased"}, sizes: [][][2]int{{{700 * kib, 1000 * kib}, {300 * kib, 600 * kib}}},
		doc: "two phases that alternate every 2M operations (one to two seconds): ring-ends-700K-1M, then bursts of 24 blocks of 300..600 KiB with their ends touched",
		newRun: func(s []*hakmem.Site, r *splitmix64, _ float64) func(time.Duration) {
			var held [][]byte
			ring, i, n := make([][]byte, 16), 0, 0
			return func(time.Duration) {
				n++
				if (n/suitePhaseOps)%2 == 0 {
					if len(held) > 0 {
						for j, b := range held {
							hakmem.Free(b)
							held[j] = nil
						}
						held = held[:0]
					}
					ringStep(s[0], r, ring, &i, 700*kib, 1000*kib, false)
					return
				}
				for j, b := range ring {
					if b != nil {
						hakmem.Free(b)
						ring[j] = nil
					}
				}
				burstEnds(s[0], r, 24, 300*kib, 600*kib, &held)
			}
		}},
	{name: "two-sites", sites: []string{"ring", "burst"}, sizes: [][][2]int{{{700 * kib, 1000 * kib}}, {{520 * kib, 1000 * kib}}},
		doc:   "two sites in one goroutine, one operation each in turn: ring-ends-700K-1M on one, burst-touch-520K-1M on the other",
		fixed: map[string][]int{"fixed-A512K-B1M": {512 * kib, mib}},
		newRun: func(s []*hakmem.Site, r *splitmix64, _ float64) func(time.Duration) {
			var held [][]byte
			ring, i := make([][]byte, 16), 0
			return func(time.Duration) {
				ringStep(s[0], r, ring, &i, 700*kib, 1000*kib, false)
				burstStep(s[1], r, 24, 520*kib, 1000*kib, &held)
			}
		}},
}

// SuiteWorkloadNames lists the suite's workloads in order.
func SuiteWorkloadNames() []string {
	var out []string
	for _, w := range suiteWorkloads {
		out = append(out, w.name)
	}
	return out
}

// SuiteWorkloadDocs lists "name: doc" per workload.
func SuiteWorkloadDocs() []string {
	var out []string
	for _, w := range suiteWorkloads {
		out = append(out, w.name+": "+w.doc)
	}
	return out
}

func lookupSuiteWorkload(name string) (suiteWorkload, bool) {
	for _, w := range suiteWorkloads {
		if w.name == name {
			return w, true
		}
	}
	return suiteWorkload{}, false
}

// suiteCachePolicies are the BigCache policies other than the default
// that the learner may choose (Site.SetBigCachePolicy), each a variant
// with the default threshold: "cache-lean", "cache-hold".
var suiteCachePolicies = []string{"lean", "hold"}

// variants of w: default, one per fixed candidate below the default, one
// per other BigCache policy, w's own fixed ones, learning.
func (w suiteWorkload) variants() []string {
	v := []string{"default"}
	for _, th := range fixedThresholds[:len(fixedThresholds)-1] {
		v = append(v, "fixed-"+fmtThreshold(uint64(th)))
	}
	for _, p := range suiteCachePolicies {
		v = append(v, "cache-"+p)
	}
	var extra []string
	for k := range w.fixed {
		extra = append(extra, k)
	}
	sort.Strings(extra)
	return append(append(v, extra...), "learning")
}

// thresholds returns the per-site thresholds of a fixed variant (nil for
// default, learning and the cache variants).
func (w suiteWorkload) thresholds(variant string) ([]int, error) {
	if ths, ok := w.fixed[variant]; ok {
		return ths, nil
	}
	if variant == "default" || variant == "learning" || cachePolicyOf(variant) != "" {
		return nil, nil
	}
	// live-fixed-<K>: learning live (its mode, its goroutine, the draws on
	// the slow path), every site fixed at K, so nothing is learned: what
	// the learning mode costs by itself.
	variant = strings.TrimPrefix(variant, "live-")
	for _, th := range fixedThresholds {
		if variant == "fixed-"+fmtThreshold(uint64(th)) {
			ths := make([]int, len(w.sites))
			for i := range ths {
				ths[i] = th
			}
			return ths, nil
		}
	}
	return nil, fmt.Errorf("unknown variant %q", variant)
}

// config is the configuration variant gives w, "" for learning: per
// site, for each of its size ranges, the first size that takes the large
// path (above the site's threshold or above 1 MiB, clamped to the range:
// hi+1 when none does), and the BigCache policy when some size does.
// Variants with one config handle every request alike (short-96K-160K's
// default, fixed-256K and cache-hold pool all of them), so the suite pools
// their rounds into one configuration before it picks the best: the best
// of several measurements of one configuration would be the luckiest,
// above its true median by about the spread between processes.
func (w suiteWorkload) config(variant string) string {
	if variant == "learning" || strings.HasPrefix(variant, "live-") {
		return ""
	}
	ths, err := w.thresholds(variant)
	if err != nil || len(w.sizes) != len(w.sites) {
		return variant // unknown sizes: a configuration of its own
	}
	policy := cachePolicyOf(variant)
	if policy == "" {
		policy = "default"
	}
	var b strings.Builder
	for i, ranges := range w.sizes {
		th := 1 << 20 // the default threshold: everything up to 1 MiB pooled
		if ths != nil {
			th = ths[i]
		}
		large := false
		for _, r := range ranges {
			split := min(max(min(th, 1<<20)+1, r[0]), r[1]+1)
			large = large || split <= r[1]
			fmt.Fprintf(&b, "%d,", split)
		}
		if large {
			b.WriteString(policy)
		}
		b.WriteString(";")
	}
	return b.String()
}

// cachePolicyOf is the BigCache policy of a cache variant, "" for the
// others.
func cachePolicyOf(variant string) string {
	if p, ok := strings.CutPrefix(variant, "cache-"); ok && slices.Contains(suiteCachePolicies, p) {
		return p
	}
	return ""
}

// variantEnv is the environment a child of variant runs in: learning live
// with HAKMEM_LEARN_MIN_MS=0 for "learning", learning off otherwise.
func variantEnv(variant string) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "HAKMEM_MODE=") && !strings.HasPrefix(e, "HAKMEM_LEARNING=") && !strings.HasPrefix(e, "HAKMEM_LEARN_MIN_MS=") {
			env = append(env, e)
		}
	}
	if variant == "learning" || strings.HasPrefix(variant, "live-") {
		return append(env, "HAKMEM_MODE=learning", "HAKMEM_LEARN_MIN_MS=0")
	}
	return append(env, "HAKMEM_LEARNING=0")
}

// LearningSuiteChild runs one suite variant when this process was started
// as a child for one, and reports whether it was. A program that runs the
// suite calls it first thing in main (as FootprintChild).
func LearningSuiteChild(stdout, stderr io.Writer) (code int, isChild bool) {
	v, ok := os.LookupEnv(suiteEnv)
	if !ok {
		return 0, false
	}
	os.Unsetenv(suiteEnv)
	var spec suiteSpec
	if err := json.Unmarshal([]byte(v), &spec); err != nil {
		fmt.Fprintf(stderr, "learning-suite child: bad %s: %v\n", suiteEnv, err)
		return 2, true
	}
	if f := os.Getenv(suiteProfileEnv); f != "" {
		// A CPU profile of the child, for finding where a variant's time
		// goes (go tool pprof).
		if pf, err := os.Create(f); err == nil {
			if pprof.StartCPUProfile(pf) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	res, err := runSuiteVariant(spec)
	if err != nil {
		fmt.Fprintf(stderr, "learning-suite child: %s %s: %v\n", spec.Workload, spec.Variant, err)
		return 1, true
	}
	out, _ := json.Marshal(res)
	fmt.Fprintf(stdout, "%s%s\n", suiteMarker, out)
	return 0, true
}

// runSuiteVariant runs spec in this process. The clock is read every 16
// operations; the second half starts at the first read past half the run.
func runSuiteVariant(spec suiteSpec) (SuiteResult, error) {
	w, ok := lookupSuiteWorkload(spec.Workload)
	if !ok {
		return SuiteResult{}, fmt.Errorf("unknown workload %q", spec.Workload)
	}
	ths, err := w.thresholds(spec.Variant)
	if err != nil {
		return SuiteResult{}, err
	}
	sites := make([]*hakmem.Site, len(w.sites))
	for i, n := range w.sites {
		sites[i] = hakmem.NewSite("suite/" + n)
		if ths != nil {
			if err := sites[i].SetThreshold(ths[i]); err != nil {
				return SuiteResult{}, err
			}
		}
		if p := cachePolicyOf(spec.Variant); p != "" {
			if err := sites[i].SetBigCachePolicy(p); err != nil {
				return SuiteResult{}, err
			}
		}
	}
	r := newRNG(spec.Seed, 0)
	step := w.newRun(sites, &r, spec.Seconds)
	total := time.Duration(spec.Seconds * float64(time.Second))
	start := time.Now()
	var ops, ops0 uint64
	var cpu0 time.Duration
	var flt0 uint64
	var t0 time.Time
	half := false
	for {
		now := time.Since(start)
		if now >= total {
			break
		}
		if !half && now >= total/2 {
			half, ops0, cpu0, t0, flt0 = true, ops, processCPU(), time.Now(), processFaults()
		}
		for range 16 {
			step(now)
		}
		ops += 16
	}
	cpu, wall, flt := processCPU()-cpu0, time.Since(t0), processFaults()-flt0
	res := SuiteResult{Workload: spec.Workload, Variant: spec.Variant, Ops: ops - ops0,
		CPUSeconds: cpu.Seconds(), Wall: wall.Seconds()}
	if res.Ops > 0 {
		res.FaultsPerOp = float64(flt) / float64(res.Ops)
	}
	if cpu > 0 {
		res.OpsPerCPU = float64(res.Ops) / cpu.Seconds()
	}
	if wall > 0 {
		res.OpsPerWall = float64(res.Ops) / wall.Seconds()
	}
	if spec.Variant == "learning" {
		for _, ls := range hakmem.Leaderboard() {
			if !strings.HasPrefix(ls.Site, "suite/") {
				continue
			}
			res.Learned = append(res.Learned, fmt.Sprintf("%s: %s %s bigcache %s %v", strings.TrimPrefix(ls.Site, "suite/"),
				ls.State, fmtThreshold(ls.Threshold), ls.BigCache, nonzero(ls.Transitions)))
		}
	}
	return res, nil
}

// nonzero is the map's entries that are not 0, "k=v" sorted.
func nonzero(m map[string]uint64) []string {
	var out []string
	for k, v := range m {
		if v != 0 {
			out = append(out, fmt.Sprintf("%s=%d", k, v))
		}
	}
	sort.Strings(out)
	return out
}

// suiteExe is the program started for a child (tests may change it).
var suiteExe = os.Executable

// RunLearningSuite runs the suite: per round, per workload, every variant
// in its own child process (order rotating per round). It returns every
// child's result, failed ones with Error set.
func RunLearningSuite(ctx context.Context, o SuiteOptions) ([]SuiteResult, error) {
	if _, child := os.LookupEnv(suiteEnv); child {
		return nil, fmt.Errorf("this process is a learning-suite child that did not call bench.LearningSuiteChild")
	}
	names := o.Workloads
	if len(names) == 0 {
		names = SuiteWorkloadNames()
	}
	var ws []suiteWorkload
	for _, n := range names {
		w, ok := lookupSuiteWorkload(n)
		if !ok {
			return nil, fmt.Errorf("unknown learning-suite workload %q (valid: %s)", n, strings.Join(SuiteWorkloadNames(), ", "))
		}
		ws = append(ws, w)
	}
	exe, err := suiteExe()
	if err != nil {
		return nil, fmt.Errorf("cannot find the program to start children: %w", err)
	}
	var out []SuiteResult
	for round := range max(o.Rounds, 1) {
		for _, w := range ws {
			vs := w.variants()
			if len(o.Variants) > 0 {
				vs = slices.DeleteFunc(vs, func(v string) bool { return !slices.Contains(o.Variants, v) })
				for _, v := range o.Variants {
					// live-fixed-<K>: not in the table by default (a
					// diagnosis: learning live, the site fixed).
					if strings.HasPrefix(v, "live-") && !slices.Contains(vs, v) {
						if _, err := w.thresholds(v); err == nil {
							vs = append(vs, v)
						}
					}
				}
			}
			for k := range vs {
				v := vs[(k+round)%len(vs)]
				spec := suiteSpec{Workload: w.name, Variant: v, Seconds: o.Seconds, Seed: o.Seed + uint64(round)}
				res, err := startSuiteChild(ctx, exe, spec)
				if ctx.Err() != nil {
					return out, ctx.Err()
				}
				if err != nil {
					res = SuiteResult{Workload: w.name, Variant: v, Error: err.Error()}
				}
				res.Round = round
				out = append(out, res)
				if o.Progress != nil {
					fmt.Fprintf(o.Progress, "round %d %-22s %-16s %10.0f ops/cpu-s %10.0f ops/s %8.2f faults/op %s %s\n", round+1, w.name, v,
						res.OpsPerCPU, res.OpsPerWall, res.FaultsPerOp, strings.Join(res.Learned, "; "), res.Error)
				}
			}
		}
	}
	return out, nil
}

// startSuiteChild runs one child and reads its result.
func startSuiteChild(ctx context.Context, exe string, spec suiteSpec) (SuiteResult, error) {
	js, err := json.Marshal(spec)
	if err != nil {
		return SuiteResult{}, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(variantEnv(spec.Variant), suiteEnv+"="+string(js))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var res SuiteResult
	found := false
	sc := bufio.NewScanner(bytes.NewReader(stdout.Bytes()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), suiteMarker); ok {
			if err := json.Unmarshal([]byte(rest), &res); err != nil {
				return res, fmt.Errorf("bad result line: %v", err)
			}
			found = true
		}
	}
	if runErr != nil || !found {
		return res, fmt.Errorf("child %v (found %v)%s", runErr, found, childReason(stderr.String()))
	}
	return res, nil
}

// SuiteRow is one workload's summary: per variant the medians over the
// rounds, and learning's ratio to the best fixed configuration.
type SuiteRow struct {
	Workload string
	Variants []string
	PerCPU   map[string][]float64 // every round's ops per CPU-second
	PerWall  map[string][]float64
	Failed   map[string]int // children that failed, per variant
	// Best is the fixed configuration with the highest median per
	// CPU-second, its variants' rounds pooled (suiteWorkload.config): the
	// names of the variants that configure the workload alike, joined by
	// "+" (default included).
	Best        string
	LearnRatio  float64 // learning's median per CPU-second over Best's
	WallRatio   float64 // the same per wall second
	DefRatio    float64 // learning's median per CPU-second over default's
	BestVariant string  // the single fixed variant with the highest median per CPU-second, pooling nothing
	VarRatio    float64 // learning's median per CPU-second over BestVariant's
	// RoundRatios is, for each round that ran learning and Best, learning's
	// ops per CPU-second over Best's in that round (the median of Best's
	// variants there): paired within a round, so that what drifts between
	// rounds (the host's speed moves by tens of percent over minutes on a
	// shared machine) cancels, as the interleaving means it to.
	// PairedRatio is their median.
	RoundRatios []float64
	PairedRatio float64
	Learned     []string
	rounds      map[int]map[string]float64 // round -> variant -> ops per CPU-second
}

// SummariseSuite groups the results by workload.
func SummariseSuite(rs []SuiteResult) []SuiteRow {
	var rows []SuiteRow
	idx := map[string]int{}
	for _, r := range rs {
		i, ok := idx[r.Workload]
		if !ok {
			w, _ := lookupSuiteWorkload(r.Workload)
			i = len(rows)
			idx[r.Workload] = i
			rows = append(rows, SuiteRow{Workload: r.Workload, Variants: w.variants(),
				PerCPU: map[string][]float64{}, PerWall: map[string][]float64{}, Failed: map[string]int{},
				rounds: map[int]map[string]float64{}})
		}
		if r.Error != "" {
			rows[i].Failed[r.Variant]++
			continue
		}
		if rows[i].rounds[r.Round] == nil {
			rows[i].rounds[r.Round] = map[string]float64{}
		}
		rows[i].rounds[r.Round][r.Variant] = r.OpsPerCPU
		rows[i].PerCPU[r.Variant] = append(rows[i].PerCPU[r.Variant], r.OpsPerCPU)
		rows[i].PerWall[r.Variant] = append(rows[i].PerWall[r.Variant], r.OpsPerWall)
		if r.Variant == "learning" {
			rows[i].Learned = append(rows[i].Learned, strings.Join(r.Learned, "; "))
		}
	}
	for i := range rows {
		row := &rows[i]
		w, _ := lookupSuiteWorkload(row.Workload)
		// The fixed configurations, each with its variants' rounds pooled.
		type config struct {
			names     []string
			cpu, wall []float64
		}
		var cs []*config
		byKey := map[string]*config{}
		for _, v := range row.Variants {
			if v == "learning" || len(row.PerCPU[v]) == 0 {
				continue
			}
			if m := median(row.PerCPU[v]); row.BestVariant == "" || m > median(row.PerCPU[row.BestVariant]) {
				row.BestVariant = v
			}
			k := w.config(v)
			c := byKey[k]
			if c == nil {
				c = &config{}
				byKey[k] = c
				cs = append(cs, c)
			}
			c.names = append(c.names, v)
			c.cpu = append(c.cpu, row.PerCPU[v]...)
			c.wall = append(c.wall, row.PerWall[v]...)
		}
		var best *config
		bestWall := 0.0
		for _, c := range cs {
			if best == nil || median(c.cpu) > median(best.cpu) {
				best = c
			}
			bestWall = max(bestWall, median(c.wall))
		}
		learn := median(row.PerCPU["learning"])
		if best != nil {
			row.Best = strings.Join(best.names, "+")
			if b := median(best.cpu); b > 0 {
				row.LearnRatio = learn / b
			}
			row.RoundRatios = pairedRatios(row.rounds, best.names)
			if len(row.RoundRatios) > 0 {
				row.PairedRatio = median(row.RoundRatios)
			}
		}
		if b := median(row.PerCPU[row.BestVariant]); b > 0 {
			row.VarRatio = learn / b
		}
		if bestWall > 0 {
			row.WallRatio = median(row.PerWall["learning"]) / bestWall
		}
		if d := median(row.PerCPU["default"]); d > 0 {
			row.DefRatio = learn / d
		}
	}
	return rows
}

// pairedRatios returns, per round (in round order) that ran learning and
// at least one of best, learning's figure over the median of best's.
func pairedRatios(rounds map[int]map[string]float64, best []string) []float64 {
	var out []float64
	for _, r := range slices.Sorted(maps.Keys(rounds)) {
		vs := rounds[r]
		l, ok := vs["learning"]
		if !ok {
			continue
		}
		var bs []float64
		for _, v := range best {
			if x, ok := vs[v]; ok {
				bs = append(bs, x)
			}
		}
		if b := median(bs); len(bs) > 0 && b > 0 {
			out = append(out, l/b)
		}
	}
	return out
}

// WriteSuiteTable writes the summary as a Markdown table: per workload and
// variant the median ops per CPU-second with the rounds' range, then
// learning over the best fixed configuration (variants that configure the
// workload alike pooled), and over the best single variant.
func WriteSuiteTable(w io.Writer, rows []SuiteRow) error {
	fmt.Fprintf(w, "| workload | variant | ops/CPU-s median [min max] | ops/s (wall) median |\n|---|---|---|---|\n")
	for _, row := range rows {
		for _, v := range row.Variants {
			xs := row.PerCPU[v]
			if len(xs) == 0 {
				if row.Failed[v] > 0 {
					fmt.Fprintf(w, "| %s | %s | (failed) | |\n", row.Workload, v)
				}
				continue // not run (SuiteOptions.Variants)
			}
			mark := ""
			if slices.Contains(strings.Split(row.Best, "+"), v) {
				mark = " (best fixed)"
			}
			fmt.Fprintf(w, "| %s | %s%s | %.0f [%.0f %.0f] | %.0f |\n", row.Workload, v, mark,
				median(xs), slices.Min(xs), slices.Max(xs), median(row.PerWall[v]))
		}
	}
	fmt.Fprintf(w, "\n| workload | learning / best fixed configuration (per CPU-s) | paired per round: median [min max] | (per wall s) | learning / best single variant | learning / default | learned (per round) |\n|---|---|---|---|---|---|---|\n")
	for _, row := range rows {
		paired := "-"
		if len(row.RoundRatios) > 0 {
			paired = fmt.Sprintf("%.3f [%.3f %.3f]", row.PairedRatio, slices.Min(row.RoundRatios), slices.Max(row.RoundRatios))
		}
		_, err := fmt.Fprintf(w, "| %s | %.3f (best: %s) | %s | %.3f | %.3f (%s) | %.3f | %s |\n", row.Workload, row.LearnRatio, row.Best,
			paired, row.WallRatio, row.VarRatio, row.BestVariant, row.DefRatio, strings.Join(row.Learned, " / "))
		if err != nil {
			return err
		}
	}
	return nil
}
