package hakmem

import (
	"flag"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/hakmem-go/hakmem/internal/learn"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite README.md's option and modes tables (and DESIGN.md's modes table)")
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/*.golden")

// envFunc is a getenv over a map.
func envFunc(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// snapshotFrom builds a policy as first use would, from env and an API
// configuration, without publishing it.
func snapshotFrom(t *testing.T, env map[string]string, apiMode Mode, api map[string]int) (*snapshot, string) {
	t.Helper()
	var warn strings.Builder
	var st configState
	st.envMode, st.envVals = readEnv(envFunc(env), &warn)
	st.apiMode, st.apiVals = apiMode, map[int]int{}
	for k, v := range api {
		st.apiVals[optionIndex(k)] = v
	}
	return buildSnapshot(&st), warn.String()
}

func TestOptionsFromEnvironment(t *testing.T) {
	p, warn := snapshotFrom(t, map[string]string{
		"HAKMEM_SEGMENT_CACHE": "abc",
		"HAKMEM_PCACHE_SCALE":  " 50 ",
		"HAKMEM_THP":           "ON",
	}, 0, nil)
	if p.segmentCache != 8 || p.pcacheScale != 50 || p.thp != thpOn || p.mode != Balanced {
		t.Fatalf("policy = %+v", p)
	}
	want := "hakmem: HAKMEM_SEGMENT_CACHE=\"abc\" is not valid: want an integer from 0 to 4096 (segments); ignored\n"
	if warn != want {
		t.Fatalf("warning:\n%q\nwant\n%q", warn, want)
	}
	p, warn = snapshotFrom(t, map[string]string{"HAKMEM_PCACHE_SCALE": "5000"}, 0, nil)
	if p.pcacheScale != 100 || !strings.Contains(warn, "HAKMEM_PCACHE_SCALE") {
		t.Fatalf("out of range accepted: %+v %q", p, warn)
	}
}

func TestModeSelection(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want Mode
	}{{"", Balanced}, {"minimal", Minimal}, {"FAST", Fast}, {" Research ", Research}, {"learning", Learning}, {"turbo", Balanced}} {
		env := map[string]string{}
		if tc.env != "" {
			env["HAKMEM_MODE"] = tc.env
		}
		p, warn := snapshotFrom(t, env, 0, nil)
		if p.mode != tc.want || (tc.env == "turbo") != (warn != "") {
			t.Errorf("HAKMEM_MODE=%q: mode %v, warning %q", tc.env, p.mode, warn)
		}
	}
	p, _ := snapshotFrom(t, nil, Minimal, nil)
	if p.bigCacheOn() || p.segmentCache != 0 || p.thp != thpOff || p.learning != learn.Off || p.modeSrc != SourceAPI {
		t.Fatalf("minimal: %+v", p)
	}
	p, _ = snapshotFrom(t, nil, Research, nil)
	if p.thp != thpOn || p.debug != debugVerbose || p.learning != learn.Live {
		t.Fatalf("research: %+v", p)
	}
}

// TestPrecedence: default < mode < environment < API.
func TestPrecedence(t *testing.T) {
	seg := optionIndex("segment_cache")
	p, _ := snapshotFrom(t, nil, 0, nil)
	if p.segmentCache != 8 || p.srcs[seg] != SourceDefault {
		t.Fatalf("default: %d %s", p.segmentCache, p.srcs[seg])
	}
	p, _ = snapshotFrom(t, map[string]string{"HAKMEM_MODE": "fast"}, 0, nil)
	if p.segmentCache != 32 || p.srcs[seg] != SourceMode || p.modeSrc != SourceEnv {
		t.Fatalf("mode: %d %s", p.segmentCache, p.srcs[seg])
	}
	p, _ = snapshotFrom(t, map[string]string{"HAKMEM_MODE": "fast", "HAKMEM_SEGMENT_CACHE": "5"}, 0, nil)
	if p.segmentCache != 5 || p.srcs[seg] != SourceEnv {
		t.Fatalf("env: %d %s", p.segmentCache, p.srcs[seg])
	}
	p, _ = snapshotFrom(t, map[string]string{"HAKMEM_MODE": "fast", "HAKMEM_SEGMENT_CACHE": "5"}, Minimal, map[string]int{"segment_cache": 7})
	if p.segmentCache != 7 || p.srcs[seg] != SourceAPI || p.mode != Minimal || p.bigCacheOn() {
		t.Fatalf("api: %d %s %v", p.segmentCache, p.srcs[seg], p.mode)
	}
}

func TestConfigureAfterUse(t *testing.T) {
	ensureInit()
	if err := Configure(Config{Mode: Fast}); err != errConfigured {
		t.Fatalf("Configure after first use: %v", err)
	}
}

// TestValidationMessages compares the messages for a bad environment and
// bad Configure calls with testdata/validation.golden.
func TestValidationMessages(t *testing.T) {
	var b strings.Builder
	b.WriteString("# CheckEnvironment\n")
	for _, line := range CheckEnvironment([]string{
		"HAKMEM_MODE=turbo", "HAKMEM_SEGMENT_CACHE=-1", "HAKMEM_THP=always", "HAKMEM_BIGCACHE_MB=lots",
		"HAKMEM_SEGMENT_CAHCE=4", "HAKMEM_DECAY=100", "HAKMEM_DEBUG=verbose", "PATH=/bin",
	}) {
		b.WriteString(line + "\n")
	}
	b.WriteString("# Configure\n")
	for _, c := range []Config{
		{Mode: 9},
		{Options: map[string]int{"segment_cahce": 1}},
		{Options: map[string]int{"thp": 3}},
		{Options: map[string]int{"HAKMEM_WARM_MS": 0}},
	} {
		b.WriteString(Configure(c).Error() + "\n")
	}
	b.WriteString("# SetMode\n")
	b.WriteString(SetMode(0).Error() + "\n")
	golden(t, "testdata/validation.golden", b.String())
}

// golden compares got with the file, or rewrites it with -update-golden.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("%s is stale (go test -update-golden); got:\n%s", path, got)
	}
}

// TestSetMode switches modes at run time and checks what each changes.
func TestSetMode(t *testing.T) {
	withConfig(t)
	saved := cfgState.apiMode
	t.Cleanup(func() {
		cfgState.mu.Lock()
		cfgState.apiMode = saved
		cfgState.mu.Unlock()
	})
	b := Alloc(3 << 20)
	Free(b) // into the BigCache
	if ReadStats().BigCacheBlocks == 0 {
		t.Skip("BigCache off in this environment")
	}
	if err := SetMode(Minimal); err != nil {
		t.Fatal(err)
	}
	if st := ReadStats(); st.BigCacheBlocks != 0 || CurrentMode() != Minimal {
		t.Fatalf("Minimal kept %d cached blocks (mode %v)", st.BigCacheBlocks, CurrentMode())
	}
	Free(Alloc(3 << 20))
	if ReadStats().BigCacheBlocks != 0 {
		t.Fatal("Minimal cached a block")
	}
	for _, m := range modes {
		if err := SetMode(m); err != nil {
			t.Fatal(err)
		}
		for _, s := range Settings() {
			if s.Name == "mode" && (s.Text != m.String() || s.Source != SourceAPI) {
				t.Fatalf("Settings mode %+v, want %v", s, m)
			}
		}
		checkStats(t, "SetMode "+m.String())
	}
}

// TestDebugLog: Research logs slow-path events, Balanced nothing.
func TestDebugLog(t *testing.T) {
	config := withConfig(t)
	var buf strings.Builder
	prev := SetLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { SetLogger(prev) })
	config.bigCacheBytes = 0
	Free(Alloc(3 << 20))
	if buf.Len() != 0 {
		t.Fatalf("balanced logged %q", buf.String())
	}
	config.debug = debugVerbose
	Free(Alloc(3 << 20))
	Release()
	if s := buf.String(); !strings.Contains(s, `level=DEBUG msg="map large block`) || !strings.Contains(s, `msg="unmap large block`) ||
		!strings.Contains(s, `msg="scavenger pass`) {
		t.Fatalf("research log:\n%s", s)
	}
}

// TestReadmeOptionTable keeps the README's configuration table generated
// from the option table.
func TestReadmeOptionTable(t *testing.T) {
	checkGenerated(t, "README.md", "<!-- options:begin -->\n", "<!-- options:end -->", optionsMarkdown(), "")
}

// TestModesTable keeps the modes table in the README and in DESIGN.md
// generated from the option table.
func TestModesTable(t *testing.T) {
	want := modesMarkdown()
	checkGenerated(t, "README.md", "<!-- modes:begin -->\n", "<!-- modes:end -->", want, "")
	checkGenerated(t, "DESIGN.md", "\t| setting |", "\n\n", want, "\t")
}

// checkGenerated checks that file holds want between begin and end (each
// line with prefix), or rewrites it with -update-readme.
func checkGenerated(t *testing.T, file, begin, end, want, prefix string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if prefix != "" {
		want = prefix + strings.ReplaceAll(strings.TrimSuffix(want, "\n"), "\n", "\n"+prefix)
	}
	s := string(b)
	i := strings.Index(s, begin)
	if i < 0 {
		t.Fatalf("%s lacks %q", file, begin)
	}
	from := i + len(begin)
	if prefix != "" {
		from = i
	}
	j := strings.Index(s[from:], end)
	if j < 0 {
		t.Fatalf("%s lacks %q after %q", file, end, begin)
	}
	j += from
	if got := s[from:j]; got != want {
		if *updateReadme {
			s = s[:from] + want + s[j:]
			if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatalf("%s table is stale (go test -run 'ReadmeOptionTable|ModesTable' -update-readme); want:\n%s", file, want)
	}
}

// TestLearnOptions: the learning layer's settings come from the option
// table, with the mode choosing whether it learns.
func TestLearnOptions(t *testing.T) {
	p, warn := snapshotFrom(t, map[string]string{
		"HAKMEM_MODE":             "learning",
		"HAKMEM_LEARN_WINDOW_OPS": "5000",
		"HAKMEM_LEARN_WINDOW_MS":  "500",
		"HAKMEM_LEARN_CONFIDENCE": "90",
		"HAKMEM_LEARN_PAIRS":      "10",
		"HAKMEM_LEARN_CANARY":     "10",
		"HAKMEM_LEARN_SHIFT":      "40",
		"HAKMEM_LEARN_CONFIRM":    "4",
		"HAKMEM_LEARN_WEIGHT_CPU": "100",
	}, 0, nil)
	if warn != "" {
		t.Fatalf("warnings: %q", warn)
	}
	l := p.learn
	if l.Mode != learn.Live || l.MinWindowOps != 5000 || l.WindowNs != 500*ms || l.Confidence != 0.9 || l.MaxPairs != 10 ||
		l.CanaryEvery != 10 || l.Shift != 0.4 || l.FreezeWindows != 4 || l.DegradeWindows != 4 ||
		l.WCPU != 1 || l.WFaults != 0.3 {
		t.Fatalf("learn settings = %+v", l)
	}
	d := learn.Defaults()
	p, _ = snapshotFrom(t, map[string]string{}, 0, nil)
	if p.learn != d {
		t.Fatalf("defaults from the table %+v differ from defaultLearnSettings %+v", p.learn, d)
	}
	p, _ = snapshotFrom(t, map[string]string{"HAKMEM_MODE": "minimal"}, 0, nil)
	if p.learn.Mode != learn.Off {
		t.Fatalf("minimal mode learns: %+v", p.learn)
	}
}
