package hakmem

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCheckedSweep: a write after free into a block that stays in the
// quarantine is found by the background sweep, with no call of the
// program's: logged and counted, never a panic (the sweep runs on its own
// goroutine). The block is still reported once more when the program's
// own call meets it (CheckQuarantine here), on the program's goroutine.
func TestCheckedSweep(t *testing.T) {
	if !checkedChild(t, "HAKMEM_CHECK_SWEEP_MS=10", "HAKMEM_CHECK_STACKS=0", "HAKMEM_CHECK_GUARD=0") {
		return
	}
	before := ReadStats().CheckFailures
	b := Alloc(300)
	Free(b)
	b[7] = 1
	deadline := time.Now().Add(10 * time.Second) // a bound on waiting, not a timing target
	for ReadStats().CheckFailures == before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := ReadStats().CheckFailures - before; got != 1 {
		t.Fatalf("the sweep counted %d failures, want 1", got)
	}
	time.Sleep(50 * time.Millisecond) // more sweeps: the block is reported once
	if got := ReadStats().CheckFailures - before; got != 1 {
		t.Fatalf("the sweep counted %d failures after more sweeps, want 1", got)
	}
	var reps []CheckReport
	OnCheckFailure(func(r CheckReport) { reps = append(reps, r) })
	defer OnCheckFailure(nil)
	if n := CheckQuarantine(); n != 1 || len(reps) != 1 || !errors.Is(reps[0].Err, ErrUseAfterFree) || reps[0].Background || reps[0].Offset != 7 {
		t.Fatalf("CheckQuarantine: %d %+v", n, reps)
	}
}

// TestCheckedSweepLogs runs TestCheckedSweep's child and reads its stderr:
// the sweep's report is logged there with the allocating caller.
func TestCheckedSweepLogs(t *testing.T) {
	if os.Getenv(checkChildEnv) != "" {
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckedSweep$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), checkChildEnv+"=TestCheckedSweep", "HAKMEM_CHECK=1", "HAKMEM_CHECK_SWEEP_MS=10", "HAKMEM_CHECK_STACKS=0", "HAKMEM_CHECK_GUARD=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	if s := stderr.String(); !strings.Contains(s, "hakmem: background sweep 0x") || !strings.Contains(s, "use after free: written after free: byte 7 changed") || !strings.Contains(s, "allocated by github.com/hakmem-go/hakmem.TestCheckedSweep ") {
		t.Errorf("the sweep's log: %q", s)
	}
}

// TestCheckedSweepOff: HAKMEM_CHECK_SWEEP_MS=0 runs no sweep.
func TestCheckedSweepOff(t *testing.T) {
	if !checkedChild(t, "HAKMEM_CHECK_SWEEP_MS=0") {
		return
	}
	Free(Alloc(100))
	if checkSweeper.running.Load() {
		t.Error("a sweep runs with HAKMEM_CHECK_SWEEP_MS=0")
	}
}

// TestCheckedLargeQuarantine: large blocks share one quarantine bounded by
// HAKMEM_CHECK_QUARANTINE_MB, whatever the number of Ps (a per-P share of
// 16 MiB over 16 Ps is 1 MiB, which a 2 MiB block would leave at once), so
// a 2 MiB and a 6 MiB block are both held and a write after free into
// either is found. A block over the bound is freed at once.
func TestCheckedLargeQuarantine(t *testing.T) {
	if !checkedChild(t, "GOMAXPROCS=16", "HAKMEM_CHECK_QUARANTINE_MB=16", "HAKMEM_CHECK_SWEEP_MS=0", "HAKMEM_CHECK_STACKS=0", "HAKMEM_CHECK_GUARD=0") {
		return
	}
	var reps []CheckReport
	OnCheckFailure(func(r CheckReport) { reps = append(reps, r) })
	defer OnCheckFailure(nil)
	// Fill every P's cache list so that the small quarantines are in use.
	for range 100 {
		Free(Alloc(1000))
	}
	a, b := Alloc(2<<20), Alloc(6<<20)
	Free(a)
	Free(b)
	a[100], b[5<<20] = 1, 1
	if n := CheckQuarantine(); n != 2 || len(reps) != 2 {
		t.Fatalf("CheckQuarantine after writes to freed 2 and 6 MiB blocks: %d, %v", n, reps)
	}
	for _, r := range reps {
		if !errors.Is(r.Err, ErrUseAfterFree) || r.Class != -1 {
			t.Errorf("report %v", r.Error())
		}
	}
	st := ReadStats()
	big := Alloc(17 << 20)
	Free(big) // over the bound: freed at once
	if d := ReadStats().LargeBytes - st.LargeBytes; d > 0 {
		t.Errorf("a 17 MiB block freed with a 16 MiB quarantine: %d large bytes more in use", d)
	}
	// A 12 MiB block passes the bound: the older blocks leave, verified
	// (CheckQuarantine poisoned them again), not reported again.
	c := Alloc(12 << 20)
	Free(c)
	reps = reps[:0]
	if n := CheckQuarantine(); n != 0 {
		t.Errorf("the blocks that left were reported again: %v", reps)
	}
}

// TestCheckedLargeLimit: a large allocation over the memory limit because
// the quarantine holds freed large blocks empties the quarantine (Release)
// and tries again, as a small one does.
func TestCheckedLargeLimit(t *testing.T) {
	if !checkedChild(t, "HAKMEM_CHECK_GUARD=0") {
		return
	}
	defer SetMemoryLimit(SetMemoryLimit(-1))
	SetMemoryLimit(int64(ReadStats().MappedBytes) + 16<<20)
	a := Alloc(8 << 20)
	Free(a) // quarantined
	b, err := TryAlloc(12 << 20)
	if err != nil {
		t.Fatalf("12 MiB with 8 MiB quarantined under a 16 MiB limit: %v", err)
	}
	Free(b)
}
