package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	hakmem "github.com/hakmem-go/hakmem"
	"github.com/hakmem-go/hakmem/internal/bench"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Defaults of `hakmem bench`.
const (
	defaultRuns    = 5 // measured runs: enough for a Mann-Whitney test at alpha 0.05 (needs >= 4)
	defaultWarmups = 1 // one discarded round first: faults in code, heap and allocator caches
	// progressMinSeconds: below this estimated duration no progress bar.
	progressMinSeconds = 2
)

var formats = []string{"table", "json", "gobench"}

func runBench(args []string, stdout, stderr io.Writer) int {
	synopsis := "hakmem bench [scenarios...] [--allocators a,b,...] [--runs N] [--quick] [--json FILE] [--html FILE] [--format table|json|gobench] [--native] [--live SIZE]"
	fs := newFlagSet("bench", synopsis, stderr)
	allocs := fs.String("allocators", strings.Join(bench.DefaultAllocators(), ","),
		"comma-separated allocators, valid: "+strings.Join(bench.AllocatorNames(), ", "))
	runs := fs.Int("runs", defaultRuns, "measured runs per scenario and allocator")
	warmups := fs.Int("warmups", defaultWarmups, "discarded warm-up runs before the measured ones")
	quick := fs.Bool("quick", false, "one measured run (same as --runs 1); gc-footprint holds 64 and 128 MiB instead of 0.5 to 4 GiB")
	jsonFile := fs.String("json", "", "also write the result as JSON to `FILE`")
	htmlFile := fs.String("html", "", "also write an HTML report to `FILE`")
	format := fs.String("format", "table", "output on stdout: "+strings.Join(formats, ", "))
	native := fs.Bool("native", false, "also run the native C peers (glibc, mimalloc, jemalloc, tcmalloc)")
	live := fs.String("live", "", "gc-pressure live set `SIZE` (e.g. 1GiB, 256MiB; default 1GiB, 256MiB in the default battle)")
	suiteSecs := fs.Float64("suite-seconds", suiteSeconds, "learning-suite: each variant's run in `SECONDS` (the second half is measured)")
	suiteVars := fs.String("suite-variants", "", "learning-suite: comma-separated variants (default all: default, fixed-64K .. fixed-512K, per-site ones, learning)")
	suiteLoads := fs.String("suite-workloads", "", "learning-suite: comma-separated workloads (default all): "+strings.Join(bench.SuiteWorkloadNames(), ", "))
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\nWith no scenario, runs every scenario (the default battle).\n\nscenarios:\n", synopsis)
		for _, sc := range bench.Scenarios() {
			fmt.Fprintf(stderr, "  %-18s %s\n  %-18s default: %s\n", sc.Name, sc.Doc, "", bench.ParamsString(sc))
		}
		fmt.Fprintf(stderr, "  %-18s %s\n", suiteName, suiteDoc)
		for _, d := range bench.SuiteWorkloadDocs() {
			fmt.Fprintf(stderr, "  %-18s   %s\n", "", d)
		}
		fmt.Fprintf(stderr, "\nallocators:\n")
		for _, a := range bench.AllocatorNames() {
			fmt.Fprintf(stderr, "  %-18s %s\n", a, bench.AllocatorDoc(a))
		}
		fmt.Fprintf(stderr, "\nflags:\n")
		fs.PrintDefaults()
	}
	names, err := parseArgs(fs, args)
	if err != nil {
		return flagError(err)
	}

	if slices.Contains(names, suiteName) {
		if len(names) != 1 {
			fmt.Fprintf(stderr, "hakmem bench: %s runs alone (it starts its own processes)\n", suiteName)
			return exitUsage
		}
		rounds := suiteRounds
		if flagSet(fs, "runs") {
			rounds = *runs
		}
		return runSuite(*suiteSecs, rounds, splitList(*suiteLoads), splitList(*suiteVars), *jsonFile, stdout, stderr)
	}

	// Validate everything before running anything.
	if !contains(formats, *format) {
		fmt.Fprintf(stderr, "hakmem bench: unknown format %q (valid: %s)\n", *format, strings.Join(formats, ", "))
		return exitUsage
	}
	if *quick {
		*runs = 1
	}
	if *runs < 1 || *warmups < 0 {
		fmt.Fprintf(stderr, "hakmem bench: --runs must be >= 1 and --warmups >= 0\n")
		return exitUsage
	}
	allocList := splitList(*allocs)
	if len(allocList) == 0 && !*native {
		fmt.Fprintf(stderr, "hakmem bench: no allocator given (valid: %s)\n", strings.Join(bench.AllocatorNames(), ", "))
		return exitUsage
	}
	if err := bench.CheckAllocators(allocList); err != nil {
		fmt.Fprintf(stderr, "hakmem bench: %v\n", err)
		return exitUsage
	}
	var scenarios []bench.Scenario
	if len(names) == 0 {
		scenarios = bench.DefaultBattleScenarios()
	}
	for _, n := range names {
		sc, err := bench.LookupScenario(n)
		if err != nil {
			fmt.Fprintf(stderr, "hakmem bench: %v\n", err)
			return exitUsage
		}
		scenarios = append(scenarios, sc)
	}
	if *quick {
		for i := range scenarios {
			if scenarios[i].Kind == bench.KindGCFootprint {
				scenarios[i].Params = scenarios[i].Params.QuickFootprint()
			}
		}
	}
	if flagSet(fs, "allocators") {
		// The allocators given run every scenario, also those with a
		// list of their own (learning).
		for i := range scenarios {
			scenarios[i].Allocators = nil
		}
	}
	if *live != "" {
		n, err := parseSize(*live)
		if err != nil || n < 4096 {
			fmt.Fprintf(stderr, "hakmem bench: --live %q: want a size of at least 4KiB such as 512MiB or 1GiB\n", *live)
			return exitUsage
		}
		for i := range scenarios {
			if scenarios[i].Kind == bench.KindGCPressure {
				scenarios[i].Params = scenarios[i].Params.WithLive(n)
			}
		}
	}

	cfg := bench.Config{
		Scenarios:  scenarios,
		Allocators: allocList,
		Runs:       *runs,
		Warmups:    *warmups,
		Args:       append([]string{"hakmem", "bench"}, args...),
	}
	for _, sc := range scenarios {
		if sc.Kind == bench.KindLearning {
			note, warn := compressLearning()
			if warn != "" {
				fmt.Fprintf(stderr, "hakmem bench: %s\n", warn)
			}
			if note != "" {
				cfg.Notes = append(cfg.Notes, note)
			}
			break
		}
	}
	if *native {
		h, note := nativeHarness()
		if note != "" {
			fmt.Fprintf(stderr, "hakmem bench: %s\n", note)
		}
		cfg.Native = h
	}

	printPlan(stderr, &cfg)
	bar := newProgress(stderr, &cfg)
	if bar != nil {
		cfg.Progress = func(done, total int, label string) {
			bar.Describe(label)
			_ = bar.Set(done)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	res, err := bench.RunBattle(ctx, cfg)
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "hakmem bench: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stderr, "battle took %.1f s\n", time.Since(start).Seconds())

	switch *format {
	case "table":
		err = bench.WriteTable(stdout, res)
	case "json":
		err = res.WriteJSON(stdout)
	case "gobench":
		err = bench.WriteGoBench(stdout, res)
	}
	if err == nil && *jsonFile != "" {
		err = writeFile(*jsonFile, res.WriteJSON)
	}
	if err == nil && *htmlFile != "" {
		err = writeFile(*htmlFile, func(w io.Writer) error { return bench.WriteHTML(w, res) })
	}
	if err != nil {
		fmt.Fprintf(stderr, "hakmem bench: %v\n", err)
		return exitFail
	}
	code := exitOK
	for _, e := range res.Entries {
		if strings.HasPrefix(e.Status, "error") {
			fmt.Fprintf(stderr, "hakmem bench: %s/%s: %s\n", e.Scenario, e.Allocator, e.Status)
			code = exitFail
		}
		if !e.ChecksumOK {
			fmt.Fprintf(stderr, "hakmem bench: %s/%s: op-sequence checksum differs from the spec's\n", e.Scenario, e.Allocator)
			code = exitFail
		}
	}
	return code
}

// printPlan tells what the battle will run, with each scenario's settings
// (and its own allocators, when it has a list of its own).
func printPlan(w io.Writer, cfg *bench.Config) {
	fmt.Fprintf(w, "battle: %d scenario(s) x %s, %d measured run(s) + %d warm-up, interleaved; about %.0f s\n",
		len(cfg.Scenarios), strings.Join(cfg.AllAllocators(), ","), cfg.Runs, cfg.Warmups, estimate(cfg))
	for _, sc := range cfg.Scenarios {
		fmt.Fprintf(w, "  %-18s %s\n", sc.Name, bench.ParamsString(sc))
		if len(sc.Allocators) > 0 {
			fmt.Fprintf(w, "  %-18s allocators: %s\n", "", strings.Join(sc.Allocators, ","))
		}
	}
	for _, n := range cfg.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// estimate guesses the battle's duration in seconds from the scenarios'
// estimates (pure-Go peers on a 2-core machine).
func estimate(cfg *bench.Config) float64 {
	total := 0.0
	for _, sc := range cfg.Scenarios {
		n := float64(len(cfg.ScenarioAllocators(sc)))
		if cfg.Native != nil && sc.Native != "" {
			n += float64(len(cfg.Native.Peers()))
		}
		total += sc.EstimateSeconds() * n
	}
	return total * float64(cfg.Runs+cfg.Warmups)
}

// flagSet reports whether the named flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// newProgress returns a progress bar on stderr when it is a terminal and
// the battle is long enough to want one; nil otherwise.
func newProgress(stderr io.Writer, cfg *bench.Config) *progressbar.ProgressBar {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || estimate(cfg) < progressMinSeconds {
		return nil
	}
	return progressbar.NewOptions(cfg.TotalRuns(),
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish())
}

// parseSize reads a byte size: a number with an optional unit B, K/KiB,
// M/MiB, G/GiB (binary multiples, case-insensitive).
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10},
		{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(f * float64(mult)), nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// writeFile creates path and writes it with fn.
func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// learnCompressed are the learner's settings that `hakmem bench` gives
// the learning scenario when the environment does not set them: no
// minimum learning time, and windows of 10 ms. Each half of the scenario
// lasts well under a second, so the defaults (20,000 ms, meant for
// long-running programs, and 100 ms windows, of which an A/B test needs
// 15 to adopt) would let no site learn anything; the learner's own rules
// (an A/B test at 95% confidence) still decide. docs/SCENARIOS.md
// explains the choice.
var learnCompressed = []struct {
	env   string
	value int
}{{"HAKMEM_LEARN_MIN_MS", 0}, {"HAKMEM_LEARN_WINDOW_MS", 10}}

// compressLearning sets learnCompressed through hakmem.Configure (so the
// provenance records them with source "api", not as if the user had set
// them), except those the environment sets. It returns the note for the
// provenance, or a warning when hakmem was configured already (an earlier
// battle in the same process) with other values.
func compressLearning() (note, warn string) {
	opts := map[string]int{}
	for _, c := range learnCompressed {
		if _, ok := os.LookupEnv(c.env); !ok {
			opts[c.env] = c.value
		}
	}
	if len(opts) == 0 {
		return "", ""
	}
	err := hakmem.Configure(hakmem.Config{Options: opts})
	var set, stuck []string
	for _, s := range hakmem.Settings() {
		v, ok := opts[s.Env]
		if !ok {
			continue
		}
		if s.Value == v && (err == nil || s.Source == hakmem.SourceAPI) {
			set = append(set, fmt.Sprintf("%s=%d", s.Env, v))
		} else {
			stuck = append(stuck, fmt.Sprintf("%s stays %d ms", s.Env, s.Value))
		}
	}
	if len(stuck) > 0 {
		return "", fmt.Sprintf("hakmem was configured before the learning scenario could compress its learner's times (%v): "+
			"%s, so sites may not learn within a run", err, strings.Join(stuck, ", "))
	}
	return fmt.Sprintf("%s set by hakmem bench (hakmem.Configure) for the learning scenario: "+
		"its halves last well under a second, too short for the default minimum learning time (20000 ms) "+
		"and windows (100 ms); set them in the environment to choose other values", strings.Join(set, ", ")), ""
}
