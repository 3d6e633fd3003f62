package bench

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// gcChurnGrant is the number of churn bytes a gc-pressure worker takes from
// the shared budget at a time: large enough to keep the atomic off the
// per-step path, small enough that workers finish together.
const gcChurnGrant = 1 << 20

// runGCPressure runs gc-pressure: first a live set of LiveBytes in blocks of
// LiveBlock bytes is allocated from the allocator and every page touched
// (not measured, but inside the peak RSS) and a GC runs, so that the Go
// heap's goal reflects the live set; then Threads workers churn, each on its
// own Slots-slot working set like random-mixed (rng seed+worker,
// MinSize..MaxSize bytes), until they have allocated ChurnBytes in all. The runner reports the GC cycles,
// GC CPU seconds and p99 GC pause of the churn phase: the go adapter keeps
// the live set on the Go heap, where every cycle has to mark it; an
// off-heap allocator keeps it out of the collector's sight. Then everything
// is freed. One op per churn step.
//
// Extra figures: live_bytes (the live set actually held).
func runGCPressure(ctx context.Context, a Allocator, p Params, m *meter) (rawRun, error) {
	nLive := int(p.LiveBytes / int64(p.LiveBlock))
	live := make([][]byte, nLive)
	for i := range live {
		if i&1023 == 0 && ctx.Err() != nil {
			freeAll(a, live[:i])
			return rawRun{}, ctx.Err()
		}
		live[i] = a.Alloc(p.LiveBlock)
		touchPages(live[i])
	}

	runtime.GC()

	var (
		steps  atomic.Uint64
		budget atomic.Int64 // churn bytes left to allocate, shared by the workers
		wg     sync.WaitGroup
	)
	budget.Store(p.ChurnBytes)
	span := p.MaxSize - p.MinSize + 1
	m.start()
	for w := 0; w < p.Threads; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := newRNG(p.Seed, w)
			slots := make([][]byte, p.Slots)
			for i := range slots {
				slots[i] = a.Alloc(p.MinSize + rng.intn(span))
				touchEnds(slots[i])
			}
			var n uint64
			for budget.Add(-gcChurnGrant) > -gcChurnGrant && ctx.Err() == nil {
				// Spend one grant of churn bytes before asking again.
				for spent := 0; spent < gcChurnGrant; n++ {
					victim := rng.intn(p.Slots)
					a.Free(slots[victim])
					size := p.MinSize + rng.intn(span)
					b := a.Alloc(size)
					touchEnds(b)
					slots[victim] = b
					spent += size
				}
			}
			freeAll(a, slots)
			steps.Add(n)
		}(w)
	}
	wg.Wait()
	m.stop()
	freeAll(a, live)
	if err := ctx.Err(); err != nil {
		return rawRun{}, err
	}
	return rawRun{ops: steps.Load(), extra: map[string]float64{"live_bytes": float64(nLive * p.LiveBlock)}}, nil
}

// freeAll frees every block of bs and clears the references.
func freeAll(a Allocator, bs [][]byte) {
	for i, b := range bs {
		if b != nil {
			a.Free(b)
			bs[i] = nil
		}
	}
}
