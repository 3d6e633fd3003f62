package hakmem

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// The option table: the one place hakmem reads the environment. Each option
// has a HAKMEM_ variable, a default, bounds and a sentence of documentation;
// the README's configuration table is generated from it (see
// TestReadmeOptionTable). The environment is read once, at first use. An
// invalid value gets one warning line on stderr naming the variable and the
// accepted values, and the default is used. Anything a user should not need
// to touch is a constant with a comment, not an option.

type option struct {
	env      string // environment variable
	def      int    // default
	min, max int    // accepted range, inclusive
	unit     string
	doc      string
	set      func(int) // stores the value into config
}

// config is the effective configuration; written once by loadConfig.
var config struct {
	segmentCache int // empty segments kept mapped
	pcacheScale  int // percent applied to the per-P cache caps
}

var options = []option{
	{
		env: "HAKMEM_SEGMENT_CACHE", def: 8, min: 0, max: 4096, unit: "segments",
		doc: "Empty 2 MiB segments kept mapped for reuse before they are unmapped.",
		set: func(v int) { config.segmentCache = v },
	},
	{
		env: "HAKMEM_PCACHE_SCALE", def: 100, min: 0, max: 1600, unit: "percent",
		doc: "Scales every per-P cache cap; 0 turns per-P caching off (every operation goes to the central lists).",
		set: func(v int) { config.pcacheScale = v },
	},
}

func loadConfig() { applyOptions(os.LookupEnv, os.Stderr) }

// applyOptions sets every option from getenv, warning on w.
func applyOptions(getenv func(string) (string, bool), w io.Writer) {
	for _, o := range options {
		v := o.def
		if s, ok := getenv(o.env); ok {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < o.min || n > o.max {
				fmt.Fprintf(w, "hakmem: %s=%q is not valid: want an integer from %d to %d (%s); using the default %d\n",
					o.env, s, o.min, o.max, o.unit, o.def)
			} else {
				v = n
			}
		}
		o.set(v)
	}
}

// optionsMarkdown renders the option table for the README.
func optionsMarkdown() string {
	var b strings.Builder
	b.WriteString("| variable | default | range | unit | meaning |\n|---|---|---|---|---|\n")
	for _, o := range options {
		fmt.Fprintf(&b, "| `%s` | %d | %d .. %d | %s | %s |\n", o.env, o.def, o.min, o.max, o.unit, o.doc)
	}
	return b.String()
}
