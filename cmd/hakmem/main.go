// Command hakmem is the benchmark battle tool of hakmem: it runs the
// allocator scenarios of docs/SCENARIOS.md against hakmem and its peers,
// ranks them, compares two result files and writes HTML reports.
//
//	hakmem bench [scenarios...] [flags]   run the battle
//	hakmem compare OLD.json NEW.json      compare two results
//	hakmem report RESULT.json --html FILE write an HTML report
//	hakmem config                         print and validate the configuration
//	hakmem version                        print the library's version and commit
//
// Each subcommand lives in its own file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/hakmem-go/hakmem/internal/bench"
	"github.com/hakmem-go/hakmem/internal/cgopeers"
)

// Exit codes.
const (
	exitOK    = 0 // success
	exitFail  = 1 // the command ran and failed (a run error, a regression)
	exitUsage = 2 // bad command line
)

// command is one subcommand.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"bench":   {"run the benchmark battle", runBench},
	"compare": {"compare two result files, exit 1 on a significant regression", runCompare},
	"config":  {"print the effective configuration and validate HAKMEM_* variables", runConfig},
	"report":  {"write the HTML report of a result file", runReport},
	"version": {"print the hakmem library's version, the commit and the Go version", runVersion},
}

func main() {
	// A gc-footprint child (the battle starts this program again, one
	// process per allocator and amount held) measures its point and exits.
	if code, ok := bench.FootprintChild(os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	// A learning-suite child (one process per workload, variant and
	// round) runs its variant and exits.
	if code, ok := bench.LearningSuiteChild(os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	if cgopeers.Enabled {
		// Built with -tags hakmem_cgo: Debian's jemalloc can only be
		// dlopen'ed with more static TLS, which must be set at process
		// start. On success this re-executes the program and never returns.
		if err := cgopeers.ReexecWithStaticTLS(); err != nil {
			fmt.Fprintf(os.Stderr, "hakmem: cannot re-execute with more static TLS (cgo-jemalloc will be missing): %v\n", err)
		}
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to the subcommand; it is main without the exit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run([]string{"--help"}, stdout, stderr)
			}
		}
		usage(stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hakmem: unknown command %q (valid: %s)\n", args[0], strings.Join(commandNames(), ", "))
		return exitUsage
	}
	return c.run(args[1:], stdout, stderr)
}

func commandNames() []string {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: hakmem <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'hakmem <command> --help' for a command's flags. With no arguments,")
	fmt.Fprintln(w, "'hakmem bench' runs the default battle of the pure-Go allocators (under a minute).")
}

// parseArgs parses flags that may come before, between or after the
// positional arguments (Go's flag package stops at the first positional).
// It returns the positionals; flag.ErrHelp when --help was given.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints its usage to w.
func newFlagSet(name, synopsis string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "usage: %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// flagError turns a parse error into an exit code: --help is a success.
func flagError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}
