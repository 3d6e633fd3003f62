package bench

import "context"

// runRandomMixed runs random-mixed: one worker (rng seed+0) fills Slots
// slots, then makes Steps steps {victim = rand(Slots); free it; allocate a
// random size into it}, then frees everything. One op per step; only the
// steps are timed.
func runRandomMixed(ctx context.Context, a Allocator, p Params, m *meter) (rawRun, error) {
	rng := newRNG(p.Seed, 0)
	sum := newOpChecksum()
	span := p.MaxSize - p.MinSize + 1
	slots := make([][]byte, p.Slots)
	for i := range slots {
		size := p.MinSize + rng.intn(span)
		sum.add(i, size)
		slots[i] = a.Alloc(size)
		touchEnds(slots[i])
	}
	m.start()
	steps := 0
	for steps < p.Steps {
		if steps&0xffff == 0 && ctx.Err() != nil {
			break
		}
		victim := rng.intn(p.Slots)
		a.Free(slots[victim])
		size := p.MinSize + rng.intn(span)
		sum.add(victim, size)
		b := a.Alloc(size)
		touchEnds(b)
		slots[victim] = b
		steps++
	}
	m.stop()
	for i, b := range slots {
		a.Free(b)
		slots[i] = nil
	}
	if err := ctx.Err(); err != nil {
		return rawRun{}, err
	}
	return rawRun{ops: uint64(steps), checksum: sum.sum(), hasSum: true}, nil
}
