package bench

import (
	"bufio"

	hakmem "github.com/hakmem-go/hakmem"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"
)

// ToolVersion is the version of the battle tool; bump it when the scenarios
// or the measurements change so that old and new results can be told apart.
const ToolVersion = "0.1.0"

// Provenance records where and how a result was made, so that a number can
// be traced back and two results can be checked for comparability.
type Provenance struct {
	ToolVersion string `json:"tool_version"` // ToolVersion
	// HakmemVersion is the hakmem library's module version in the binary
	// (debug.ReadBuildInfo): a tag, "(devel)" when built in the
	// repository's workspace, or "unknown".
	HakmemVersion string `json:"hakmem_version,omitempty"`
	// GitCommit is the commit the tool was built from, or "unknown";
	// GitDirty says the working tree had uncommitted changes; GitSource
	// says where the commit came from: "buildinfo" (-buildvcs), "git"
	// (git rev-parse HEAD at run time) or "none".
	GitCommit  string `json:"git_commit"`
	GitDirty   bool   `json:"git_dirty"`
	GitSource  string `json:"git_source"`
	Date       string `json:"date"`       // start of the battle, RFC 3339, UTC
	GoVersion  string `json:"go_version"` // runtime.Version()
	GOOS       string `json:"goos"`       // runtime.GOOS
	GOARCH     string `json:"goarch"`     // runtime.GOARCH
	CPUModel   string `json:"cpu_model"`  // /proc/cpuinfo "model name", or "unknown"
	Cores      int    `json:"cores"`      // runtime.NumCPU(): logical CPUs usable by the process
	GOMAXPROCS int    `json:"gomaxprocs"` // runtime.GOMAXPROCS(0) during the battle
	// HakmemConfig is hakmem's effective configuration at the start of
	// the battle (hakmem.Settings): every option by variable, with the
	// source of its value (default, mode, env, api). Mode entries
	// (hakmem-minimal ...) switch the mode for their own runs.
	HakmemConfig map[string]ConfigValue `json:"hakmem_config"`
	GOGC         string                 `json:"gogc"`    // GOGC as set in the environment, "" if unset
	Command      []string               `json:"command"` // the exact command line (os.Args)
	// Notes say what the tool itself changed for this battle and why
	// (the learning scenario's shorter minimum learning time); the
	// setting shows in HakmemConfig with source "api".
	Notes []string `json:"notes,omitempty"`
}

// CollectProvenance gathers the provenance of a battle run now with the
// given command line.
func CollectProvenance(args []string) Provenance {
	p := Provenance{
		ToolVersion:  ToolVersion,
		Date:         time.Now().UTC().Format(time.RFC3339),
		GoVersion:    runtime.Version(),
		GOOS:         runtime.GOOS,
		GOARCH:       runtime.GOARCH,
		CPUModel:     cpuModel(),
		Cores:        runtime.NumCPU(),
		GOMAXPROCS:   runtime.GOMAXPROCS(0),
		HakmemConfig: hakmemConfig(),
		GOGC:         os.Getenv("GOGC"),
		Command:      append([]string(nil), args...),
	}
	p.GitCommit, p.GitDirty, p.GitSource = gitCommit()
	p.HakmemVersion = ReadBuildVersion().Hakmem
	return p
}

// gitCommit finds the commit from the build info, else from git, else
// reports "unknown".
func gitCommit() (commit string, dirty bool, source string) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if commit != "" {
			return commit, dirty, "buildinfo"
		}
	}
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown", false, "none"
	}
	commit = strings.TrimSpace(string(out))
	st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	dirty = err == nil && len(strings.TrimSpace(string(st))) > 0
	return commit, dirty, "git"
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "unknown".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// ConfigValue is one effective hakmem setting.
type ConfigValue struct {
	Value  string `json:"value"`  // as hakmem.Setting.Text: the number, or the enum name
	Source string `json:"source"` // hakmem.Source: default, mode, env or api
}

// hakmemConfig reads hakmem's effective configuration.
func hakmemConfig() map[string]ConfigValue {
	m := map[string]ConfigValue{}
	for _, s := range hakmem.Settings() {
		m[s.Env] = ConfigValue{Value: s.Text, Source: string(s.Source)}
	}
	return m
}

// changedConfig lists, as VAR=value, the settings not at their default,
// for the short provenance lines of the table, gobench and HTML formats.
func (p Provenance) changedConfig() []string {
	var kv []string
	for _, k := range sortedKeys(p.HakmemConfig) {
		if v := p.HakmemConfig[k]; v.Source != string(hakmem.SourceDefault) {
			kv = append(kv, k+"="+v.Value)
		}
	}
	return kv
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SameMachine reports whether two provenances come from comparable
// machines, and if not, why.
func SameMachine(a, b Provenance) (bool, string) {
	var diffs []string
	if a.CPUModel != b.CPUModel {
		diffs = append(diffs, "CPU model "+q(a.CPUModel)+" vs "+q(b.CPUModel))
	}
	if a.Cores != b.Cores {
		diffs = append(diffs, "cores "+itoa(a.Cores)+" vs "+itoa(b.Cores))
	}
	if a.GOOS != b.GOOS {
		diffs = append(diffs, "GOOS "+a.GOOS+" vs "+b.GOOS)
	}
	if a.GOARCH != b.GOARCH {
		diffs = append(diffs, "GOARCH "+a.GOARCH+" vs "+b.GOARCH)
	}
	if len(diffs) == 0 {
		return true, ""
	}
	return false, strings.Join(diffs, "; ")
}
