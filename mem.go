package hakmem

import "unsafe"

// This file and os_*.go are the only places that turn addresses into
// pointers. hakmem memory is not Go-heap memory: the garbage collector
// ignores pointers into it, so addresses travel as uintptr and become
// pointers only at the moment of a load, a store or a slice handed out.

// ptr converts an address of hakmem memory to a pointer. Reinterpreting the
// variable's bits (rather than unsafe.Pointer(p)) is the idiom for memory the
// GC does not own; it compiles to nothing.
func ptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// loadWord and storeWord read and write a word of memory hakmem owns (a
// block's free cookie is word 1; metadata chunks).
func loadWord(p uintptr) uintptr     { return *(*uintptr)(ptr(p)) }
func storeWord(p uintptr, v uintptr) { *(*uintptr)(ptr(p)) = v }

// claimBlock marks the block at p free by writing its cookie into word 1,
// and reports false if the cookie is there already (a double free). It is
// a plain load and store, not an atomic swap: a locked instruction on a
// block the CPU has not touched lately (a free usually comes long after
// the block's allocation) cannot overlap the cache miss, and cost larson a
// quarter of its CPU. So two Frees of one block racing each other (a data
// race in the program) may both succeed, and the block's address land in
// two P stacks. That is caught later, never faulting: the pop that comes
// second finds the cookie gone and drops its copy (ErrCorrupted), a copy
// that reaches a slab finds the block free there already or its cookie
// gone and is dropped (central.toSlabs), and a copy left behind after the
// segment emptied reads a spare range that stays mapped (retire.go).
// Sequential double frees are always caught.
func claimBlock(p uintptr) bool {
	if loadWord(p+8) == p^cookieKey {
		return false
	}
	storeWord(p+8, p^cookieKey)
	return true
}

// bytesAt is the slice of n bytes at p with capacity c (n <= c). It
// builds the slice header itself: unsafe.Slice and a reslice would check
// the address range and n against c on every allocation, facts the
// allocator established already.
func bytesAt(p uintptr, n, c uintptr) []byte {
	h := sliceHeader{ptr(p), int(n), int(c)}
	return *(*[]byte)(unsafe.Pointer(&h))
}

// sliceHeader is a slice's runtime layout (data, len, cap).
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// addrOf is the address of a slice's first byte (of its capacity).
func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// zerobase is where zero-size allocations point: a valid, non-nil address
// that no block ever has.
var zerobase [16]byte

func zeroSlice() []byte { return zerobase[:0:0] }
