package hakmem

import (
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReleaseLivePsOneCPU: Release flushes the caches of every live P even
// when the Ps' threads fight for the CPU, as on a loaded CI machine. The
// test runs in a child process whose threads all share one CPU (the
// affinity a thread forks with is the child's), with GOMAXPROCS 4: a P's
// thread then waits for its time slice (milliseconds), longer than a
// visitor spins for the others. It failed before Release kept visiting
// until every P was reached (CI: a P's checked-mode free stack was left
// full after Release in TestCheckedRelease).
func TestReleaseLivePsOneCPU(t *testing.T) {
	const env = "HAKMEM_TEST_ONE_CPU"
	if os.Getenv(env) == "" {
		var set unix.CPUSet
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			t.Skip("no CPU affinity here:", err)
		}
		old := set
		cpu := -1
		for i := range 1024 {
			if set.IsSet(i) {
				cpu = i
				break
			}
		}
		set.Zero()
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			t.Skip("cannot set CPU affinity:", err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), env+"=1", "GOMAXPROCS=4")
		out, err := cmd.CombinedOutput()
		if err := unix.SchedSetaffinity(0, &old); err != nil {
			t.Fatal(err)
		}
		if err != nil {
			t.Errorf("failed in its child process (%v):\n%s", err, out)
		}
		return
	}
	const procs = 4
	if runtime.GOMAXPROCS(0) != procs {
		t.Fatalf("GOMAXPROCS %d in the child", runtime.GOMAXPROCS(0))
	}
	ensureInit()
	StopScavenger()
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	for round := range rounds {
		// Every goroutine allocates and frees a little of every tier, so
		// the caches of the Ps they ran on hold blocks.
		var wg sync.WaitGroup
		var started atomic.Int32
		for range procs {
			wg.Go(func() {
				started.Add(1)
				for deadline := time.Now().Add(20 * time.Millisecond); started.Load() < procs && time.Now().Before(deadline); {
				}
				var live [][]byte
				for _, size := range releaseSizes {
					for range 8 {
						live = append(live, Alloc(size))
					}
				}
				for _, b := range live {
					Free(b)
				}
			})
		}
		wg.Wait()
		Release()
		if got := retiredCached(0); got != 0 {
			for _, pc := range *caches.Load() {
				t.Logf("P %d: epoch %d of %d", pc.id, pc.epoch.Load(), releaseEpoch.Load())
			}
			t.Fatalf("round %d: after Release the per-P caches still hold %d bytes (%s pinning)", round, got, pinVariant)
		}
	}
}
