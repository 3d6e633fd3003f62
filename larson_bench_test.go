package hakmem_test

import (
	"bufio"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hakmem-go/hakmem"
)

// Larson-style server workload (Larson & Krishnan): each goroutine owns
// larsonSlots blocks; a step frees a random victim and puts a new block of a
// random size (8..1000 bytes) in its place, writing its first and last byte.
// b.N steps are split over GOMAXPROCS goroutines; every larsonRound steps a
// goroutine hands its slots to a successor goroutine it starts, and exits,
// so blocks are freed by goroutines other than the one that allocated them.
const (
	larsonSlots   = 5000
	larsonMinSize = 8
	larsonMaxSize = 1000
	larsonRound   = 10000 // steps per goroutine before its successor takes over
	larsonSample  = 4096  // steps between samples of live and mapped bytes
)

type larsonImpl struct {
	name    string
	alloc   func(int) []byte
	free    func([]byte)
	release func()        // return cached memory before measuring RSS
	mapped  func() uint64 // bytes the allocator has mapped; nil if unknown
	// held reports, at the end of a run, the bytes of the blocks held
	// (class-rounded) and of free blocks kept for reuse; nil if unknown.
	held   func() (inUse, cached uint64)
	finish func([][]byte) // drop or free every slot at the end
	// own, if set, gives each goroutine of a chain its own allocator
	// (a Heap), ended when the goroutine hands over to its successor.
	own func() (alloc func(int) []byte, free func([]byte), end func())
}

type larsonWorker struct {
	slots [][]byte
	rng   *rand.Rand
	live  atomic.Int64 // exact live bytes of this worker, published each sample
	_     [64]byte     // keep workers' counters on separate cache lines
}

func BenchmarkLarson(b *testing.B) {
	impls := []larsonImpl{
		{
			name:    "hakmem",
			alloc:   hakmem.Alloc,
			free:    hakmem.Free,
			release: hakmem.Release,
			mapped:  hakmem.MappedBytes, // one lock; ReadStats would cost this run 10-20%
			held: func() (uint64, uint64) {
				st := hakmem.ReadStats()
				return st.InUseBytes, st.CachedBytes
			},
			finish: func(s [][]byte) {
				for _, p := range s {
					hakmem.Free(p)
				}
			},
		},
		{
			name:    "heap",
			alloc:   hakmem.Alloc,
			free:    hakmem.Free,
			release: hakmem.Release,
			mapped:  hakmem.MappedBytes,
			finish: func(s [][]byte) {
				for _, p := range s {
					hakmem.Free(p)
				}
			},
			// As a native successor thread gets a new thread-local heap:
			// a Heap per goroutine, detached when it hands its slots on
			// (the successor frees the inherited blocks remotely).
			own: func() (func(int) []byte, func([]byte), func()) {
				h := hakmem.NewHeap()
				return h.Alloc, h.Free, h.Detach
			},
		},
		{
			name:    "make",
			alloc:   func(n int) []byte { return make([]byte, n) },
			free:    func([]byte) {},
			release: func() { runtime.GC(); debug.FreeOSMemory() },
			finish:  func([][]byte) {},
		},
	}
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) { runLarson(b, impl) })
	}
}

func runLarson(b *testing.B, impl larsonImpl) {
	procs := runtime.GOMAXPROCS(0)
	impl.release()
	rssOK := resetPeakRSS()
	rss0, _ := procStatusKB("VmRSS")
	goHeap0 := goHeapInUse()

	workers := make([]*larsonWorker, procs)
	var peakLive, peakMapped atomic.Int64
	sample := func() {
		var live int64
		for _, w := range workers {
			live += w.live.Load()
		}
		atomicMax(&peakLive, live)
		if impl.mapped != nil {
			atomicMax(&peakMapped, int64(impl.mapped()))
		}
	}
	for i := range workers {
		w := &larsonWorker{
			slots: make([][]byte, larsonSlots),
			rng:   rand.New(rand.NewPCG(0x1A850, uint64(i))),
		}
		var live int64
		for j := range w.slots {
			n := larsonMinSize + w.rng.IntN(larsonMaxSize-larsonMinSize+1)
			p := impl.alloc(n)
			p[0], p[n-1] = 1, 1
			w.slots[j] = p
			live += int64(n)
		}
		w.live.Store(live)
		workers[i] = w
	}
	sample()

	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i, w := range workers {
		steps := b.N / procs
		if i == 0 {
			steps += b.N % procs
		}
		wg.Add(1)
		var run func(left int)
		run = func(left int) {
			n := min(left, larsonRound)
			live := w.live.Load()
			alloc, free := impl.alloc, impl.free
			if impl.own != nil {
				a, f, end := impl.own()
				alloc, free = a, f
				defer end()
			}
			for s := 1; s <= n; s++ {
				v := w.rng.IntN(larsonSlots)
				live -= int64(len(w.slots[v]))
				free(w.slots[v])
				sz := larsonMinSize + w.rng.IntN(larsonMaxSize-larsonMinSize+1)
				p := alloc(sz)
				p[0], p[sz-1] = byte(s), byte(s)
				w.slots[v] = p
				live += int64(sz)
				if s%larsonSample == 0 {
					w.live.Store(live)
					sample()
				}
			}
			w.live.Store(live)
			if left > n {
				go run(left - n) // the successor inherits the slots
				return
			}
			wg.Done()
		}
		go run(steps)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sample()

	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	live := float64(peakLive.Load())
	if impl.mapped != nil && live > 0 {
		b.ReportMetric(float64(peakMapped.Load())/live, "mapped/live")
	}
	if hwm, ok := procStatusKB("VmHWM"); ok && rssOK && live > 0 && hwm >= rss0 {
		b.ReportMetric(float64((hwm-rss0)*1024)/live, "rssgrowth/live")
	}
	// What the RSS growth is made of: the Go heap's growth is the
	// harness's (slot arrays, goroutines), the same for every allocator;
	// rounded/live is size-class rounding; cached/live the free blocks
	// the allocator keeps (per-P caches, transfer caches, partly used
	// slabs), all resident once touched.
	if live > 0 {
		b.ReportMetric(float64(int64(goHeapInUse())-int64(goHeap0))/live, "goheap/live")
		if impl.held != nil {
			inUse, cached := impl.held()
			b.ReportMetric(float64(inUse)/float64(lastLive(workers)), "rounded/live")
			b.ReportMetric(float64(cached)/live, "cached/live")
			b.ReportMetric(larsonClassPeaks(procs, b.N), "classpeaks/live")
		}
	}
	for _, w := range workers {
		impl.finish(w.slots)
	}
}

// larsonClassPeaks replays the run's size sequence (the same seeds, the
// workers' steps interleaved in turn) through hakmem's size classes and
// returns the sum over classes of the class's peak live blocks times its
// size, over the peak live bytes. A free block of one class serves only
// that class, so an allocator with size classes that keeps the pages it
// touched (returning a page needs every block on it free, which random
// frees of blocks under 1 KiB almost never give) holds at least this much
// at some point: the floor of rssgrowth/live, less the Go heap's share.
func larsonClassPeaks(procs, steps int) float64 {
	var sizes []int
	for _, c := range hakmem.ReadStats().Classes {
		sizes = append(sizes, c.Size)
	}
	class := func(n int) int {
		i, _ := slices.BinarySearch(sizes, n)
		return i
	}
	count := make([]int, len(sizes))
	peak := make([]int, len(sizes))
	slots := make([][]int, procs)
	rngs := make([]*rand.Rand, procs)
	var live, peakLive int
	for w := range slots {
		rngs[w] = rand.New(rand.NewPCG(0x1A850, uint64(w)))
		slots[w] = make([]int, larsonSlots)
		for j := range slots[w] {
			n := larsonMinSize + rngs[w].IntN(larsonMaxSize-larsonMinSize+1)
			slots[w][j] = n
			count[class(n)]++
			live += n
		}
	}
	copy(peak, count)
	peakLive = live
	for s := range steps {
		w := s % procs
		v := rngs[w].IntN(larsonSlots)
		old := slots[w][v]
		count[class(old)]--
		n := larsonMinSize + rngs[w].IntN(larsonMaxSize-larsonMinSize+1)
		c := class(n)
		count[c]++
		peak[c] = max(peak[c], count[c])
		live += n - old
		slots[w][v] = n
		peakLive = max(peakLive, live)
	}
	var held int
	for c, p := range peak {
		held += p * sizes[c]
	}
	return float64(held) / float64(peakLive)
}

// lastLive is the workers' live bytes now.
func lastLive(ws []*larsonWorker) int64 {
	var n int64
	for _, w := range ws {
		n += w.live.Load()
	}
	return n
}

// goHeapInUse is the Go heap's bytes in spans in use.
func goHeapInUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func atomicMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// resetPeakRSS resets the kernel's VmHWM to the current RSS.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// procStatusKB reads one "Name:  N kB" line of /proc/self/status.
func procStatusKB(name string) (uint64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name+":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, false
		}
		v, err := strconv.ParseUint(fields[0], 10, 64)
		return v, err == nil
	}
	return 0, false
}
