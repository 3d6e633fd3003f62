package hakmem

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"
)

// shareChildEnv selects the shared-budget child's configuration: "shared"
// (ShareMemoryLimit) or "separate" (SetMemoryLimit and Go's limit, each set
// to the whole budget: what a user could do before the shared budget).
const shareChildEnv = "HAKMEM_TEST_SHARE_BUDGET"

// shareBudget is the budget of TestShareMemoryLimitBudget.
const shareBudget = 256 << 20

// TestShareMemoryLimitBudget: the Go heap and hakmem both grow toward one
// budget, in a fresh process each time; with the budget shared the process's
// peak RSS stays under it, and with both limits set to the whole budget (the
// control, all a program could do before) it does not. The child prints its
// figures; run with -v to see them.
func TestShareMemoryLimitBudget(t *testing.T) {
	if mode := os.Getenv(shareChildEnv); mode != "" {
		shareBudgetChild(mode)
		return
	}
	if testing.Short() {
		t.Skip("two child processes of ~1 s each")
	}
	run := func(mode string) map[string]int64 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestShareMemoryLimitBudget$", "-test.count=1")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "HAKMEM_") && !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "GOGC=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, shareChildEnv+"="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s child: %v\n%s", mode, err, out)
		}
		fig := map[string]int64{}
		for _, line := range strings.Split(string(out), "\n") {
			if rest, ok := strings.CutPrefix(line, "FIGURES "); ok {
				for _, f := range strings.Fields(rest) {
					k, v, _ := strings.Cut(f, "=")
					n, err := strconv.ParseInt(v, 10, 64)
					if err != nil {
						t.Fatalf("%s child: figure %q", mode, f)
					}
					fig[k] = n
				}
			}
		}
		for _, line := range strings.Split(string(out), "\n") {
			if rest, ok := strings.CutPrefix(line, "DETAIL "); ok {
				t.Logf("%-8s %s", mode, rest)
			}
		}
		if len(fig) == 0 {
			t.Fatalf("%s child printed no figures:\n%s", mode, out)
		}
		t.Logf("%-8s budget %d MiB: Go heap peak %d MiB, Go runtime peak %d MiB, hakmem mapped peak %d MiB, process peak RSS %d MiB, hakmem limit failures %d, Go limit updates %d",
			mode, fig["budget"]>>20, fig["goheap"]>>20, fig["gomem"]>>20, fig["hakmem"]>>20, fig["rss"]>>20, fig["fails"], fig["updates"])
		return fig
	}
	shared := run("shared")
	if shared["rss"] > shareBudget {
		t.Errorf("shared budget: process peak RSS %d MiB passed the budget of %d MiB", shared["rss"]>>20, shareBudget>>20)
	}
	if shared["fails"] == 0 || shared["hakmem"] < shareBudget/4 || shared["goheap"] < shareBudget/8 {
		t.Errorf("shared budget: the workload did not reach the budget on both sides: %v", shared)
	}
	separate := run("separate")
	if separate["rss"] <= shareBudget {
		t.Errorf("control (both limits at the whole budget) stayed under it (peak RSS %d MiB): the test shows nothing", separate["rss"]>>20)
	}
}

// shareBudgetChild grows a Go live set of a quarter of the budget, churned
// so that the Go heap would grow to twice it, while hakmem maps 256 KiB
// blocks, every page touched, until it is refused; then the Go churn goes
// on. It prints the peaks on one FIGURES line.
func shareBudgetChild(mode string) {
	switch mode {
	case "shared":
		ShareMemoryLimit(shareBudget)
	case "separate":
		debug.SetMemoryLimit(shareBudget)
		SetMemoryLimit(shareBudget)
	default:
		panic("unknown mode " + mode)
	}
	const chunk = 64 << 10
	const block = 256 << 10
	ring := make([][]byte, shareBudget/4/chunk)
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	var goHeap, goMem, hakmemPeak, fails uint64
	var failNs int64
	var held [][]byte
	sample := func() {
		metrics.Read(samples)
		goHeap = max(goHeap, samples[0].Value.Uint64())
		goMem = max(goMem, samples[1].Value.Uint64()-samples[2].Value.Uint64())
	}
	for i := range ring { // the Go live set first
		ring[i] = make([]byte, chunk)
	}
	t0 := time.Now()
	x := uint64(1)
	refused := 0
	for i := 0; i < 2000; i++ {
		for range 4 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			b := make([]byte, chunk)
			for j := 0; j < len(b); j += 4096 {
				b[j] = byte(i)
			}
			ring[x%uint64(len(ring))] = b
		}
		if refused > 0 { // a refusal costs a Release: retry now and then
			refused--
			sample()
			continue
		}
		tf := time.Now()
		b, err := TryAlloc(block)
		switch {
		case err == nil:
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			held = append(held, b)
		case errors.Is(err, ErrMemoryLimit):
			fails++
			failNs += time.Since(tf).Nanoseconds()
			refused = 64
		default:
			panic(err)
		}
		sample()
		heap.mu.Lock()
		hakmemPeak = max(hakmemPeak, heap.mapped())
		heap.mu.Unlock()
	}
	hakmemPeak = max(hakmemPeak, ReadStats().MappedBytes)
	n := 0
	for _, b := range ring {
		if b != nil {
			n++
		}
	}
	fmt.Printf("DETAIL Go live chunks %d, hakmem blocks held %d, loop %v, %d refusals took %v\n", n, len(held), time.Since(t0), fails, time.Duration(failNs))
	fmt.Printf("FIGURES budget=%d goheap=%d gomem=%d hakmem=%d rss=%d fails=%d updates=%d\n",
		shareBudget, goHeap, goMem, hakmemPeak, peakRSS(), fails, share.updates.Load())
	os.Exit(0)
}

// peakRSS is the process's peak resident set (VmHWM), bytes, or -1.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n << 10
		}
	}
	return -1
}

// TestShareMemoryLimitSetsGoLimit: sharing sets the Go runtime's limit to
// the total less hakmem's mappings (its metadata's included) less the
// headroom, follows hakmem as it
// maps, refuses hakmem past the total less the Go runtime's memory, and
// ending it gives Go its limit back.
func TestShareMemoryLimitSetsGoLimit(t *testing.T) {
	if !inFreshProcess(t) {
		return
	}
	before := debug.SetMemoryLimit(-1)
	const total = 1 << 30
	if prev := ShareMemoryLimit(total); prev != 0 {
		t.Fatalf("previous total %d, want 0", prev)
	}
	if got := ShareMemoryLimit(-1); got != total {
		t.Fatalf("read back %d", got)
	}
	headroom := int64(total / 100 * cfg().memHeadroom)
	// hakmem's share: its mappings and its metadata's.
	mapped := func() int64 {
		heap.mu.Lock()
		defer heap.mu.Unlock()
		return int64(heap.mapped() + metaMapped.Load())
	}
	goLim := debug.SetMemoryLimit(-1)
	want := total - headroom
	if !osMapsGoHeap {
		want -= mapped()
	}
	if goLim != want {
		t.Fatalf("Go limit %d, want %d (total %d, headroom %d, mapped %d)", goLim, want, total, headroom, mapped())
	}
	if st := ReadStats(); st.SharedBudget != total || st.GoMemoryLimit != goLim || st.GoLimitUpdates == 0 {
		t.Errorf("Stats: shared budget %d, Go limit %d, %d updates; want %d, %d, some", st.SharedBudget, st.GoMemoryLimit, st.GoLimitUpdates, total, goLim)
	}
	var report strings.Builder
	WriteStats(&report)
	if !strings.Contains(report.String(), "shared budget 1.0 GiB with the Go runtime") {
		t.Errorf("WriteStats lacks the shared budget:\n%s", report.String())
	}
	for _, name := range []string{"/hakmem/memory/shared-budget:bytes", "/hakmem/memory/go-limit:bytes"} {
		if !strings.Contains(readmeText(t), name) {
			t.Errorf("README.md does not name %s", name)
		}
	}
	// Map 64 MiB more: the Go limit follows within one step.
	var held [][]byte
	for range 32 {
		held = append(held, Alloc(2<<20))
	}
	goLim = debug.SetMemoryLimit(-1)
	want = total - headroom
	if !osMapsGoHeap {
		want -= mapped()
	}
	if d := want - goLim; d > shareStep(total)+2<<20 || d < -shareStep(total)-2<<20 {
		t.Errorf("after mapping: Go limit %d, want %d within a step", goLim, want)
	}
	// Set again, the Go limit is exact, hakmem's metadata mappings (the
	// large blocks' headers at least, by now) counted on hakmem's side.
	if metaMapped.Load() == 0 {
		t.Fatal("no metadata mapped after 64 MiB of blocks")
	}
	ShareMemoryLimit(total)
	goLim = debug.SetMemoryLimit(-1)
	want = total - headroom
	if !osMapsGoHeap {
		want -= mapped()
	}
	if goLim != want {
		t.Errorf("set again: Go limit %d, want %d (metadata %d)", goLim, want, metaMapped.Load())
	}
	// hakmem's bound: total less the Go runtime's memory less the headroom.
	// hakmem re-reads the runtime's memory at most every shareReadNs: wait
	// that long, or its reading may predate the 64 MiB just mapped (under
	// hakmem_nommap they grew the Go heap, and the bound would be that
	// much too high; it failed so once in twelve runs).
	time.Sleep(time.Duration(2 * shareReadNs))
	var ms = []metrics.Sample{{Name: goMemoryMetrics[0]}, {Name: goMemoryMetrics[1]}}
	metrics.Read(ms)
	goMem := int64(ms[0].Value.Uint64() - ms[1].Value.Uint64())
	if _, err := TryAlloc(int(total - goMem)); !errors.Is(err, ErrMemoryLimit) {
		t.Errorf("an allocation of the total less the Go runtime's memory: %v, want ErrMemoryLimit", err)
	}
	for _, b := range held {
		Free(b)
	}
	if prev := ShareMemoryLimit(0); prev != total {
		t.Errorf("ShareMemoryLimit(0) returned %d", prev)
	}
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("Go limit after sharing ended: %d, want %d", got, before)
	}
	if st := ReadStats(); st.SharedBudget != 0 || st.GoMemoryLimit != 0 {
		t.Errorf("Stats after sharing ended: %d, %d", st.SharedBudget, st.GoMemoryLimit)
	}
	if b, err := TryAlloc(int(total - goMem)); err != nil {
		t.Errorf("after sharing ended: %v", err)
	} else {
		Free(b)
	}
}

// TestMemoryLimitAuto: HAKMEM_MEMORY_LIMIT=auto takes GOMEMLIMIT as the
// shared total (in a fresh process), and the option accepts "auto".
func TestMemoryLimitAuto(t *testing.T) {
	if os.Getenv("HAKMEM_TEST_AUTO") == "1" {
		Free(Alloc(64)) // first use
		if got := ShareMemoryLimit(-1); got != 3<<30 {
			fmt.Printf("shared total %d, want %d\n", got, 3<<30)
			os.Exit(3)
		}
		if from := autoFrom.Load(); from == nil || *from != "GOMEMLIMIT" {
			fmt.Printf("auto from %v\n", from)
			os.Exit(3)
		}
		if lim := debug.SetMemoryLimit(-1); lim >= 3<<30 || lim < 3<<30-3<<30/100*50 {
			fmt.Printf("Go limit %d not set from the shared total\n", lim)
			os.Exit(3)
		}
		for _, s := range Settings() {
			if s.Name == "memory_limit" && (s.Text != "auto" || s.Source != SourceEnv) {
				fmt.Printf("setting %+v\n", s)
				os.Exit(3)
			}
		}
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryLimitAuto$", "-test.count=1")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HAKMEM_") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HAKMEM_TEST_AUTO=1", "HAKMEM_MEMORY_LIMIT=auto", "GOMEMLIMIT=3GiB")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("auto in a fresh process: %v\n%s", err, out)
	}

	p, warn := snapshotFrom(t, map[string]string{"HAKMEM_MEMORY_LIMIT": " AUTO "}, 0, nil)
	if p.memLimit != memLimitAuto || warn != "" {
		t.Errorf("auto: memLimit %d, warning %q", p.memLimit, warn)
	}
	p, warn = snapshotFrom(t, map[string]string{"HAKMEM_MEMORY_LIMIT": "-1"}, 0, nil)
	if p.memLimit != 0 || !strings.Contains(warn, "or auto") {
		t.Errorf("-1 accepted or the warning does not name auto: memLimit %d, warning %q", p.memLimit, warn)
	}
}

// TestCgroupMemoryLimit reads fake cgroup trees: v2 (the leaf's limit, a
// lower ancestor's, none, a namespace's root), v1, a hybrid host (v2
// without the memory controller, v1 with it), and no cgroup at all.
func TestCgroupMemoryLimit(t *testing.T) {
	type files map[string]string
	const v2mount = "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
	const v1mount = "31 1 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n" +
		"32 1 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
	cases := []struct {
		name     string
		fs       files
		want     int64
		wantFile string
		wantErr  bool
	}{
		{"v2 leaf", files{
			"proc/self/cgroup":                       "0::/app.slice/svc\n",
			"proc/self/mountinfo":                    "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" + v2mount,
			"sys/fs/cgroup/app.slice/svc/memory.max": "536870912\n",
			"sys/fs/cgroup/app.slice/memory.max":     "max\n",
			"sys/fs/cgroup/memory.max":               "max\n",
		}, 512 << 20, "/sys/fs/cgroup/app.slice/svc/memory.max", false},
		{"v2 ancestor lower", files{
			"proc/self/cgroup":                       "0::/app.slice/svc\n",
			"proc/self/mountinfo":                    v2mount,
			"sys/fs/cgroup/app.slice/svc/memory.max": "max\n",
			"sys/fs/cgroup/app.slice/memory.max":     "268435456\n",
		}, 256 << 20, "/sys/fs/cgroup/app.slice/memory.max", false},
		{"v2 no limit", files{
			"proc/self/cgroup":                    "0::/user.slice\n",
			"proc/self/mountinfo":                 v2mount,
			"sys/fs/cgroup/user.slice/memory.max": "max\n",
		}, 0, "", false},
		{"v2 namespace", files{
			"proc/self/cgroup":         "0::/\n",
			"proc/self/mountinfo":      "40 1 0:30 / /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n",
			"sys/fs/cgroup/memory.max": "1073741824\n",
		}, 1 << 30, "/sys/fs/cgroup/memory.max", false},
		{"v2 mounted subtree", files{
			"proc/self/cgroup":         "0::/kubepods/pod1/c1\n",
			"proc/self/mountinfo":      "40 1 0:30 /kubepods/pod1/c1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
			"sys/fs/cgroup/memory.max": "104857600\n",
		}, 100 << 20, "/sys/fs/cgroup/memory.max", false},
		{"v1", files{
			"proc/self/cgroup":    "12:memory:/docker/abc\n11:cpu,cpuacct:/docker/abc\n",
			"proc/self/mountinfo": v1mount,
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "2147483648\n",
			"sys/fs/cgroup/memory/docker/memory.limit_in_bytes":     "9223372036854771712\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes":            "9223372036854771712\n",
		}, 2 << 30, "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", false},
		{"v1 no limit", files{
			"proc/self/cgroup":                           "12:memory:/\n",
			"proc/self/mountinfo":                        v1mount,
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
		}, 0, "", false},
		{"hybrid", files{
			"proc/self/cgroup":                               "12:memory:/svc\n0::/svc\n",
			"proc/self/mountinfo":                            "30 1 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n" + v1mount,
			"sys/fs/cgroup/unified/svc/cgroup.procs":         "1\n",
			"sys/fs/cgroup/memory/svc/memory.limit_in_bytes": "734003200\n",
		}, 700 << 20, "/sys/fs/cgroup/memory/svc/memory.limit_in_bytes", false},
		{"escaped mount point", files{
			"proc/self/cgroup":       "0::/\n",
			"proc/self/mountinfo":    `40 1 0:30 / /mnt/cg\040root rw - cgroup2 cgroup2 rw` + "\n",
			"mnt/cg root/memory.max": "65536000\n",
		}, 65536000, "/mnt/cg root/memory.max", false},
		{"no cgroup", files{
			"proc/self/cgroup":    "",
			"proc/self/mountinfo": "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n",
		}, 0, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range c.fs {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, file, err := cgroupMemoryLimit(root)
			if (err != nil) != c.wantErr || got != c.want || file != c.wantFile {
				t.Errorf("got %d from %q (err %v), want %d from %q (error %v)", got, file, err, c.want, c.wantFile, c.wantErr)
			}
		})
	}
	// This machine's own: whatever it is, it parses.
	lim, file, err := cgroupMemoryLimit("/")
	t.Logf("this process: cgroup memory limit %d from %q (%v)", lim, file, err)
	if lim < 0 || lim == math.MaxInt64 {
		t.Errorf("this process's limit %d", lim)
	}
}

// freshChildEnv names the test a fresh child process runs.
const freshChildEnv = "HAKMEM_TEST_FRESH"

// inFreshProcess runs the calling test again in a fresh process, without
// the HAKMEM_ and GOMEMLIMIT variables but env, and reports its result: it
// returns true in the child, where the test body runs, and false in the
// parent.
func inFreshProcess(t *testing.T, env ...string) bool {
	t.Helper()
	if os.Getenv(freshChildEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HAKMEM_") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, freshChildEnv+"="+t.Name()), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Errorf("%s in a fresh process: %v\n%s", t.Name(), err, out)
	}
	return false
}

// readmeText is README.md.
func readmeText(t *testing.T) string {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
