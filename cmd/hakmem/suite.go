package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/hakmem-go/hakmem/internal/bench"
)

// The learning suite: `hakmem bench learning-suite`, opt-in,
// run apart from the battle (bench.RunLearningSuite).
const (
	suiteName = "learning-suite"
	suiteDoc  = "hakmem learning live vs every fixed threshold on site workloads, each variant in its own process, second half measured, medians over interleaved rounds (--runs, default 3; --suite-seconds, default 10; --suite-workloads)"
	// suiteSeconds and suiteRounds are the minimums: 10 s per
	// variant, 3 interleaved rounds.
	suiteSeconds = 10
	suiteRounds  = 3
)

// runSuite runs the learning suite and prints its table (and writes every
// child's result as JSON to jsonFile, if set).
func runSuite(secs float64, rounds int, workloads, variants []string, jsonFile string, stdout, stderr io.Writer) int {
	if secs <= 0 || rounds < 1 {
		fmt.Fprintf(stderr, "hakmem bench: %s: --suite-seconds must be > 0 and --runs >= 1\n", suiteName)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintf(stderr, "hakmem bench %s: %d round(s) of %.0f s per variant, started %s\n", suiteName, rounds, secs, time.Now().UTC().Format(time.RFC3339))
	rs, err := bench.RunLearningSuite(ctx, bench.SuiteOptions{Seconds: secs, Rounds: rounds, Workloads: workloads, Variants: variants,
		Seed: 0x15, Progress: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "hakmem bench: %s: %v\n", suiteName, err)
		return exitFail
	}
	if jsonFile != "" {
		js, err := json.MarshalIndent(rs, "", "  ")
		if err == nil {
			err = os.WriteFile(jsonFile, append(js, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "hakmem bench: %v\n", err)
			return exitFail
		}
	}
	if err := bench.WriteSuiteTable(stdout, bench.SummariseSuite(rs)); err != nil {
		return exitFail
	}
	return exitOK
}
