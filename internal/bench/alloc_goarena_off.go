//go:build !goexperiment.arenas

package bench

import "fmt"

// newGoArena reports that the goarena adapter needs GOEXPERIMENT=arenas
// (alloc_goarena.go).
func newGoArena() (Allocator, error) {
	return nil, fmt.Errorf("%w: build with GOEXPERIMENT=arenas", ErrNotBuilt)
}
