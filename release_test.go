package hakmem

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// releaseSlack is how far above its level before the test MappedBytes may
// stay after everything is freed and Release has run.
const releaseSlack = 16 << 20

// releaseSizes are the request sizes the retired-P tests spread over the
// tiers: tiny, mid, bridge and l2.5 classes.
var releaseSizes = [...]int{48, 700, 3000, 12 << 10, 40 << 10, 100 << 10, 300 << 10}

// restoreProcs restores GOMAXPROCS when the test ends.
func restoreProcs(t *testing.T) {
	old := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

// releaseBase quiesces the allocator (scavenger stopped, caches released)
// and returns MappedBytes then: what the rest of the process still holds.
func releaseBase(t *testing.T) uint64 {
	t.Helper()
	ensureInit()
	StopScavenger()
	Release()
	return ReadStats().MappedBytes
}

// retiredCached is the bytes the caches of Ps with id >= n hold (quiescent
// allocator only).
func retiredCached(n int) uint64 {
	var sum uint64
	for _, pc := range *caches.Load() {
		if int(pc.id) < n {
			continue
		}
		for c := range pc.lists {
			sum += uint64(pc.lists[c].n) * uint64(classes[c].size)
		}
	}
	return sum
}

// TestReleaseRetiredPs fills the per-P caches of eight Ps, shrinks
// GOMAXPROCS to 1 and calls Release: the retired Ps' caches must be
// flushed too, so that the segments their blocks kept alive are unmapped.
func TestReleaseRetiredPs(t *testing.T) {
	restoreProcs(t)
	base := releaseBase(t)
	const procs = 8
	runtime.GOMAXPROCS(procs)

	// One goroutine per P (they spin until all have started, so that they
	// occupy different Ps), each allocating twice the cap of blocks of
	// every class and freeing them in random order: the last ones freed
	// fill its P's cache, scattered over many slabs.
	var started atomic.Int32
	var wg sync.WaitGroup
	for g := range procs {
		wg.Go(func() {
			started.Add(1)
			for deadline := time.Now().Add(50 * time.Millisecond); started.Load() < procs && time.Now().Before(deadline); {
			}
			r := rand.New(rand.NewPCG(uint64(g), 0xCAC4E))
			var live [][]byte
			for c := range classes {
				for range 2*int(classes[c].cap) + 1 {
					live = append(live, Alloc(int(classes[c].size)))
				}
			}
			r.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
			for _, b := range live {
				Free(b)
			}
		})
	}
	wg.Wait()
	runtime.GOMAXPROCS(1)
	held := retiredCached(1)
	Release()
	st := ReadStats()
	t.Logf("caches 1.. (the retired Ps; %s pinning) held %.1f MiB; after Release MappedBytes %.1f MiB (%.1f MiB before the test)", pinVariant,
		float64(held)/(1<<20), float64(st.MappedBytes)/(1<<20), float64(base)/(1<<20))
	if got := retiredCached(1); got != 0 {
		t.Errorf("after Release caches 1.. (the retired Ps) still hold %d bytes", got)
	}
	if st.MappedBytes > base+releaseSlack {
		t.Errorf("after freeing everything, GOMAXPROCS 8 -> 1 and Release: MappedBytes %d, %d before the test (slack %d)",
			st.MappedBytes, base, releaseSlack)
	}
	checkStats(t, "released")
}

// TestReleaseProcsFlipping runs allocation traffic while one goroutine
// flips GOMAXPROCS between 1 and 4 and another calls Release in a loop, so
// that Release drains retired Ps' caches while Ps come and go. Blocks must
// keep their contents, the recount must match the counters, and in the end
// (GOMAXPROCS 1, everything freed) Release must unmap what the traffic
// mapped.
func TestReleaseProcsFlipping(t *testing.T) {
	restoreProcs(t)
	base := releaseBase(t)
	runtime.GOMAXPROCS(4)
	dur := time.Second
	if testing.Short() {
		dur = 200 * time.Millisecond
	}
	var stop atomic.Bool
	var flips, releases atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for p := 1; !stop.Load(); p = 5 - p { // 1, 4, 1, 4, ...
			runtime.GOMAXPROCS(p)
			flips.Add(1)
			runtime.Gosched()
		}
	})
	wg.Go(func() {
		for !stop.Load() {
			Release()
			releases.Add(1)
			runtime.Gosched()
		}
	})
	const workers = 6
	var failed atomic.Bool
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 0xF11F))
			type block struct {
				b    []byte
				seed byte
			}
			var live []block
			check := func(x block) {
				if x.b[0] != x.seed || x.b[len(x.b)-1] != ^x.seed {
					if !failed.Swap(true) {
						t.Errorf("block %#x (%d bytes) lost its contents", addrOf(x.b), len(x.b))
					}
				}
				Free(x.b)
			}
			for i := 0; !stop.Load(); i++ {
				b := Alloc(releaseSizes[r.IntN(len(releaseSizes))] - r.IntN(40))
				x := block{b, byte(r.Uint32())}
				b[0], b[len(b)-1] = x.seed, ^x.seed
				live = append(live, x)
				if len(live) > 64 || r.IntN(3) == 0 {
					k := r.IntN(len(live))
					check(live[k])
					live[k] = live[len(live)-1]
					live = live[:len(live)-1]
				}
				if i%16 == 0 {
					runtime.Gosched()
				}
			}
			for _, x := range live {
				check(x)
			}
		})
	}
	time.Sleep(dur)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d GOMAXPROCS changes, %d Release calls in %v", flips.Load(), releases.Load(), dur)
	checkStats(t, "after the traffic")
	runtime.GOMAXPROCS(1)
	Release()
	st := checkStats(t, "released")
	if st.MappedBytes > base+releaseSlack {
		t.Errorf("after the traffic, everything freed, GOMAXPROCS 1 and Release: MappedBytes %d, %d before the test (slack %d)",
			st.MappedBytes, base, releaseSlack)
	}
}
