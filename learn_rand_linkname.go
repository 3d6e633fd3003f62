//go:build !hakmem_nolinkname

package hakmem

import _ "unsafe" // for go:linkname

// learnRand32 is the sampling draw of the learning hook: the runtime's
// per-M cheap generator (runtime.cheaprand, ~4 ns, no shared state; its
// linkname is kept for outside users by the runtime). math/rand/v2's
// Uint32 costs ~10 ns here and a shared atomic counter would put one cache
// line in every P's path. learn_rand_portable.go is the fallback.
func learnRand32() uint32 { return runtime_cheaprand() }

//go:linkname runtime_cheaprand runtime.cheaprand
func runtime_cheaprand() uint32
