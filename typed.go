package hakmem

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"
)

// Typed helpers. hakmem memory is invisible to the garbage collector, so a
// Go pointer stored in it does not keep its target alive: the target can be
// collected and the memory reused under you. The helpers therefore refuse
// any type that contains Go pointers (pointers, slices, maps, strings,
// interfaces, channels, funcs, unsafe.Pointer) at any depth, with an error
// naming the type and the offending part. The check runs once per type and
// is cached. uintptr is fine: it is an integer to the GC.

// New returns a pointer to a zeroed T in hakmem memory. Free it with Delete.
// It panics with ErrPointerType if T contains Go pointers.
func New[T any]() *T {
	var zero T
	sz := unsafe.Sizeof(zero)
	if err := checkType(reflect.TypeFor[T](), "New"); err != nil {
		panic(err)
	}
	if sz == 0 {
		return (*T)(unsafe.Pointer(&zerobase))
	}
	b := must(calloc(int(sz), 0, "New"))
	return (*T)(unsafe.Pointer(unsafe.SliceData(b)))
}

// Delete frees a value from New. Delete(nil) is a no-op.
func Delete[T any](p *T) {
	var zero T
	if p == nil || unsafe.Sizeof(zero) == 0 {
		return
	}
	if err := freeAddr(uintptr(unsafe.Pointer(p)), "Delete"); err != nil {
		panic(err)
	}
}

// MakeSlice returns a zeroed []T of length and capacity n in hakmem memory.
// Free it with FreeSlice. It panics with ErrPointerType if T contains Go
// pointers, ErrNegativeSize if n < 0 and ErrSizeTooLarge if n elements
// cannot be allocated.
func MakeSlice[T any](n int) []T {
	var zero T
	sz := unsafe.Sizeof(zero)
	if err := checkType(reflect.TypeFor[T](), "MakeSlice"); err != nil {
		panic(err)
	}
	switch {
	case n < 0:
		panic(newError("MakeSlice", 0, n, ErrNegativeSize, ""))
	case sz == 0 || n == 0:
		return unsafe.Slice((*T)(unsafe.Pointer(&zerobase)), n)[:n:n]
	case uintptr(n) > MaxAlloc/sz:
		panic(newError("MakeSlice", 0, n, ErrSizeTooLarge, fmt.Sprintf("%d elements of %d bytes", n, sz)))
	}
	b := must(calloc(n*int(sz), 0, "MakeSlice"))
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// FreeSlice frees a slice from MakeSlice (any reslice that starts at its
// first element). A slice of capacity zero is a no-op.
func FreeSlice[T any](s []T) {
	var zero T
	if cap(s) == 0 || unsafe.Sizeof(zero) == 0 {
		return
	}
	if err := freeAddr(uintptr(unsafe.Pointer(unsafe.SliceData(s))), "FreeSlice"); err != nil {
		panic(err)
	}
}

// typeChecks caches checkType's verdict per type: reflect.Type -> error
// (nil error stored as a nil interface).
var typeChecks sync.Map

func checkType(t reflect.Type, op string) error {
	if v, ok := typeChecks.Load(t); ok {
		if v == nil {
			return nil
		}
		return v.(error)
	}
	var err error
	if where := pointerPath(t, ""); where != "" {
		err = &Error{Op: op, Err: ErrPointerType,
			Detail: fmt.Sprintf("type %s holds Go pointers (%s); the garbage collector cannot see them in hakmem memory", t, where)}
	}
	if err == nil {
		typeChecks.Store(t, nil)
	} else {
		typeChecks.Store(t, err)
	}
	return err
}

// pointerPath returns where t holds a Go pointer ("Inner.Name string"),
// or "" if it holds none. path is the field path walked so far.
func pointerPath(t reflect.Type, path string) string {
	switch t.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.Slice, reflect.Map, reflect.String,
		reflect.Interface, reflect.Chan, reflect.Func:
		if path == "" {
			return "it is a " + t.Kind().String()
		}
		return path + " " + t.String()
	case reflect.Array:
		if t.Len() == 0 {
			return ""
		}
		return pointerPath(t.Elem(), path+"[0]")
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			p := f.Name
			if path != "" {
				p = path + "." + f.Name
			}
			if w := pointerPath(f.Type, p); w != "" {
				return w
			}
		}
	}
	return ""
}
