//go:build hakmem_nolinkname

package hakmem

import "math/rand/v2"

// learnRand32 is the sampling draw of the learning hook without linkname:
// math/rand/v2's runtime-backed generator (no lock, ~10 ns).
func learnRand32() uint32 { return rand.Uint32() }
