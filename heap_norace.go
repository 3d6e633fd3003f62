//go:build !race

package hakmem

// touch is heap_race.go's check of concurrent use; without the race
// detector it compiles to nothing.
func (h *Heap) touch() {}

// touch: see (*Heap).touch.
func (a *Arena) touch() {}
