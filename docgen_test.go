package hakmem

import (
	"fmt"
	"strings"
)

// The documentation renderer: the README's option and modes tables are
// made from the option table (config.go) and checked against it
// (TestReadmeOptionTable, TestModesTable).

// optionsMarkdown renders the option table for the README.
func optionsMarkdown() string {
	var b strings.Builder
	b.WriteString("| variable | name | type | default | range | unit | modes | meaning |\n|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| `%s` | mode | enum | balanced | %s | | | The preset of the options below (see Modes); case-insensitive. |\n",
		modeEnv, strings.Join(modeNames[1:], ", "))
	for i := range options {
		o := &options[i]
		var ms []string
		for _, m := range modes {
			if v, ok := o.modes[m]; ok {
				ms = append(ms, m.String()+" "+o.format(v))
			}
		}
		rng := fmt.Sprintf("%d .. %d", o.min, o.max)
		if len(o.words) > 0 {
			rng += ", " + strings.Join(o.wordList(), ", ")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n",
			o.env, o.name, o.typ, o.format(o.def), rng, o.unit, strings.Join(ms, ", "), o.doc)
	}
	return b.String()
}

// modePurpose is the first row of the modes table.
var modePurpose = [...]string{"",
	"baseline: no caches, free to the OS at once",
	"production speed: cache more, longer",
	"recommended default",
	"learning phase",
	"development, all on"}

// modesMarkdown renders the modes table: one row per option a mode changes,
// a column per mode. The README and DESIGN.md carry it (TestModesTable).
func modesMarkdown() string {
	var b strings.Builder
	b.WriteString("| setting |")
	for _, m := range modes {
		b.WriteString(" " + m.String() + " |")
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(modes)))
	b.WriteString("\n| purpose |")
	for _, m := range modes {
		b.WriteString(" " + modePurpose[m] + " |")
	}
	b.WriteString("\n")
	for i := range options {
		o := &options[i]
		if len(o.modes) == 0 {
			continue
		}
		fmt.Fprintf(&b, "| `%s` |", o.env)
		for _, m := range modes {
			b.WriteString(" " + o.format(o.modeValue(m)) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}
