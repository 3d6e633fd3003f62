package hakmem_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hakmem-go/hakmem"
)

var heapProfHeld [][]byte

//go:noinline
func heapProfBigHolder() {
	for range 64 << 20 / 4000 { // 64 MiB in 4000-byte blocks
		heapProfHeld = append(heapProfHeld, hakmem.Alloc(4000))
	}
}

//go:noinline
func heapProfSmallHolder() {
	for range 16 << 20 / 100 { // 16 MiB in 100-byte blocks: about 32 samples
		heapProfHeld = append(heapProfHeld, hakmem.Alloc(100))
	}
}

//go:noinline
func heapProfLargeHolder() {
	for range 8 {
		heapProfHeld = append(heapProfHeld, hakmem.Alloc(3<<20)) // 24 MiB in large blocks
	}
}

// TestHeapProfilePprofTop writes a heap profile while three functions hold
// 64, 24 and 16 MiB and reads it with `go tool pprof -top`: each is listed
// with its inuse_space within a factor of 2, and freeing brings it down.
func TestHeapProfilePprofTop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool pprof")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	if !defaultProfileChild(t) {
		return
	}
	st0 := hakmem.ReadStats()
	heapProfBigHolder()
	heapProfSmallHolder()
	heapProfLargeHolder()
	// Sampled blocks are blocks like the others to the statistics.
	st := hakmem.ReadStats()
	if d := st.LiveBlocks - st0.LiveBlocks; d != int64(len(heapProfHeld)) {
		t.Errorf("LiveBlocks grew by %d, %d blocks held (%d samples)", d, len(heapProfHeld), st.ProfileSamples)
	}
	if os.Getenv("HAKMEM_CHECK") != "1" && st.MappedBytes != st.InUseBytes+st.CachedBytes+st.FreeBytes {
		t.Errorf("mapped %d != in use %d + cached %d + free %d with %d samples", st.MappedBytes, st.InUseBytes, st.CachedBytes, st.FreeBytes, st.ProfileSamples)
	}
	defer func() {
		for _, b := range heapProfHeld {
			hakmem.Free(b)
		}
		heapProfHeld = nil
	}()
	if hakmem.ReadStats().ProfileSamples == 0 {
		t.Fatal("no live samples")
	}
	top := pprofTop(t, goBin, "inuse_space")
	for fn, want := range map[string]float64{"heapProfBigHolder": 64 << 20, "heapProfLargeHolder": 24 << 20, "heapProfSmallHolder": 16 << 20} {
		got, ok := top[fn]
		if !ok {
			t.Errorf("go tool pprof -top does not list %s:\n%v", fn, top)
			continue
		}
		t.Logf("%s: inuse_space %.1f MiB (holds %.0f MiB)", fn, got/(1<<20), want/(1<<20))
		if got < want/2 || got > want*2 {
			t.Errorf("%s: inuse_space %.1f MiB, want %.0f MiB within a factor of 2", fn, got/(1<<20), want/(1<<20))
		}
	}
	for _, b := range heapProfHeld {
		hakmem.Free(b)
	}
	heapProfHeld = nil
	top = pprofTop(t, goBin, "inuse_space")
	if got := top["heapProfBigHolder"]; got > 8<<20 {
		t.Errorf("after the frees heapProfBigHolder still holds %.1f MiB", got/(1<<20))
	}
	if got := pprofTop(t, goBin, "alloc_space")["heapProfBigHolder"]; got < 32<<20 {
		t.Errorf("alloc_space of heapProfBigHolder: %.1f MiB, want about 64", got/(1<<20))
	}
}

// defaultProfileChild runs the calling test in a child process with
// HAKMEM_PROFILE_RATE unset (the package's tests turn the profile off:
// profile_off_test.go), and reports whether this is the child.
func defaultProfileChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv("HAKMEM_PROFILE_CHILD") == t.Name() {
		return true
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HAKMEM_PROFILE_RATE=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(env, "HAKMEM_PROFILE_CHILD="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s failed in its child process (%v):\n%s", t.Name(), err, out)
	} else if testing.Verbose() {
		t.Logf("child process:\n%s", out)
	}
	return false
}

var topLine = regexp.MustCompile(`^\s*([0-9.]+)([kMGT]?B)\s+[0-9.]+%\s+[0-9.]+%\s+[0-9.]+[kMGT]?B\s+[0-9.]+%\s+(\S+)`)

// pprofTop writes a profile and returns go tool pprof -top's flat values
// by function (the name after the last dot), in bytes.
func pprofTop(t *testing.T, goBin, index string) map[string]float64 {
	t.Helper()
	var buf bytes.Buffer
	if err := hakmem.WriteHeapProfile(&buf); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "heap.pb.gz")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(goBin, "tool", "pprof", "-top", "-sample_index="+index, file).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	unit := map[string]float64{"B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}
	top := map[string]float64{}
	for _, l := range strings.Split(string(out), "\n") {
		if m := topLine.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			name := m[3][strings.LastIndex(m[3], ".")+1:]
			top[name] += v * unit[m[2]]
		}
	}
	return top
}
