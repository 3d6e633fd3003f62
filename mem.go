package hakmem

import (
	"sync/atomic"
	"unsafe"
)

// This file and os_*.go are the only places that turn addresses into
// pointers. hakmem memory is not Go-heap memory: the garbage collector
// ignores pointers into it, so addresses travel as uintptr and become
// pointers only at the moment of a load, a store or a slice handed out.

// ptr converts an address of hakmem memory to a pointer. Reinterpreting the
// variable's bits (rather than unsafe.Pointer(p)) is the idiom for memory the
// GC does not own; it compiles to nothing.
func ptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// loadWord and storeWord access the first words of a free block: word 0 is
// the next link of a free list, word 1 the free cookie.
func loadWord(p uintptr) uintptr     { return *(*uintptr)(ptr(p)) }
func storeWord(p uintptr, v uintptr) { *(*uintptr)(ptr(p)) = v }

// claimWord atomically replaces word 1 of a block, which holds old, with
// the free cookie. Two racing Frees of one block both read the same old
// value; exactly one swap succeeds, so a block can never be pushed onto two
// free lists. It fails if the word changed in between or already holds the
// cookie.
func claimWord(p, old, cookie uintptr) bool {
	return old != cookie && atomic.CompareAndSwapUintptr((*uintptr)(ptr(p)), old, cookie)
}

// bytesAt is the slice of n bytes at p with capacity c.
func bytesAt(p uintptr, n, c uintptr) []byte {
	return unsafe.Slice((*byte)(ptr(p)), c)[:n]
}

// addrOf is the address of a slice's first byte (of its capacity).
func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// zerobase is where zero-size allocations point: a valid, non-nil address
// that no block ever has.
var zerobase [16]byte

func zeroSlice() []byte { return zerobase[:0:0] }
