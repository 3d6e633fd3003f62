package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/hakmem-go/hakmem"
)

// environ is the environment `hakmem config` validates; tests replace it.
var environ = os.Environ

// runConfig prints the effective configuration of hakmem in this process,
// with the source of every value, and validates the HAKMEM_ variables:
// exit 1 when one is unknown or invalid.
func runConfig(args []string, stdout, stderr io.Writer) int {
	synopsis := "hakmem config\n\n" +
		"Prints hakmem's effective configuration (as a program started with this\n" +
		"environment would use it) with the source of each value: default < mode <\n" +
		"env < api. Then validates the environment: unknown HAKMEM_* variables (with\n" +
		"the closest known name) and invalid values (with the accepted ones). Exit\n" +
		"status 1 when anything is wrong."
	fs := newFlagSet("config", synopsis, stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 0 {
		fmt.Fprintf(stderr, "hakmem config: unexpected arguments %q\n", pos)
		fs.Usage()
		return exitUsage
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVARIABLE\tVALUE\tUNIT\tSOURCE\tMODES")
	for _, s := range hakmem.Settings() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Env, s.Text, s.Unit, s.Source, s.Modes)
	}
	tw.Flush()
	problems := hakmem.CheckEnvironment(environ())
	if len(problems) == 0 {
		fmt.Fprintln(stdout, "\nenvironment: ok")
		return exitOK
	}
	fmt.Fprintf(stdout, "\nenvironment: %d problem(s)\n", len(problems))
	for _, p := range problems {
		fmt.Fprintf(stdout, "  %s\n", p)
	}
	return exitFail
}
