package bench

import (
	"context"
	"time"
)

// runBlocks runs json, mir, vm and mixed: for each iteration i and each size
// j with i % Every[j] == 0, one op = {alloc Sizes[j], touch every page, free},
// timed on its own. ops counts the ops; lat holds their latencies.
func runBlocks(ctx context.Context, a Allocator, p Params, m *meter) (rawRun, error) {
	perIter := 0
	for j := range p.Sizes {
		perIter += (p.Iterations + p.Every[j] - 1) / p.Every[j]
	}
	lat := make([]float64, 0, perIter)
	m.start()
	for i := 0; i < p.Iterations; i++ {
		if i&63 == 0 && ctx.Err() != nil {
			return rawRun{}, ctx.Err()
		}
		for j, size := range p.Sizes {
			if i%p.Every[j] != 0 {
				continue
			}
			t0 := time.Now()
			b := a.Alloc(size)
			touchPages(b)
			a.Free(b)
			lat = append(lat, float64(time.Since(t0).Nanoseconds()))
		}
	}
	m.stop()
	return rawRun{ops: uint64(len(lat)), lat: lat}, nil
}
