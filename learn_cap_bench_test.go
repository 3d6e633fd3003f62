package hakmem

import (
	"strconv"
	"testing"
	"time"

	"github.com/hakmem-go/hakmem/internal/learn"
)

// BenchmarkCapThrash: workloads where the generated per-P caps thrash,
// with the capacity learner off (HAKMEM_LEARNING=off: the generated caps)
// and live (the learner goroutine on the real clock), interleaved: with
// -count N the two run alternately. One operation is one burst: burst
// blocks of one size allocated, then all freed. Before the timer starts,
// capWarm of the same bursts give the learner a few windows (each at least
// 50 ms) to settle. Reported: ns/op (a burst), ns/block (one Alloc and its
// Free), the class's cap at the end, and the per-P cached bytes right after
// the last burst (what the caps cost in memory).
//
//	burst-S-xK: one goroutine, bursts of K times the generated cap of
//	size S.
//	prodcons-S-xK: a producer allocates bursts and hands each to a
//	consumer goroutine over a channel, which frees it. While the two run
//	on different Ps, each P only refills or only flushes and no cap can
//	help (the learner counts no capacity misses); but the scheduler often
//	runs the woken consumer on the producer's P (runnext), and then the
//	P refills and flushes the same class like a single goroutine.
func BenchmarkCapThrash(b *testing.B) {
	for _, w := range []struct {
		size, times int
		prodcons    bool
	}{
		{16, 4, false}, {256, 4, false}, {1024, 4, false}, {4096, 2, false}, {256, 4, true},
	} {
		c := int(sizeClass(uintptr(w.size)))
		burst := w.times * int(classes[c].cap)
		name := "burst-"
		if w.prodcons {
			name = "prodcons-"
		}
		name += strconv.Itoa(w.size) + "-x" + strconv.Itoa(w.times)
		for _, live := range []bool{false, true} {
			mode := "off"
			if live {
				mode = "live"
			}
			b.Run(name+"/"+mode, func(b *testing.B) {
				restore := capBenchMode(live)
				defer restore()
				run := burstLoop
				if w.prodcons {
					run = prodConsLoop
				}
				run(b, w.size, burst)
				st := ReadStats()
				b.ReportMetric(float64(st.Classes[c].Cap), "cap")
				b.ReportMetric(float64(st.PerPCachedBytes), "perP-B")
			})
		}
	}
}

// capWarm is how long a benchmark runs its bursts before the timer starts:
// six learner ticks (100 ms), time for the three or four doublings a 4x
// burst needs.
const capWarm = 600 * time.Millisecond

// capBenchMode switches learning to live (the capacity learner's goroutine
// starts at the next refill) or off, with fresh generated caps, and returns
// a function that puts the previous policy back.
func capBenchMode(live bool) (restore func()) {
	ensureInit()
	StopScavenger()
	stopLearner()
	saved := cfg()
	p := *saved
	p.learning = learn.Off
	pol.Store(&p)
	capSetMode(learn.Off)
	capLearn.mu.Lock()
	capLearn.st = capState{}
	capLearn.mu.Unlock()
	Release()
	if live {
		q := p
		q.learning = learn.Live
		pol.Store(&q)
	}
	return func() {
		stopLearner()
		pol.Store(&p)
		capSetMode(learn.Off)
		pol.Store(saved)
		Release()
	}
}

// burstLoop: one goroutine, bursts of n blocks of size bytes.
func burstLoop(b *testing.B, size, n int) {
	bs := make([][]byte, n)
	one := func() {
		for i := range bs {
			bs[i] = Alloc(size)
			bs[i][0] = 1
		}
		for _, x := range bs {
			Free(x)
		}
	}
	for t0 := time.Now(); time.Since(t0) < capWarm; {
		one()
	}
	for b.Loop() {
		one()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/block")
}

// prodConsLoop: the producer (the benchmark goroutine) allocates bursts of
// n blocks and sends each to a consumer goroutine, which frees it; two
// bursts in flight at most.
func prodConsLoop(b *testing.B, size, n int) {
	ch := make(chan [][]byte, 2)
	back := make(chan [][]byte, 3)
	done := make(chan struct{})
	for range 3 {
		back <- make([][]byte, n)
	}
	go func() {
		for bs := range ch {
			for _, x := range bs {
				Free(x)
			}
			back <- bs
		}
		close(done)
	}()
	one := func() {
		bs := <-back
		for i := range bs {
			bs[i] = Alloc(size)
			bs[i][0] = 1
		}
		ch <- bs
	}
	for t0 := time.Now(); time.Since(t0) < capWarm; {
		one()
	}
	for b.Loop() {
		one()
	}
	close(ch)
	<-done
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/block")
}
