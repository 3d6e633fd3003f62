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
