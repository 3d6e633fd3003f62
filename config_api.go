package hakmem

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// The public configuration API: Configure before first use, SetMode at
// any time, Settings and CheckEnvironment to read it.

// CheckEnvironment validates the HAKMEM_ variables of environ (in the form
// os.Environ returns) and returns one line per problem: an invalid value
// with the accepted ones, or an unknown variable with the closest known
// name. It reads nothing else and changes nothing.
func CheckEnvironment(environ []string) []string {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var b strings.Builder
	readEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &b)
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line != "" {
			out = append(out, strings.TrimPrefix(line, "hakmem: "))
		}
	}
	return append(out, unknownVars(environ)...)
}

// Config is the configuration Configure applies: a mode and option values,
// both above the environment in precedence.
type Config struct {
	// Mode, when not zero, replaces HAKMEM_MODE.
	Mode Mode
	// Options sets options by name ("segment_cache") or variable
	// ("HAKMEM_SEGMENT_CACHE"), in the option's unit; enum options take
	// their number (thp: 0 off, 1 auto, 2 on).
	Options map[string]int
}

// errConfigured is returned by Configure after first use.
var errConfigured = errors.New("hakmem: Configure must be called before the first use of hakmem (an allocation, ReadStats, Settings or SetMode already read the configuration); use SetMode to change the mode at run time")

// Configure sets the configuration before first use: c's mode and options
// take precedence over the environment (which is still read). It returns
// an error, and changes nothing, when c names an unknown option or an
// invalid value or mode, or when hakmem has already been used.
func Configure(c Config) error {
	if c.Mode != 0 && !c.Mode.valid() {
		return fmt.Errorf("hakmem: Configure: invalid mode %v", c.Mode)
	}
	api := map[int]int{}
	keys := make([]string, 0, len(c.Options))
	for k := range c.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i := optionIndex(k)
		if i < 0 {
			near := closestVar("HAKMEM_" + strings.TrimPrefix(strings.ToUpper(k), "HAKMEM_"))
			if j := optionIndex(near); j >= 0 {
				near = options[j].name
			}
			return fmt.Errorf("hakmem: Configure: unknown option %q (did you mean %s?)", k, near)
		}
		o := &options[i]
		v := c.Options[k]
		if !o.valid(v) {
			return fmt.Errorf("hakmem: Configure: %s = %d is not valid: want %s", o.name, v, o.accepted())
		}
		api[i] = v
	}
	ran := false
	initOnce.Do(func() {
		ran = true
		cfgState.mu.Lock()
		cfgState.apiMode, cfgState.apiVals = c.Mode, api
		cfgState.mu.Unlock()
		loadConfig()
	})
	if !ran {
		return errConfigured
	}
	return nil
}

// SetMode switches to mode m at run time. Options set by the environment
// or Configure keep their values (they take precedence over any mode).
// Effects: a BigCache turned off is emptied, and a smaller segment cache is
// trimmed, at once; THP applies to new mappings; the per-P cache caps
// (pcache_scale) are unchanged; the memory limit is unchanged. Safe at any
// time from any goroutine: the slow paths see either the old snapshot or the
// new one, whole.
func SetMode(m Mode) error {
	if !m.valid() {
		return fmt.Errorf("hakmem: SetMode: invalid mode %v", m)
	}
	ensureInit()
	cfgState.mu.Lock()
	cfgState.apiMode = m
	p := buildSnapshot(&cfgState)
	cfgState.mu.Unlock()
	publish(p)
	return nil
}

// CurrentMode returns the mode in effect.
func CurrentMode() Mode {
	ensureInit()
	return cfg().mode
}

// Setting is one effective option, as Settings reports it.
type Setting struct {
	Name    string // option name, the key of Config.Options
	Env     string // its environment variable
	Type    string // "int" or "enum"
	Value   int    // effective value, in Unit
	Text    string // the value for people: the enum name, or the number
	Unit    string
	Default int    // the value with no mode, environment or API
	Source  Source // where Value came from
	Modes   string // the modes that change it, "minimal=0 fast=32", or ""
	Doc     string
}

// Settings returns the effective configuration: the mode first (Name
// "mode", Value the Mode), then every option, with the source of each
// value. It reads the environment if nothing has yet. The memory limit is
// the one in effect (SetMemoryLimit's, with Source "api", when it was
// changed that way).
func Settings() []Setting {
	ensureInit()
	p := cfg()
	out := []Setting{{
		Name: "mode", Env: modeEnv, Type: typeEnum, Value: int(p.mode), Text: p.mode.String(),
		Unit: strings.Join(modeNames[1:], ", "), Default: int(Balanced), Source: p.modeSrc,
		Doc: "The preset of the options below (see the modes table).",
	}}
	for i := range options {
		o := &options[i]
		s := Setting{Name: o.name, Env: o.env, Type: o.typ, Value: p.vals[i], Unit: o.unit,
			Default: o.def, Source: p.srcs[i], Doc: o.doc}
		if o.name == "memory_limit" {
			if lim := memLimit.Load(); lim != p.memLimit && (p.memLimit != memLimitAuto || lim != 0) {
				s.Value, s.Source = int(lim/mib), SourceAPI
			}
		}
		s.Text = o.format(s.Value)
		var ms []string
		for _, m := range modes {
			if v, ok := o.modes[m]; ok {
				ms = append(ms, m.String()+"="+o.format(v))
			}
		}
		s.Modes = strings.Join(ms, " ")
		out = append(out, s)
	}
	return out
}
