package main

import (
	"strings"
	"testing"
)

// withEnviron makes `hakmem config` validate env instead of the process's.
func withEnviron(t *testing.T, env ...string) {
	t.Helper()
	saved := environ
	environ = func() []string { return env }
	t.Cleanup(func() { environ = saved })
}

func TestConfigCommand(t *testing.T) {
	withEnviron(t, "PATH=/bin", "HAKMEM_MODE=fast")
	code, out, errs := runCmd(t, "config")
	if code != exitOK || !strings.Contains(out, "environment: ok") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"NAME ", "mode ", "HAKMEM_SEGMENT_CACHE", "HAKMEM_DEBUG", "minimal=0 fast=32", "default"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	withEnviron(t, "HAKMEM_MODE=Turbo", "HAKMEM_BIGCACHE_MB=-5", "HAKMEM_WARM=10", "HAKMEM_THP=2")
	code, out, _ = runCmd(t, "config")
	_, problems, _ := strings.Cut(out, "\nenvironment: ")
	want := `3 problem(s)
  HAKMEM_MODE="Turbo" is not valid: want one of minimal, fast, balanced, learning, research; ignored
  HAKMEM_BIGCACHE_MB="-5" is not valid: want an integer from 0 to 1048576 (MiB); ignored
  unknown variable HAKMEM_WARM (did you mean HAKMEM_WARM_MS?)
`
	if code != exitFail || problems != want {
		t.Fatalf("exit %d, problems:\n%s\nwant:\n%s", code, problems, want)
	}

	if code, _, errs := runCmd(t, "config", "--help"); code != exitOK || !strings.Contains(errs, "default < mode") {
		t.Fatalf("--help: exit %d\n%s", code, errs)
	}
	if code, _, _ := runCmd(t, "config", "extra"); code != exitUsage {
		t.Fatalf("extra argument: exit %d", code)
	}
}

// TestBenchModeEntries runs the mode entries side by side and checks that
// the provenance records hakmem's effective configuration.
func TestBenchModeEntries(t *testing.T) {
	code, out, errs := runCmd(t, "bench", "vm", "--quick", "--warmups", "0", "--format", "json",
		"--allocators", "hakmem-minimal,hakmem-balanced")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	for _, want := range []string{`"allocator": "hakmem-minimal"`, `"allocator": "hakmem-balanced"`, `"HAKMEM_MODE": {`, `"source": "default"`} {
		if !strings.Contains(out, want) {
			t.Errorf("result lacks %s", want)
		}
	}
}
