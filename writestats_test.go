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
	h := NewHeap()
	defer h.Close()
	h.Alloc(100)
	var out strings.Builder
	if err := WriteStats(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"default", "BigCache:", "mmap ", "tiny", "l2.5", "large", "committed", " owning "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	t.Log("\n" + out.String())
}

// TestCallsiteDiscovery: plain allocations from one line of code show up
// in WriteStats as a site worth naming, with this file and line.
func TestCallsiteDiscovery(t *testing.T) {
	p := withConfig(t)
	p.callsiteSample = 1
	var bs [][]byte
	for i := 0; i < 200; i++ {
		bs = append(bs, Alloc(3<<20)) // large: every one takes the slow path
	}
	for _, b := range bs {
		Free(b)
	}
	var out strings.Builder
	if err := WriteStats(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "writestats_test.go:") || !strings.Contains(out.String(), "TestCallsiteDiscovery") {
		t.Fatalf("the call site is not listed:\n%s", out.String())
	}
}
