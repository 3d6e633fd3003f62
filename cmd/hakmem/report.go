package main

import (
	"fmt"
	"io"

	"github.com/hakmem-go/hakmem/internal/bench"
)

func runReport(args []string, stdout, stderr io.Writer) int {
	synopsis := "hakmem report RESULT.json --html FILE"
	fs := newFlagSet("report", synopsis, stderr)
	htmlFile := fs.String("html", "", "write the HTML report to `FILE` (required)")
	files, err := parseArgs(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(files) != 1 || *htmlFile == "" {
		fmt.Fprintf(stderr, "hakmem report: want one result file and --html FILE\n")
		fs.Usage()
		return exitUsage
	}
	res, err := bench.ReadResult(files[0])
	if err != nil {
		fmt.Fprintf(stderr, "hakmem report: %v\n", err)
		return exitFail
	}
	if err := writeFile(*htmlFile, func(w io.Writer) error { return bench.WriteHTML(w, res) }); err != nil {
		fmt.Fprintf(stderr, "hakmem report: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "wrote %s\n", *htmlFile)
	return exitOK
}
