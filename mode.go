package hakmem

import (
	"fmt"
	"strings"
)

// Modes: named presets of the option table (config.go), hakmem's MINIMAL,
// FAST, BALANCED, LEARNING and RESEARCH. A mode sets some options (the
// "modes" column of each option); the environment and Configure override
// it option by option. The fast paths never look at the mode: the slow
// paths read one immutable snapshot (config.go), swapped whole when
// the mode changes, so no hot-path branch depends on a feature flag (the
// mistake hakmem's own regression report measured at +5%).

// Mode is a preset of the configuration. Select it with HAKMEM_MODE
// (case-insensitive name), Configure or SetMode.
type Mode int

// The modes. The zero Mode means "not chosen here": Configure then keeps
// HAKMEM_MODE, or Balanced.
const (
	// Minimal is the baseline: nothing is cached beyond the per-P and
	// central lists (no BigCache, no segment cache), so a freed large block
	// or empty segment is unmapped at once; no huge pages; learning off.
	Minimal Mode = iota + 1
	// Fast keeps more memory for longer: a larger segment cache and slower
	// temperature stages; learning frozen.
	Fast
	// Balanced is the default: every option at its default.
	Balanced
	// Learning is Balanced with the learning layer live and minimal debug
	// logging (memory-limit hits).
	Learning
	// Research turns everything on: learning live, huge pages on segments
	// too, verbose debug logging of slow-path events to stderr.
	Research
)

// modes lists the modes in table order.
var modes = []Mode{Minimal, Fast, Balanced, Learning, Research}

// modeNames are the names HAKMEM_MODE accepts and String returns.
var modeNames = [...]string{"", "minimal", "fast", "balanced", "learning", "research"}

// String returns the mode's name, as HAKMEM_MODE spells it.
func (m Mode) String() string {
	if m.valid() {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

func (m Mode) valid() bool { return m >= Minimal && m <= Research }

// ParseMode returns the mode named s (case-insensitive, surrounding space
// ignored).
func ParseMode(s string) (Mode, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, m := range modes {
		if modeNames[m] == t {
			return m, nil
		}
	}
	return 0, fmt.Errorf("hakmem: unknown mode %q: want one of %s", s, strings.Join(modeNames[1:], ", "))
}
