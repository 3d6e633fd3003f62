package bench

import (
	"context"
	"encoding/binary"
)

// arenaNode is the size of one tree node of the arena scenario: key, the
// indexes of its two children, the length of its string, and padding (32
// B, pointer-free).
const arenaNode = 32

// runArena runs the arena scenario, request-shaped memory: Steps requests,
// each building a binary tree of Slots pointer-free nodes (32 B each; node
// i is the child of node (i-1)/2, linked by index) with a byte string of
// MinSize..MaxSize bytes per node, then walking it and dropping it all.
// One op per allocation (two per node). A Scoper adapter allocates each
// request through a scope of its own and ends the scope at the end of the
// request (an arena's Reset, a heap's Close, Go's arena Free); any other
// adapter frees every block of the request one by one (the go adapter only
// drops its references, for the GC to collect).
func runArena(ctx context.Context, a Allocator, p Params, m *meter) (rawRun, error) {
	rng := newRNG(p.Seed, 0)
	span := p.MaxSize - p.MinSize + 1
	nodes := make([][]byte, p.Slots)
	strs := make([][]byte, p.Slots)
	sc, scoped := a.(Scoper)
	var ops, walk uint64
	m.start()
	for r := 0; r < p.Steps; r++ {
		if r&15 == 0 && ctx.Err() != nil {
			return rawRun{}, ctx.Err()
		}
		var al interface{ Alloc(n int) []byte } = a
		var s Scope
		if scoped {
			s = sc.Scope()
			al = s
		}
		for i := range nodes {
			n := al.Alloc(arenaNode)
			size := p.MinSize + rng.intn(span)
			str := al.Alloc(size)
			touchEnds(str)
			binary.LittleEndian.PutUint64(n[0:], rng.next())
			binary.LittleEndian.PutUint32(n[8:], ^uint32(0))
			binary.LittleEndian.PutUint32(n[12:], ^uint32(0))
			binary.LittleEndian.PutUint64(n[16:], uint64(size))
			if i > 0 {
				parent := nodes[(i-1)/2]
				binary.LittleEndian.PutUint32(parent[8+4*((i-1)%2):], uint32(i))
			}
			nodes[i], strs[i] = n, str
		}
		// Walk the leftmost path and read every string's ends: the
		// request uses what it built.
		for i := uint32(0); i != ^uint32(0); i = binary.LittleEndian.Uint32(nodes[i][8:]) {
			walk += binary.LittleEndian.Uint64(nodes[i][0:])
		}
		for _, str := range strs {
			walk += uint64(str[0]) + uint64(str[len(str)-1])
		}
		if scoped {
			s.End()
		} else {
			for i := range nodes {
				a.Free(nodes[i])
				a.Free(strs[i])
			}
		}
		clear(nodes)
		clear(strs)
		ops += 2 * uint64(len(nodes))
	}
	m.stop()
	arenaSink = walk
	return rawRun{ops: ops}, nil
}

// arenaSink keeps the walk from being optimised away.
//
//lint:ignore U1000 a sink: written so that the walk is not optimised away, never read
var arenaSink uint64
