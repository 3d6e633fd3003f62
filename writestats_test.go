package hakmem

import (
	"strings"
	"testing"
)

// TestWriteStatsContent: the report names a busy site and the BigCache.
func TestWriteStatsContent(t *testing.T) {
	s := NewSite("report-site")
	b := s.Alloc(3 << 20)
	Free(b)
	var out strings.Builder
	if err := WriteStats(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"default", "BigCache:", "mmap ", "tiny", "l2.5", "large", "committed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	t.Log("\n" + out.String())
}
