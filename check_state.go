//go:build amd64 && !race

package hakmem

import "unsafe"

// setState moves a record to state v with a plain store, where the
// moves that need no atomic read-modify-write (see checkRec) may: on
// amd64 a 32-bit store is atomic and stores are seen in program order,
// and the compiler keeps stores in order, so the fields written before
// are visible to whoever sees v. An atomic store is an XCHG there, a
// locked instruction: 3 of them in a checked Alloc and Free pair. Race
// builds, and other architectures, use check_state_atomic.go.
func (r *checkRec) setState(v uint32) {
	*(*uint32)(unsafe.Pointer(&r.state)) = v
}
