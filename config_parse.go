package hakmem

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hakmem-go/hakmem/internal/learn"
)

// Parsing and validating the options: text to values, the environment to
// a snapshot, and the nearest known name for an unknown one.

// modeValue is the option's value in mode m, before environment and API.
func (o *option) modeValue(m Mode) int {
	if v, ok := o.modes[m]; ok {
		return v
	}
	return o.def
}

// format renders a value of the option for people: the enum name, or the
// number.
func (o *option) format(v int) string {
	if o.typ == typeEnum && v >= 0 && v < len(o.enum) {
		return o.enum[v]
	}
	for w, wv := range o.words {
		if v == wv {
			return w
		}
	}
	return strconv.Itoa(v)
}

// accepted describes the values the option accepts, for messages.
func (o *option) accepted() string {
	if o.typ == typeEnum {
		return fmt.Sprintf("one of %s (or %d .. %d)", strings.Join(o.enum, ", "), o.min, o.max)
	}
	if len(o.words) > 0 {
		return fmt.Sprintf("an integer from %d to %d (%s) or %s", o.min, o.max, o.unit, strings.Join(o.wordList(), ", "))
	}
	return fmt.Sprintf("an integer from %d to %d (%s)", o.min, o.max, o.unit)
}

// valid reports whether v is a value of the option: in its range, or a
// word's value.
func (o *option) valid(v int) bool {
	if v >= o.min && v <= o.max {
		return true
	}
	for _, w := range o.words {
		if v == w {
			return true
		}
	}
	return false
}

// wordList is the option's words, sorted, for messages and the README.
func (o *option) wordList() []string {
	ws := make([]string, 0, len(o.words))
	for w := range o.words {
		ws = append(ws, w)
	}
	sort.Strings(ws)
	return ws
}

// parse reads a value of the option from text.
func (o *option) parse(s string) (int, error) {
	t := strings.TrimSpace(s)
	for w, v := range o.words {
		if strings.EqualFold(t, w) {
			return v, nil
		}
	}
	if o.typ == typeEnum {
		for i, name := range o.enum {
			if strings.EqualFold(t, name) {
				return i, nil
			}
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < o.min || n > o.max {
		return 0, fmt.Errorf("%s=%q is not valid: want %s", o.env, s, o.accepted())
	}
	return n, nil
}

// optionIndex finds an option by name or variable (case-insensitive).
func optionIndex(key string) int {
	for i := range options {
		if strings.EqualFold(key, options[i].name) || strings.EqualFold(key, options[i].env) {
			return i
		}
	}
	return -1
}

// configState holds what the environment and the API chose; the snapshot is
// built from it.
type configState struct {
	mu      sync.Mutex
	envMode Mode        // HAKMEM_MODE, or 0; guarded by mu
	apiMode Mode        // Configure's or SetMode's mode, or 0; guarded by mu
	envVals map[int]int // option index -> value from the environment; guarded by mu
	apiVals map[int]int // option index -> value from Configure; guarded by mu
}

// cfgState is written at first use, by Configure and by SetMode.
var cfgState configState

// buildSnapshot makes a snapshot from st (caller holds st.mu, or owns st).
func buildSnapshot(st *configState) *snapshot {
	p := &snapshot{mode: Balanced, modeSrc: SourceDefault, learn: learn.Defaults()}
	if st.envMode != 0 {
		p.mode, p.modeSrc = st.envMode, SourceEnv
	}
	if st.apiMode != 0 {
		p.mode, p.modeSrc = st.apiMode, SourceAPI
	}
	for i := range options {
		o := &options[i]
		v, src := o.def, SourceDefault
		if mv, ok := o.modes[p.mode]; ok {
			v, src = mv, SourceMode
		}
		if ev, ok := st.envVals[i]; ok {
			v, src = ev, SourceEnv
		}
		if av, ok := st.apiVals[i]; ok {
			v, src = av, SourceAPI
		}
		p.vals[i], p.srcs[i] = v, src
		o.set(p, v)
	}
	return p
}

// loadConfig reads the environment at first use and publishes the snapshot.
func loadConfig() { loadConfigFrom(os.LookupEnv, os.Stderr) }

// loadConfigFrom reads the options from getenv, warns on w, and publishes
// the resulting snapshot. Unknown HAKMEM_ variables are not warned about
// here (tests and tools set their own); CheckEnvironment and `hakmem
// config` list them.
func loadConfigFrom(getenv func(string) (string, bool), w io.Writer) {
	cfgState.mu.Lock()
	cfgState.envMode, cfgState.envVals = readEnv(getenv, w)
	p := buildSnapshot(&cfgState)
	cfgState.mu.Unlock()
	// Not publish: first use may come from a path that holds heap.mu, and
	// there is nothing cached yet to drop.
	storeSnapshot(p)
	applyMemLimit(p.memLimit) // after storeSnapshot: the shared budget reads the headroom
	// Nothing has been learned or started yet: only the learner's settings.
	initLearnSettings(p.learn)
}

// readEnv parses HAKMEM_MODE and every option from getenv; invalid values
// are written to w, one line each, and ignored.
func readEnv(getenv func(string) (string, bool), w io.Writer) (Mode, map[int]int) {
	var mode Mode
	vals := map[int]int{}
	if s, ok := getenv(modeEnv); ok {
		m, err := ParseMode(s)
		if err != nil {
			fmt.Fprintf(w, "hakmem: %s=%q is not valid: want one of %s; ignored\n", modeEnv, s, strings.Join(modeNames[1:], ", "))
		} else {
			mode = m
		}
	}
	for i := range options {
		o := &options[i]
		if s, ok := getenv(o.env); ok {
			v, err := o.parse(s)
			if err != nil {
				fmt.Fprintf(w, "hakmem: %v; ignored\n", err)
				continue
			}
			vals[i] = v
		}
	}
	return mode, vals
}

// unknownVars lists the HAKMEM_ variables in environ that hakmem does not
// know, each with the closest known name.
func unknownVars(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "HAKMEM_") || k == modeEnv || optionIndex(k) >= 0 && options[optionIndex(k)].env == k {
			continue
		}
		out = append(out, fmt.Sprintf("unknown variable %s (did you mean %s?)", k, closestVar(k)))
	}
	sort.Strings(out)
	return out
}

// closestVar is the known variable nearest to k by edit distance.
func closestVar(k string) string {
	best, bestD := modeEnv, editDistance(k, modeEnv)
	for i := range options {
		if d := editDistance(k, options[i].env); d < bestD {
			best, bestD = options[i].env, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
