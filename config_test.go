package hakmem

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite README.md's option table")

func TestOptionsFromEnvironment(t *testing.T) {
	StopScavenger() // it reads config, which this test writes
	saved := config
	defer func() { config = saved }()
	env := map[string]string{
		"HAKMEM_SEGMENT_CACHE": "abc",
		"HAKMEM_PCACHE_SCALE":  " 50 ",
	}
	var warn strings.Builder
	applyOptions(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &warn)
	if config.segmentCache != 8 || config.pcacheScale != 50 {
		t.Fatalf("config = %+v", config)
	}
	want := "hakmem: HAKMEM_SEGMENT_CACHE=\"abc\" is not valid: want an integer from 0 to 4096 (segments); using the default 8\n"
	if warn.String() != want {
		t.Fatalf("warning:\n%q\nwant\n%q", warn.String(), want)
	}
	warn.Reset()
	env = map[string]string{"HAKMEM_PCACHE_SCALE": "5000"}
	applyOptions(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &warn)
	if config.pcacheScale != 100 || !strings.Contains(warn.String(), "HAKMEM_PCACHE_SCALE") {
		t.Fatalf("out of range accepted: %+v %q", config, warn.String())
	}
}

// TestReadmeOptionTable keeps the README's configuration table generated
// from the option table.
func TestReadmeOptionTable(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- options:begin -->\n", "<!-- options:end -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("README.md lacks the options markers")
	}
	if got, want := s[i+len(begin):j], optionsMarkdown(); got != want {
		if *updateReadme {
			s = s[:i+len(begin)] + want + s[j:]
			if err := os.WriteFile("README.md", []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatalf("README option table is stale (go test -run ReadmeOptionTable -update-readme); want:\n%s", want)
	}
}
