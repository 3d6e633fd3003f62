package bench

import (
	"fmt"
	"io"

	"strings"
	"unicode"
)

// WriteGoBench prints the result in the Go benchmark format, one line per
// measured run, so that benchstat can read it:
//
//	BenchmarkRandomMixed400/hakmem-2  500000  48.2 ns/op  20.7e6 ops/s  ...
//
// The iteration count is the run's op count; ns/op is the primary metric
// (Run.NsPerOp). The header has the usual goos/goarch/pkg/cpu configuration
// lines; the rest of the provenance (tool, commit, date, Go version, HAKMEM_*
// settings, command) goes in "#" comment lines, which benchstat skips: as
// configuration lines they would differ between two battles and make
// benchstat put old and new in separate tables instead of comparing them.
func WriteGoBench(w io.Writer, r *Result) error {
	bw := &errWriter{w: w}
	p := r.Provenance
	fmt.Fprintf(bw, "goos: %s\ngoarch: %s\npkg: github.com/hakmem-go/hakmem/cmd/hakmem\ncpu: %s\n", p.GOOS, p.GOARCH, p.CPUModel)
	fmt.Fprintf(bw, "# hakmem bench %s, commit %s, %s, %s, GOMAXPROCS %d, %d cores\n",
		p.ToolVersion, p.GitCommit, p.Date, p.GoVersion, p.GOMAXPROCS, p.Cores)
	for _, kv := range p.changedConfig() {
		fmt.Fprintf(bw, "# %s\n", kv)
	}
	fmt.Fprintf(bw, "# command: %s\n", strings.Join(p.Command, " "))
	for _, e := range r.Entries {
		if e.Status != "ok" {
			continue
		}
		name := BenchName(e.Scenario, e.Allocator, p.GOMAXPROCS)
		for _, run := range e.Runs {
			fmt.Fprintf(bw, "%s\t%d\t%.1f ns/op\t%.0f ops/s\t%d peak-RSS-B\t%d minor-faults\t%d gc-cycles\t%.6f gc-cpu-s",
				name, max(run.Ops, 1), run.NsPerOp, run.OpsPerSec, run.PeakRSS, run.MinorFaults, run.GCCycles, run.GCCPUSeconds)
			if run.NsP99 != 0 {
				fmt.Fprintf(bw, "\t%.1f p99-ns", run.NsP99)
			}
			for _, k := range sortedKeys(run.Extra) {
				fmt.Fprintf(bw, "\t%.0f %s", run.Extra[k], strings.ReplaceAll(k, "_", "-"))
			}
			fmt.Fprintln(bw)
		}
	}
	return bw.err
}

// BenchName is the benchmark name of a (scenario, allocator) pair:
// "Benchmark" + the scenario in CamelCase, "/" + allocator, "-" + GOMAXPROCS.
func BenchName(scenario, allocator string, procs int) string {
	var b strings.Builder
	b.WriteString("Benchmark")
	up := true
	for _, c := range scenario {
		if c == '-' || c == '_' {
			up = true
			continue
		}
		if up {
			c = unicode.ToUpper(c)
			up = false
		}
		b.WriteRune(c)
	}
	return fmt.Sprintf("%s/%s-%d", b.String(), allocator, procs)
}
