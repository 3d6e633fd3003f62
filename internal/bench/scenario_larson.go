package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// larsonCheckEvery is how many steps a larson worker makes between two looks
// at the stop flag; the spec allows at most 64.
const larsonCheckEvery = 64

// larsonState is what a larson worker hands to its successor.
type larsonState struct {
	worker int         // index of the original worker (0..Threads-1)
	slots  [][]byte    // the worker's chunks
	rng    splitmix64  // continues across successors
	sum    *opChecksum // worker 0's checksum, nil for the others
	steps  uint64      // steps made by this chain so far
}

// runLarson runs larson: Threads workers each fill Chunks slots with random
// sizes, then run Rounds rounds of Chunks steps {victim = rand(Chunks); free
// it; allocate a random size into it}; a worker that finishes its rounds
// hands its slots and rng to a new goroutine and exits, so blocks are freed
// by goroutines that did not allocate them. Everything stops at the first
// step boundary (checked every 64 steps) after Seconds; then all slots are
// freed. One op per step; ops/s = steps / elapsed.
func runLarson(ctx context.Context, a Allocator, p Params, m *meter) (rawRun, error) {
	var (
		stop  atomic.Bool
		wg    sync.WaitGroup
		final = make([]*larsonState, p.Threads) // each chain's last state, for the final free
		sum   = newOpChecksum()
	)
	span := p.MaxSize - p.MinSize + 1
	perRound := p.Rounds * p.Chunks

	var work func(st *larsonState, fill bool)
	work = func(st *larsonState, fill bool) {
		defer wg.Done()
		// An Owner adapter gives each goroutine of the chain its own
		// allocator (hakmem's Heap), ended before the goroutine is done;
		// the others are used as they are.
		var wa interface {
			Alloc(n int) []byte
			Free(b []byte)
		} = a
		if o, ok := a.(Owner); ok {
			own := o.Own()
			wa = own
			defer own.End()
		}
		if fill {
			for i := range st.slots {
				size := p.MinSize + st.rng.intn(span)
				if st.sum != nil {
					st.sum.add(i, size)
				}
				st.slots[i] = wa.Alloc(size)
				touchEnds(st.slots[i])
			}
		}
		for n := 0; n < perRound; n++ {
			if n%larsonCheckEvery == 0 && stop.Load() {
				final[st.worker] = st
				return
			}
			victim := st.rng.intn(p.Chunks)
			wa.Free(st.slots[victim])
			size := p.MinSize + st.rng.intn(span)
			if st.sum != nil {
				st.sum.add(victim, size)
			}
			b := wa.Alloc(size)
			touchEnds(b)
			st.slots[victim] = b
			st.steps++
		}
		// Rounds done: a successor inherits the slots and the rng.
		wg.Add(1)
		go work(st, false)
	}

	m.start()
	timer := time.AfterFunc(time.Duration(p.Seconds*float64(time.Second)), func() { stop.Store(true) })
	stopOnCancel := context.AfterFunc(ctx, func() { stop.Store(true) })
	for w := 0; w < p.Threads; w++ {
		st := &larsonState{worker: w, slots: make([][]byte, p.Chunks), rng: newRNG(p.Seed, w)}
		if w == 0 {
			st.sum = &sum
		}
		wg.Add(1)
		go work(st, true)
	}
	wg.Wait()
	m.stop()
	timer.Stop()
	stopOnCancel()

	var steps uint64
	for _, st := range final {
		steps += st.steps
		for i, b := range st.slots {
			a.Free(b)
			st.slots[i] = nil
		}
	}
	if err := ctx.Err(); err != nil {
		return rawRun{}, err
	}
	return rawRun{ops: steps, checksum: sum.sum(), hasSum: sum.n == checksumOps}, nil
}
