package main

import (
	"fmt"
	"io"

	"github.com/hakmem-go/hakmem/internal/bench"
)

// defaultThreshold is the regression, in percent of the median ns/op, that
// makes `hakmem compare` fail when it is also significant: below ~5% the
// 2-core machines' run-to-run noise dominates.
const defaultThreshold = 5

func runCompare(args []string, stdout, stderr io.Writer) int {
	synopsis := "hakmem compare OLD.json NEW.json [--threshold PCT] [--force]"
	fs := newFlagSet("compare", synopsis, stderr)
	threshold := fs.Float64("threshold", defaultThreshold, "fail (exit 1) on a significant regression of more than `PCT` percent")
	force := fs.Bool("force", false, "compare results from different machines (CPU model, cores, GOOS or GOARCH differ)")
	files, err := parseArgs(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(files) != 2 {
		fmt.Fprintf(stderr, "hakmem compare: want two result files, got %d\n", len(files))
		fs.Usage()
		return exitUsage
	}
	old, err := bench.ReadResult(files[0])
	if err != nil {
		fmt.Fprintf(stderr, "hakmem compare: %v\n", err)
		return exitFail
	}
	cur, err := bench.ReadResult(files[1])
	if err != nil {
		fmt.Fprintf(stderr, "hakmem compare: %v\n", err)
		return exitFail
	}
	rep, err := bench.Compare(old, cur, *threshold, *force)
	if err != nil {
		fmt.Fprintf(stderr, "hakmem compare: %v\n", err)
		return exitFail
	}
	if err := bench.WriteCompare(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "hakmem compare: %v\n", err)
		return exitFail
	}
	if rep.Regressions() > 0 {
		return exitFail
	}
	return exitOK
}
