package bench

import (
	"context"
	"time"
)

// runBlocks runs json, mir, vm and mixed: for each iteration i and each size
// j with i % Every[j] == 0, one op = {alloc Sizes[j], touch every page, free},
// timed on its own. ops counts the ops; lat holds their latencies.
//
// The clock is read once per op: an op's latency runs from the previous
// reading to the next, so it carries one clock read (about 25 ns in this
// project's VMs, which have no fast clock) and the loop's bookkeeping, not
// two reads. Latencies below ~100 ns are therefore dominated by the clock
// and quantised to its resolution; docs/SCENARIOS.md says so.
func runBlocks(ctx context.Context, a Allocator, p Params, m *meter) (rawRun, error) {
	perIter := 0
	for j := range p.Sizes {
		perIter += (p.Iterations + p.Every[j] - 1) / p.Every[j]
	}
	lat := make([]float64, 0, perIter)
	m.start()
	t0 := time.Now()
	for i := 0; i < p.Iterations; i++ {
		if i&63 == 0 && ctx.Err() != nil {
			return rawRun{}, ctx.Err()
		}
		for j, size := range p.Sizes {
			if i%p.Every[j] != 0 {
				continue
			}
			b := a.Alloc(size)
			touchPages(b)
			a.Free(b)
			t1 := time.Now()
			lat = append(lat, float64(t1.Sub(t0).Nanoseconds()))
			t0 = t1
		}
	}
	m.stop()
	return rawRun{ops: uint64(len(lat)), lat: lat}, nil
}
