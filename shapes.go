package hakmem

import (
	"fmt"
	"reflect"
	"unsafe"
)

// The shapes Go code reaches for beyond []byte: off-heap strings, growable
// typed slices, aligned blocks, and the error-returning forms of the typed
// helpers and of the site API, so that no allocation path can only panic.

// CloneString returns a copy of s in hakmem memory, off the Go heap. Free
// it with FreeString. CloneString("") returns "" (nothing to free).
func CloneString(s string) string { return mustString(TryCloneString(s)) }

// TryCloneString is CloneString returning the error instead of panicking.
func TryCloneString(s string) (string, error) {
	if len(s) == 0 {
		return "", nil
	}
	b, err := TryAlloc(len(s))
	if err != nil {
		return "", err
	}
	copy(b, s)
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

// FreeString frees a string of CloneString. The empty string is a no-op;
// any other string is checked as Free checks a slice (a Go string, or a
// substring not at the start, is ErrInvalidPointer).
func FreeString(s string) {
	if len(s) == 0 {
		return
	}
	if err := freeAddr(uintptr(unsafe.Pointer(unsafe.StringData(s))), "FreeString"); err != nil {
		panic(err)
	}
}

func mustString(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// TryNew is New returning the error instead of panicking.
func TryNew[T any]() (*T, error) {
	var zero T
	sz := unsafe.Sizeof(zero)
	if err := checkType(reflect.TypeFor[T](), "TryNew"); err != nil {
		return nil, err
	}
	if sz == 0 {
		return (*T)(unsafe.Pointer(&zerobase)), nil
	}
	b, err := calloc(int(sz), 0, "TryNew")
	if err != nil {
		return nil, err
	}
	return (*T)(unsafe.Pointer(unsafe.SliceData(b))), nil
}

// TryMakeSlice is MakeSlice returning the error instead of panicking.
func TryMakeSlice[T any](n int) ([]T, error) { return makeSliceAt[T](nil, n, "TryMakeSlice") }

// SiteNew is New through the site s (counted and routed as s's).
func SiteNew[T any](s *Site) *T {
	v, err := TrySiteNew[T](s)
	if err != nil {
		panic(err)
	}
	return v
}

// TrySiteNew is SiteNew returning the error instead of panicking.
func TrySiteNew[T any](s *Site) (*T, error) {
	var zero T
	sz := unsafe.Sizeof(zero)
	if err := checkType(reflect.TypeFor[T](), "SiteNew"); err != nil {
		return nil, err
	}
	if sz == 0 {
		return (*T)(unsafe.Pointer(&zerobase)), nil
	}
	b, err := s.alloc(int(sz), true, "SiteNew")
	if err != nil {
		return nil, err
	}
	return (*T)(unsafe.Pointer(unsafe.SliceData(b))), nil
}

// SiteMakeSlice is MakeSlice through the site s.
func SiteMakeSlice[T any](s *Site, n int) []T { return mustSlice(TrySiteMakeSlice[T](s, n)) }

// TrySiteMakeSlice is SiteMakeSlice returning the error instead of
// panicking.
func TrySiteMakeSlice[T any](s *Site, n int) ([]T, error) {
	return makeSliceAt[T](s, n, "SiteMakeSlice") // a nil site is the plain API
}

// makeSliceAt makes a zeroed []T of n elements through site s (nil: the
// plain API).
func makeSliceAt[T any](s *Site, n int, op string) ([]T, error) {
	var zero T
	sz := unsafe.Sizeof(zero)
	if err := checkType(reflect.TypeFor[T](), op); err != nil {
		return nil, err
	}
	switch {
	case n < 0:
		return nil, newError(op, 0, n, ErrNegativeSize, "")
	case sz == 0 || n == 0:
		return unsafe.Slice((*T)(unsafe.Pointer(&zerobase)), n)[:n:n], nil
	case uintptr(n) > MaxAlloc/sz:
		return nil, newError(op, 0, n, ErrSizeTooLarge, fmt.Sprintf("%d elements of %d bytes", n, sz))
	}
	var b []byte
	var err error
	if s == nil {
		b, err = calloc(n*int(sz), 0, op)
	} else {
		b, err = s.alloc(n*int(sz), true, op)
	}
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n), nil
}

// Realloc is Realloc through the site: a block that moves allocated through the
// site.
func (s *Site) Realloc(b []byte, size int) []byte { return must(s.TryRealloc(b, size)) }

// TryRealloc is Site.Realloc returning the error instead of panicking; on
// error b is untouched and still allocated.
func (s *Site) TryRealloc(b []byte, size int) ([]byte, error) {
	if cap(b) == 0 {
		return s.alloc(size, false, "Site.TryRealloc")
	}
	p := addrOf(b)
	if size < 0 {
		return nil, newError("Site.TryRealloc", p, size, ErrNegativeSize, "")
	}
	usable, err := usableSize(p, "Site.TryRealloc")
	if err != nil {
		return nil, err
	}
	if size == 0 {
		return zeroSlice(), freeAddr(p, "Site.TryRealloc")
	}
	if uintptr(size) <= usable && uintptr(size) > usable/2 {
		return bytesAt(p, uintptr(size), usable), nil
	}
	if seg := regLookup(p); seg.kind == kindLarge && size > maxSmall && size <= MaxAlloc {
		if np, nu, ok := reallocLarge(p, seg, uintptr(size)); ok {
			return bytesAt(np, uintptr(size), nu), nil
		}
	}
	nb, err := s.alloc(size, false, "Site.TryRealloc")
	if err != nil {
		return nil, err
	}
	copy(nb, b[:min(len(b), size)])
	return nb, freeAddr(p, "Site.TryRealloc")
}

// GrowSlice returns s with room for at least n more elements: s itself
// when it has the room, else a hakmem slice with the same elements (and
// the same length) whose old block is freed, as Realloc does. s must be
// nil or a slice of MakeSlice, GrowSlice or Append (starting at its first
// element). The elements beyond len are zeroed. It panics with
// ErrPointerType if T contains Go pointers.
func GrowSlice[T any](s []T, n int) []T { return mustSlice(TryGrowSlice(s, n)) }

// TryGrowSlice is GrowSlice returning the error instead of panicking; on
// error s is untouched and still allocated.
func TryGrowSlice[T any](s []T, n int) ([]T, error) {
	var zero T
	sz := unsafe.Sizeof(zero)
	if err := checkType(reflect.TypeFor[T](), "GrowSlice"); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, newError("GrowSlice", 0, n, ErrNegativeSize, "")
	}
	if n <= cap(s)-len(s) {
		return s, nil
	}
	if sz == 0 {
		return unsafe.Slice((*T)(unsafe.Pointer(&zerobase)), len(s)+n)[:len(s)], nil
	}
	if uint64(len(s))+uint64(n) > uint64(MaxAlloc/sz) {
		return nil, newError("GrowSlice", 0, n, ErrSizeTooLarge, fmt.Sprintf("%d+%d elements of %d bytes", len(s), n, sz))
	}
	want := max(2*cap(s), len(s)+n, int(64/sz))
	if uint64(want) > uint64(MaxAlloc/sz) {
		want = len(s) + n
	}
	var old []byte
	if cap(s) > 0 {
		old = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), uintptr(len(s))*sz)
	}
	b, err := realloc(old, want*int(sz), "GrowSlice")
	if err != nil {
		return nil, err
	}
	b = b[:cap(b)]
	clear(b[uintptr(len(s))*sz:])
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), uintptr(cap(b))/sz)[:len(s)], nil
}

// Append appends vs to s, growing it with GrowSlice when it lacks room;
// use the result, as with the built-in append. s must be nil or a hakmem
// slice (see GrowSlice). Free the result with FreeSlice.
func Append[T any](s []T, vs ...T) []T {
	s = GrowSlice(s, len(vs))
	return append(s, vs...)
}

// maxAlign is the largest alignment AlignedAlloc serves.
const maxAlign = segmentSize

// AlignedAlloc returns a block of size bytes whose address is a multiple
// of align, a power of two up to 2 MiB, freed with Free. Alignments up to
// 16 KiB are served from the size classes (a class whose size is a
// multiple of align: its slab starts on a 16 KiB page); larger ones get a
// large block of its own mapping, which is 2 MiB-aligned. It panics with
// an *Error as TryAlignedAlloc reports.
func AlignedAlloc(size, align int) []byte { return must(TryAlignedAlloc(size, align)) }

// TryAlignedAlloc is AlignedAlloc returning the error instead of
// panicking: ErrBadAlignment for an alignment that is not a power of two
// up to 2 MiB, and the errors of Alloc.
func TryAlignedAlloc(size, align int) ([]byte, error) {
	if align <= 0 || align&(align-1) != 0 || align > maxAlign {
		return nil, newError("TryAlignedAlloc", 0, size, ErrBadAlignment, fmt.Sprintf("alignment %d: a power of two up to 2 MiB", align))
	}
	if size <= 0 || size > MaxAlloc {
		return TryAlloc(size) // the same answers as Alloc
	}
	if align <= 16 {
		return TryAlloc(size)
	}
	n := max(size, maxSmall+1) // a large block: its own 2 MiB-aligned mapping
	// Checked mode serves a small request from the class of len+16 and
	// may put a block before a guard page: only its large blocks keep
	// their alignment (a guarded one is drawn again, below).
	if align <= pageSize && size <= maxSmall && !checkOn() {
		// The first class from size's up that is a multiple of align: its
		// blocks sit at multiples of the class size from a 16 KiB page.
		for c := int(sizeClass(uintptr(size))); c < numClasses; c++ {
			if cs := int(classes[c].size); cs%align == 0 {
				n = cs
				break
			}
		}
	}
	p, usable, _, err := allocAddr(n, 0, "TryAlignedAlloc")
	if err != nil {
		return nil, err
	}
	for try := 0; checkOn() && p&uintptr(align-1) != 0 && try < 8; try++ { // a guarded block
		_ = freeAddr(p, "TryAlignedAlloc")
		if p, usable, _, err = allocAddr(n, 0, "TryAlignedAlloc"); err != nil {
			return nil, err
		}
	}
	if p&uintptr(align-1) != 0 { // cannot happen (TestAlignedAllocEveryPowerOfTwo): never hand out a wrong block
		_ = freeAddr(p, "TryAlignedAlloc")
		return nil, newError("TryAlignedAlloc", p, size, ErrBadAlignment, "internal: the block came back misaligned")
	}
	return bytesAt(p, uintptr(size), usable), nil
}
