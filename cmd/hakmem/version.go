package main

import (
	"fmt"
	"io"

	"github.com/hakmem-go/hakmem/internal/bench"
)

// runVersion prints the version of the hakmem library built into this
// binary, the command's module, the commit and the Go version.
func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if args[0] == "--help" || args[0] == "-h" {
			fmt.Fprintln(stdout, "usage: hakmem version\n\nPrints the hakmem library's module version (debug.ReadBuildInfo), the command's, the commit and the Go version.")
			return exitOK
		}
		fmt.Fprintf(stderr, "hakmem version: no arguments expected, got %q\n", args)
		return exitUsage
	}
	bench.ReadBuildVersion().Write(stdout)
	return exitOK
}
