//go:build race

package hakmem

// touch writes a Go field of the Heap, so that the race detector reports
// two goroutines using one Heap at once (its records live off the Go
// heap, where the detector does not look).
func (h *Heap) touch() { h.tok++ }

// touch: see (*Heap).touch.
func (a *Arena) touch() { a.tok++ }
