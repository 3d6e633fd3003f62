package hakmem_test

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hakmem-go/hakmem"
)

// A block in flight: its slice and the seed its contents were written with.
type held struct {
	b    []byte
	seed uint64
}

// Blocks above this size get a sparse pattern (head, tail and one byte per
// page) so that big blocks stay cheap to write and check.
const denseLimit = 4 * kiB

func fillBlock(b []byte, seed uint64) {
	if len(b) <= denseLimit {
		fill(b, seed)
		return
	}
	fill(b[:kiB], seed)
	fill(b[len(b)-kiB:], seed^1)
	for i := kiB; i < len(b)-kiB; i += pageSize {
		b[i] = pattern(seed, i)
	}
}

// checkBlockFill returns the first offset (as checked) that does not hold
// fillBlock's pattern, or -1.
func checkBlockFill(b []byte, seed uint64) int {
	if len(b) <= denseLimit {
		return checkFill(b, seed)
	}
	if off := checkFill(b[:kiB], seed); off >= 0 {
		return off
	}
	if off := checkFill(b[len(b)-kiB:], seed^1); off >= 0 {
		return len(b) - kiB + off
	}
	for i := kiB; i < len(b)-kiB; i += pageSize {
		if b[i] != pattern(seed, i) {
			return i
		}
	}
	return -1
}

// stressSize draws a size: mostly tiny, some mid and l2.5, a few large.
func stressSize(r *rand.Rand, large bool) int {
	switch p := r.IntN(1000); {
	case p < 850:
		return 1 + r.IntN(tinyMax)
	case p < 960:
		return tinyMax + 1 + r.IntN(l25Min-tinyMax)
	case p < 995 || !large:
		return l25Min + r.IntN(miB-l25Min+1)
	default:
		return largeMin + r.IntN(3*miB)
	}
}

func TestStress(t *testing.T) {
	const workers = 8
	opsPer, maxLive := 30000, 128
	if testing.Short() {
		opsPer, maxLive = 4000, 64
	}
	setProcs(t, runtime.GOMAXPROCS(0)) // restored at the end whatever we set
	before := hakmem.ReadStats()

	inbox := make([]chan held, workers)
	for i := range inbox {
		inbox[i] = make(chan held, 32)
	}
	var progress atomic.Int64
	var failed atomic.Bool
	leftovers := make([][]held, workers)

	fail := func(format string, args ...any) {
		failed.Store(true)
		t.Errorf(format, args...)
	}
	checkAndFree := func(h held, where string) {
		if off := checkBlockFill(h.b, h.seed); off >= 0 {
			fail("%s: block %#x (%d bytes) corrupted at offset %d", where, addr(h.b), len(h.b), off)
		}
		if err := hakmem.TryFree(h.b); err != nil {
			fail("%s: TryFree(%#x, %d bytes): %v", where, addr(h.b), len(h.b), err)
		}
	}

	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(0x5EED, uint64(w)))
			stream := uint64(w) << 48
			live := make([]held, 0, maxLive)
			adopt := func(h held) {
				if len(live) < maxLive {
					live = append(live, h)
				} else {
					checkAndFree(h, "adopted")
				}
			}
			for op := 0; op < opsPer && !failed.Load(); op++ {
				stream++
				// Take in blocks other workers passed on.
				for drained := false; !drained; {
					select {
					case h := <-inbox[w]:
						adopt(h)
					default:
						drained = true
					}
				}
				switch p := r.IntN(100); {
				case p < 40 || len(live) == 0: // allocate
					n := stressSize(r, true)
					var b []byte
					if p%8 == 0 {
						b = hakmem.Calloc(n)
						if off := firstNonZero(b[:min(len(b), denseLimit)]); off >= 0 {
							fail("Calloc(%d) not zeroed at %d", n, off)
						}
					} else {
						b = hakmem.Alloc(n)
					}
					if len(b) != n || cap(b) < n {
						fail("Alloc(%d): len %d cap %d", n, len(b), cap(b))
						continue
					}
					h := held{b, blockSeed(b, stream)}
					fillBlock(b, h.seed)
					if len(live) == maxLive {
						i := r.IntN(len(live))
						checkAndFree(live[i], "evicted")
						live[i] = h
					} else {
						live = append(live, h)
					}
				case p < 75: // free a random block
					i := r.IntN(len(live))
					checkAndFree(live[i], "free")
					live[i] = live[len(live)-1]
					live = live[:len(live)-1]
				case p < 85: // realloc a random block
					i := r.IntN(len(live))
					h := live[i]
					if off := checkBlockFill(h.b, h.seed); off >= 0 {
						fail("before Realloc: block %#x (%d bytes) corrupted at %d", addr(h.b), len(h.b), off)
					}
					n := stressSize(r, false)
					nb := hakmem.Realloc(h.b, n)
					keep := min(len(h.b), n) // the kept prefix, where it was dense
					if len(h.b) > denseLimit {
						keep = min(kiB, n)
					}
					if off := checkFill(nb[:keep], h.seed); off >= 0 {
						fail("Realloc %d -> %d lost byte %d", len(h.b), n, off)
					}
					h = held{nb, blockSeed(nb, stream)}
					fillBlock(nb, h.seed)
					live[i] = h
				default: // hand a block to another worker
					i := r.IntN(len(live))
					h := live[i]
					live[i] = live[len(live)-1]
					live = live[:len(live)-1]
					select {
					case inbox[(w+1+r.IntN(workers-1))%workers] <- h:
					default:
						checkAndFree(h, "inbox full")
					}
				}
				progress.Add(1)
			}
			leftovers[w] = live
		})
	}

	// Change GOMAXPROCS mid-run: 1 at a quarter, 4 at half, 2 at three quarters.
	done := make(chan struct{})
	var ctl sync.WaitGroup
	ctl.Go(func() {
		total := int64(workers * opsPer)
		steps := []struct {
			at    int64
			procs int
		}{{total / 4, 1}, {total / 2, 4}, {3 * total / 4, 2}}
		for _, s := range steps {
			for progress.Load() < s.at {
				select {
				case <-done:
					return
				case <-time.After(200 * time.Microsecond):
				}
			}
			runtime.GOMAXPROCS(s.procs)
		}
	})
	wg.Wait()
	close(done)
	ctl.Wait()

	for w := range leftovers {
		for _, h := range leftovers[w] {
			checkAndFree(h, "leftover")
		}
		close(inbox[w])
		for h := range inbox[w] {
			checkAndFree(h, "leftover in inbox")
		}
	}
	after := hakmem.ReadStats()
	if live0, live1 := before.Allocs-before.Frees, after.Allocs-after.Frees; live0 != live1 {
		t.Errorf("Allocs-Frees was %d before the run and %d after, with everything freed", live0, live1)
	}
	if after.InUseBytes != before.InUseBytes {
		t.Errorf("InUseBytes %d before the run, %d after, with everything freed", before.InUseBytes, after.InUseBytes)
	}
	statsIdentity(t, after, "after stress")
	checkWorks(t)
}

// TestProducerConsumer: every block is allocated on one goroutine and freed on
// another, so each free is a cross-P free.
func TestProducerConsumer(t *testing.T) {
	const pairs = 4
	n := 20000
	if testing.Short() {
		n = 3000
	}
	setProcs(t, 4)
	var wg sync.WaitGroup
	for p := 0; p < pairs; p++ {
		ch := make(chan held, 128)
		wg.Go(func() {
			defer close(ch)
			r := rand.New(rand.NewPCG(0xC0FFEE, uint64(p)))
			for i := 0; i < n; i++ {
				b := hakmem.Alloc(stressSize(r, false))
				h := held{b, blockSeed(b, uint64(i))}
				fillBlock(b, h.seed)
				ch <- h
			}
		})
		wg.Go(func() {
			for h := range ch {
				if off := checkBlockFill(h.b, h.seed); off >= 0 {
					t.Errorf("block %#x (%d bytes) corrupted at %d", addr(h.b), len(h.b), off)
				}
				if err := hakmem.TryFree(h.b); err != nil {
					t.Errorf("cross-goroutine free: %v", err)
				}
			}
		})
	}
	wg.Wait()
	checkWorks(t)
}

// TestReleaseUnderTraffic calls Release and ReadStats over and over while
// workers allocate, check and free. It runs in a child process so that a
// crash fails this test only.
func TestReleaseUnderTraffic(t *testing.T) {
	if !isolate(t) {
		return
	}
	const workers = 4
	ops := 20000
	if testing.Short() {
		ops = 3000
	}
	setProcs(t, 4)
	var wg sync.WaitGroup
	var stop atomic.Bool
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(0xBEEF, uint64(w)))
			var live []held
			for i := 0; i < ops; i++ {
				if len(live) < 32 && r.IntN(2) == 0 || len(live) == 0 {
					b := hakmem.Alloc(stressSize(r, true))
					h := held{b, blockSeed(b, uint64(i))}
					fillBlock(b, h.seed)
					live = append(live, h)
					continue
				}
				j := r.IntN(len(live))
				h := live[j]
				if off := checkBlockFill(h.b, h.seed); off >= 0 {
					t.Errorf("block %#x (%d bytes) corrupted at %d", addr(h.b), len(h.b), off)
				}
				if err := hakmem.TryFree(h.b); err != nil {
					t.Errorf("TryFree: %v", err)
				}
				live[j] = live[len(live)-1]
				live = live[:len(live)-1]
			}
			for _, h := range live {
				if off := checkBlockFill(h.b, h.seed); off >= 0 {
					t.Errorf("block %#x (%d bytes) corrupted at %d", addr(h.b), len(h.b), off)
				}
				hakmem.Free(h.b)
			}
		})
	}
	var janitor sync.WaitGroup
	releases := 0
	janitor.Go(func() {
		for !stop.Load() {
			hakmem.Release()
			s := hakmem.ReadStats()
			if s.MappedBytes < s.InUseBytes {
				// Not exact under traffic, but in-use memory is mapped memory.
				t.Logf("under traffic: MappedBytes %d < InUseBytes %d", s.MappedBytes, s.InUseBytes)
			}
			releases++
			time.Sleep(100 * time.Microsecond)
		}
	})
	wg.Wait()
	stop.Store(true)
	janitor.Wait()
	t.Logf("%d Release calls during the run", releases)
	statsIdentity(t, hakmem.ReadStats(), "after Release under traffic")
	checkWorks(t)
}

// TestManyPs runs with GOMAXPROCS far above the core count, so that Ps with
// high ids allocate and free (per-P caches for every P).
func TestManyPs(t *testing.T) {
	for _, procs := range []int{64, 300} {
		setProcs(t, procs)
		runtime.GOMAXPROCS(procs)
		var wg sync.WaitGroup
		for g := 0; g < 2*procs; g++ {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(procs), uint64(g)))
				var live []held
				for i := 0; i < 200; i++ {
					b := hakmem.Alloc(1 + r.IntN(2*kiB))
					h := held{b, blockSeed(b, uint64(g))}
					fill(b, h.seed)
					live = append(live, h)
					if i%7 == 0 {
						runtime.Gosched()
					}
				}
				for _, h := range live {
					if off := checkFill(h.b, h.seed); off >= 0 {
						t.Errorf("GOMAXPROCS %d: block corrupted at %d", procs, off)
					}
					hakmem.Free(h.b)
				}
			})
		}
		wg.Wait()
	}
	checkWorks(t)
}
