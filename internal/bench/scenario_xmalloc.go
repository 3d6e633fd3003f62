package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Constants of the xmalloc scenario.
const (
	// xmallocQueue is the number of batches in flight per pair (in the
	// channel or being filled/emptied). It bounds the memory the program
	// itself holds: pairs x (queue+2) x batch x max size, about 400 KiB
	// with the defaults, so RSS growth beyond that is the allocator's.
	xmallocQueue = 4
	// xmallocRSSSamples is how many times the resident set is read during
	// a run, to expose growth that a peak alone would not show.
	xmallocRSSSamples = 10
)

// runXmalloc runs xmalloc: Threads producer/consumer pairs. A producer (rng
// seed+pair) only allocates blocks of MinSize..MaxSize bytes, touches their
// ends and sends them in batches of Batch to its consumer; the consumer only
// frees them. Empty batch arrays travel back, so the scenario allocates
// nothing on the Go heap in steady state. One op per block (allocated on one
// goroutine, freed on another). Stops after Seconds.
//
// Extra figures: rss_first_bytes (VmRSS at the first tenth of the run),
// rss_last_bytes (at the end, before the consumers drain) and
// rss_growth_bytes (their difference): an allocator that strands the
// consumers' frees away from the producers grows without bound here.
func runXmalloc(ctx context.Context, a Allocator, p Params, m *meter) (rawRun, error) {
	var (
		stop     atomic.Bool
		produced atomic.Uint64
		prodWG   sync.WaitGroup
		consWG   sync.WaitGroup
	)
	span := p.MaxSize - p.MinSize + 1
	full := make([]chan [][]byte, p.Threads)
	empty := make([]chan [][]byte, p.Threads)
	for i := range full {
		full[i] = make(chan [][]byte, xmallocQueue)
		empty[i] = make(chan [][]byte, xmallocQueue+2)
		for j := 0; j < xmallocQueue+2; j++ {
			empty[i] <- make([][]byte, 0, p.Batch)
		}
	}

	m.start()
	for i := 0; i < p.Threads; i++ {
		prodWG.Add(1)
		go func(i int) {
			defer prodWG.Done()
			defer close(full[i])
			rng := newRNG(p.Seed, i)
			var n uint64
			for !stop.Load() {
				batch := <-empty[i]
				for len(batch) < p.Batch {
					b := a.Alloc(p.MinSize + rng.intn(span))
					touchEnds(b)
					batch = append(batch, b)
				}
				n += uint64(len(batch))
				full[i] <- batch
			}
			produced.Add(n)
		}(i)
		consWG.Add(1)
		go func(i int) {
			defer consWG.Done()
			for batch := range full[i] {
				for j, b := range batch {
					a.Free(b)
					batch[j] = nil
				}
				empty[i] <- batch[:0]
			}
		}(i)
	}

	// Sample the RSS while the pairs run; stop them after Seconds.
	total := time.Duration(p.Seconds * float64(time.Second))
	var rss []uint64
	tick := time.NewTicker(total / xmallocRSSSamples)
	deadline := time.NewTimer(total)
loop:
	for {
		select {
		case <-tick.C:
			rss = append(rss, readRSS())
		case <-deadline.C:
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	tick.Stop()
	rssLast := readRSS()
	stop.Store(true)
	prodWG.Wait()
	consWG.Wait()
	m.stop()
	if err := ctx.Err(); err != nil {
		return rawRun{}, err
	}
	extra := map[string]float64{"rss_last_bytes": float64(rssLast)}
	if len(rss) > 0 {
		extra["rss_first_bytes"] = float64(rss[0])
		extra["rss_growth_bytes"] = float64(rssLast) - float64(rss[0])
	}
	return rawRun{ops: produced.Load(), extra: extra}, nil
}
