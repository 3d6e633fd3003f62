package hakmem

import (
	"fmt"
	"reflect"
	"unsafe"
)

// Typed helpers through a Heap: free functions, since a Go method cannot
// take a type parameter. They refuse pointerful types as New does.

// HeapNew is New from the heap h: a zeroed T, freed with HeapDelete (or
// Delete, or with the heap's Close).
func HeapNew[T any](h *Heap) *T { return mustPtr(TryHeapNew[T](h)) }

// TryHeapNew is HeapNew returning the error instead of panicking.
func TryHeapNew[T any](h *Heap) (*T, error) {
	var zero T
	sz := unsafe.Sizeof(zero)
	if err := checkType(reflect.TypeFor[T](), "HeapNew"); err != nil {
		return nil, err
	}
	if sz == 0 {
		return (*T)(unsafe.Pointer(&zerobase)), nil
	}
	b, err := h.calloc(int(sz), "HeapNew")
	if err != nil {
		return nil, err
	}
	return (*T)(unsafe.Pointer(unsafe.SliceData(b))), nil
}

// HeapDelete frees a value of HeapNew (or New) through h. HeapDelete(h,
// nil) is a no-op.
func HeapDelete[T any](h *Heap, p *T) {
	var zero T
	if p == nil || unsafe.Sizeof(zero) == 0 {
		return
	}
	h.Free(unsafe.Slice((*byte)(unsafe.Pointer(p)), 1))
}

// HeapMakeSlice is MakeSlice from the heap h: a zeroed []T of length and
// capacity n, freed with HeapFreeSlice (or FreeSlice, or the heap's Close).
func HeapMakeSlice[T any](h *Heap, n int) []T { return mustSlice(TryHeapMakeSlice[T](h, n)) }

// TryHeapMakeSlice is HeapMakeSlice returning the error instead of
// panicking.
func TryHeapMakeSlice[T any](h *Heap, n int) ([]T, error) {
	var zero T
	sz := unsafe.Sizeof(zero)
	if err := checkType(reflect.TypeFor[T](), "HeapMakeSlice"); err != nil {
		return nil, err
	}
	switch {
	case n < 0:
		return nil, newError("HeapMakeSlice", 0, n, ErrNegativeSize, "")
	case sz == 0 || n == 0:
		return unsafe.Slice((*T)(unsafe.Pointer(&zerobase)), n)[:n:n], nil
	case uintptr(n) > MaxAlloc/sz:
		return nil, newError("HeapMakeSlice", 0, n, ErrSizeTooLarge, fmt.Sprintf("%d elements of %d bytes", n, sz))
	}
	b, err := h.calloc(n*int(sz), "HeapMakeSlice")
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n), nil
}

// HeapFreeSlice frees a slice of HeapMakeSlice (or MakeSlice) through h.
// A slice of capacity zero is a no-op.
func HeapFreeSlice[T any](h *Heap, s []T) {
	var zero T
	if cap(s) == 0 || unsafe.Sizeof(zero) == 0 {
		return
	}
	h.Free(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), 1))
}

func mustPtr[T any](p *T, err error) *T {
	if err != nil {
		panic(err)
	}
	return p
}

func mustSlice[T any](s []T, err error) []T {
	if err != nil {
		panic(err)
	}
	return s
}
