package hakmem_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hakmem-go/hakmem"
)

// TestFirstCallLarge checks, in a fresh process, that a large allocation
// as the very first call of hakmem reads the configuration (the BigCache
// is on by default, so the second pair hits).
func TestFirstCallLarge(t *testing.T) {
	if os.Getenv("HAKMEM_TEST_FIRST_LARGE") == "1" {
		for range 3 {
			hakmem.Free(hakmem.Alloc(2 << 20))
		}
		if st := hakmem.ReadStats(); st.BigCacheHits != 2 {
			os.Stdout.WriteString("FIRST-LARGE-MISS\n")
			os.Exit(3)
		}
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFirstCallLarge$")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HAKMEM_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HAKMEM_TEST_FIRST_LARGE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("first call large: %v\n%s", err, out)
	}
}

// TestConfigureFresh checks, in a fresh process, that Configure before
// first use wins over the environment, which wins over the mode, and that
// a second Configure is refused.
func TestConfigureFresh(t *testing.T) {
	if os.Getenv("HAKMEM_TEST_CONFIGURE") == "1" {
		err := hakmem.Configure(hakmem.Config{Mode: hakmem.Minimal, Options: map[string]int{"segment_cache": 3, "HAKMEM_THP": 2}})
		if err != nil {
			os.Stdout.WriteString("first: " + err.Error() + "\n")
			os.Exit(3)
		}
		if err := hakmem.Configure(hakmem.Config{}); err == nil {
			os.Stdout.WriteString("second Configure accepted\n")
			os.Exit(3)
		}
		got := map[string]string{}
		for _, s := range hakmem.Settings() {
			got[s.Name] = s.Text + " " + string(s.Source)
		}
		want := map[string]string{
			"mode": "minimal api", "segment_cache": "3 api", "thp": "on api",
			"warm_ms": "500 env", "bigcache_mb": "0 mode", "cold_ms": "2000 default",
		}
		for k, v := range want {
			if got[k] != v {
				os.Stdout.WriteString(k + ": " + got[k] + ", want " + v + "\n")
				os.Exit(3)
			}
		}
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestConfigureFresh$")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HAKMEM_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HAKMEM_TEST_CONFIGURE=1", "HAKMEM_MODE=fast", "HAKMEM_WARM_MS=500", "HAKMEM_SEGMENT_CACHE=5")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("Configure in a fresh process: %v\n%s", err, out)
	}
}
