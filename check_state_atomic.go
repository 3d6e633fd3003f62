//go:build !amd64 || race

package hakmem

// setState: see check_state.go. An atomic store: the race detector sees
// it, and weaker memory models order it after the fields written before.
func (r *checkRec) setState(v uint32) { r.state.Store(v) }
