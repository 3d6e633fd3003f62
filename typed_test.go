package hakmem_test

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/hakmem-go/hakmem"
)

// Pointer-free types: accepted.
type (
	vec3 struct {
		X, Y int64
		Z    float32
	}
	withUintptr struct {
		P    uintptr
		Tags [4]uintptr
	}
	nestedScalars struct {
		A [3]vec3
		B struct {
			C complex128
			D [2][2]uint16
			E bool
		}
	}
	wide struct{ V [100]int64 }
	big  struct{ V [20000]byte }
	// A 16-byte-aligned type is not expressible portably; [2]uint64 aligns to 8.
	pair [2]uint64
)

// Types that hide Go pointers: refused with ErrPointerType.
type (
	withString struct {
		ID   int
		Name string
	}
	withPtr    struct{ P *int }
	withSlice  struct{ S []int }
	withMap    struct{ M map[int]int }
	withIface  struct{ I any }
	withChan   struct{ C chan int }
	withFunc   struct{ F func() }
	withUnsafe struct {
		N int
		P unsafe.Pointer
	}
	deepPtr struct {
		A [2]struct {
			B struct {
				X int
				C [1]*byte
			}
		}
	}
	arrayOfString [4]string
	emptyThenPtr  struct {
		_ struct{}
		E error
	}
)

func checkTyped[T any](t *testing.T) {
	t.Helper()
	name := reflect.TypeFor[T]().String()
	size := unsafe.Sizeof(*new(T))
	align := unsafe.Alignof(*new(T))

	// New: non-nil, aligned, zeroed, writable; Delete frees it.
	var held []*T
	for i := 0; i < 8; i++ {
		p := hakmem.New[T]()
		if p == nil {
			t.Fatalf("New[%s]() = nil", name)
		}
		if uintptr(unsafe.Pointer(p))%align != 0 {
			t.Errorf("New[%s]() at %#x not aligned to %d", name, uintptr(unsafe.Pointer(p)), align)
		}
		raw := unsafe.Slice((*byte)(unsafe.Pointer(p)), size)
		if off := firstNonZero(raw); off >= 0 {
			t.Errorf("New[%s]() not zeroed at byte %d", name, off)
		}
		for j := range raw {
			raw[j] = 0xEE
		}
		held = append(held, p)
	}
	for _, p := range held {
		mustNotPanic(t, "Delete["+name+"]", func() { hakmem.Delete(p) })
	}
	// Recycled memory comes back zeroed too.
	for i := range held {
		p := hakmem.New[T]()
		raw := unsafe.Slice((*byte)(unsafe.Pointer(p)), size)
		if off := firstNonZero(raw); off >= 0 {
			t.Errorf("New[%s]() on recycled memory not zeroed at byte %d", name, off)
		}
		held[i] = p
	}
	for _, p := range held {
		hakmem.Delete(p)
	}

	// MakeSlice: len == cap == n, zeroed even on recycled memory.
	for _, n := range []int{0, 1, 7, 100, 3000} {
		if uintptr(n)*size > 4*miB {
			continue // keep the byte loops cheap under -race
		}
		for round := 0; round < 2; round++ {
			s := hakmem.MakeSlice[T](n)
			if s == nil {
				t.Fatalf("MakeSlice[%s](%d) = nil", name, n)
			}
			if len(s) != n || cap(s) != n {
				t.Fatalf("MakeSlice[%s](%d): len %d cap %d", name, n, len(s), cap(s))
			}
			if n == 0 {
				hakmem.FreeSlice(s) // capacity 0: no-op
				continue
			}
			if uintptr(unsafe.Pointer(unsafe.SliceData(s)))%align != 0 {
				t.Errorf("MakeSlice[%s](%d) not aligned to %d", name, n, align)
			}
			raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), uintptr(n)*size)
			if off := firstNonZero(raw); off >= 0 {
				t.Fatalf("MakeSlice[%s](%d) round %d not zeroed at byte %d", name, n, round, off)
			}
			for j := range raw {
				raw[j] = 0xDD
			}
			hakmem.FreeSlice(s)
		}
	}
}

func TestTypedScalars(t *testing.T) {
	t.Run("int", checkTyped[int])
	t.Run("byte", checkTyped[byte])
	t.Run("uintptr", checkTyped[uintptr])
	t.Run("float64", checkTyped[float64])
	t.Run("complex128", checkTyped[complex128])
	t.Run("vec3", checkTyped[vec3])
	t.Run("withUintptr", checkTyped[withUintptr])
	t.Run("nestedScalars", checkTyped[nestedScalars])
	t.Run("wide", checkTyped[wide])
	t.Run("big", checkTyped[big])
	t.Run("pair", checkTyped[pair])
	t.Run("array", checkTyped[[33]int32])
}

func TestTypedUse(t *testing.T) {
	p := hakmem.New[vec3]()
	p.X, p.Y, p.Z = 1, 2, 3
	q := hakmem.New[vec3]()
	*q = vec3{4, 5, 6}
	if *p != (vec3{1, 2, 3}) || *q != (vec3{4, 5, 6}) {
		t.Errorf("New[vec3] blocks interfere: %v %v", *p, *q)
	}
	hakmem.Delete(p)
	hakmem.Delete(q)

	s := hakmem.MakeSlice[int64](1000)
	for i := range s {
		s[i] = int64(i) * 3
	}
	s2 := hakmem.MakeSlice[int64](1000)
	for i := range s2 {
		s2[i] = -1
	}
	for i := range s {
		if s[i] != int64(i)*3 {
			t.Fatalf("MakeSlice blocks interfere at %d", i)
		}
	}
	hakmem.FreeSlice(s)
	hakmem.FreeSlice(s2)

	// The slice's block is a hakmem block: UsableSize and Free see it.
	b := hakmem.MakeSlice[uint32](10)
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), 40)
	if u := hakmem.UsableSize(raw); u < 40 {
		t.Errorf("UsableSize of a MakeSlice block = %d", u)
	}
	hakmem.FreeSlice(b)
}

func TestTypedZeroSize(t *testing.T) {
	p := hakmem.New[struct{}]()
	if p == nil {
		t.Fatal("New[struct{}]() = nil")
	}
	mustNotPanic(t, "Delete(New[struct{}]())", func() { hakmem.Delete(p) })
	q := hakmem.New[[0]int64]()
	if q == nil {
		t.Fatal("New[[0]int64]() = nil")
	}
	hakmem.Delete(q)
	s := hakmem.MakeSlice[struct{}](10)
	if len(s) != 10 || cap(s) != 10 {
		t.Errorf("MakeSlice[struct{}](10): len %d cap %d", len(s), cap(s))
	}
	mustNotPanic(t, "FreeSlice(zero-size elements)", func() { hakmem.FreeSlice(s) })
	checkWorks(t)
}

func TestTypedNil(t *testing.T) {
	mustNotPanic(t, "Delete[int](nil)", func() { hakmem.Delete[int](nil) })
	mustNotPanic(t, "Delete[vec3](nil)", func() { hakmem.Delete[vec3](nil) })
	mustNotPanic(t, "FreeSlice[int](nil)", func() { hakmem.FreeSlice[int](nil) })
	s := hakmem.MakeSlice[int](0)
	if s == nil || len(s) != 0 || cap(s) != 0 {
		t.Errorf("MakeSlice[int](0): nil=%v len %d cap %d", s == nil, len(s), cap(s))
	}
	mustNotPanic(t, "FreeSlice(MakeSlice(0))", func() { hakmem.FreeSlice(s) })
	s = hakmem.MakeSlice[int](5)
	mustNotPanic(t, "FreeSlice(s[5:])", func() { hakmem.FreeSlice(s[5:]) }) // capacity 0
	hakmem.FreeSlice(s)
}

func TestMakeSliceSizeErrors(t *testing.T) {
	mustPanic(t, hakmem.ErrNegativeSize, "MakeSlice[int](-1)", func() { hakmem.MakeSlice[int](-1) })
	mustPanic(t, hakmem.ErrNegativeSize, "MakeSlice[byte](MinInt)", func() { hakmem.MakeSlice[byte](math.MinInt) })
	// n*size overflows int.
	mustPanic(t, hakmem.ErrSizeTooLarge, "MakeSlice[[1024]byte](MaxInt/512)", func() { hakmem.MakeSlice[[1024]byte](math.MaxInt / 512) })
	mustPanic(t, hakmem.ErrSizeTooLarge, "MakeSlice[int64](MaxInt/4)", func() { hakmem.MakeSlice[int64](math.MaxInt / 4) })
	mustPanic(t, hakmem.ErrSizeTooLarge, "MakeSlice[wide](MaxInt)", func() { hakmem.MakeSlice[wide](math.MaxInt) })
	// No overflow, but past MaxAlloc.
	mustPanic(t, hakmem.ErrSizeTooLarge, "MakeSlice[int64](MaxAlloc/8+1)", func() { hakmem.MakeSlice[int64](hakmem.MaxAlloc/8 + 1) })
	mustPanic(t, hakmem.ErrSizeTooLarge, "MakeSlice[byte](MaxAlloc+1)", func() { hakmem.MakeSlice[byte](hakmem.MaxAlloc + 1) })
	// Zero-size elements never overflow.
	mustNotPanic(t, "MakeSlice[struct{}](MaxInt)", func() {
		s := hakmem.MakeSlice[struct{}](math.MaxInt)
		if len(s) != math.MaxInt {
			t.Errorf("MakeSlice[struct{}](MaxInt): len %d", len(s))
		}
		hakmem.FreeSlice(s)
	})
	checkWorks(t)
}

func checkPointerType[T any](t *testing.T) {
	t.Helper()
	name := reflect.TypeFor[T]().String()
	for _, what := range []string{"New", "MakeSlice"} {
		var he *hakmem.Error
		if what == "New" {
			he = mustPanic(t, hakmem.ErrPointerType, "New["+name+"]", func() { hakmem.New[T]() })
		} else {
			he = mustPanic(t, hakmem.ErrPointerType, "MakeSlice["+name+"]", func() { hakmem.MakeSlice[T](4) })
		}
		if he != nil && !strings.Contains(he.Error(), name) {
			t.Errorf("%s[%s]: message %q does not name the type", what, name, he.Error())
		}
	}
	// Delete and FreeSlice of pointerful types cannot have a valid argument:
	// nil and capacity 0 stay no-ops.
	mustNotPanic(t, "Delete[nil "+name+"]", func() { hakmem.Delete[T](nil) })
	mustNotPanic(t, "FreeSlice[nil "+name+"]", func() { hakmem.FreeSlice[T](nil) })
}

func TestTypedPointerTypesRefused(t *testing.T) {
	t.Run("withString", checkPointerType[withString])
	t.Run("withPtr", checkPointerType[withPtr])
	t.Run("withSlice", checkPointerType[withSlice])
	t.Run("withMap", checkPointerType[withMap])
	t.Run("withIface", checkPointerType[withIface])
	t.Run("withChan", checkPointerType[withChan])
	t.Run("withFunc", checkPointerType[withFunc])
	t.Run("withUnsafe", checkPointerType[withUnsafe])
	t.Run("deepPtr", checkPointerType[deepPtr])
	t.Run("arrayOfString", checkPointerType[arrayOfString])
	t.Run("emptyThenPtr", checkPointerType[emptyThenPtr])
	t.Run("string", checkPointerType[string])
	t.Run("ptr", checkPointerType[*int])
	t.Run("slice", checkPointerType[[]byte])
	t.Run("map", checkPointerType[map[string]int])
	t.Run("any", checkPointerType[any])
	t.Run("error", checkPointerType[error])
	t.Run("chan", checkPointerType[chan struct{}])
	t.Run("func", checkPointerType[func(int) int])
	t.Run("unsafePointer", checkPointerType[unsafe.Pointer])
	t.Run("arrayOfPtr", checkPointerType[[8]*vec3])
	checkWorks(t)
}

func TestTypedMisuse(t *testing.T) {
	// A pointer hakmem never handed out.
	goPtr := new(vec3)
	mustPanic(t, hakmem.ErrInvalidPointer, "Delete(Go heap pointer)", func() { hakmem.Delete(goPtr) })
	goSlice := make([]int64, 10)
	mustPanic(t, hakmem.ErrInvalidPointer, "FreeSlice(Go heap slice)", func() { hakmem.FreeSlice(goSlice) })

	// Double delete and double FreeSlice.
	p := hakmem.New[vec3]()
	hakmem.Delete(p)
	mustPanic(t, hakmem.ErrDoubleFree, "Delete twice", func() { hakmem.Delete(p) })
	s := hakmem.MakeSlice[int64](50)
	hakmem.FreeSlice(s)
	mustPanic(t, hakmem.ErrDoubleFree, "FreeSlice twice", func() { hakmem.FreeSlice(s) })

	// Interior pointers.
	s = hakmem.MakeSlice[int64](50)
	mustPanic(t, hakmem.ErrInvalidPointer, "FreeSlice(s[1:])", func() { hakmem.FreeSlice(s[1:]) })
	mustPanic(t, hakmem.ErrInvalidPointer, "FreeSlice(s[2:])", func() { hakmem.FreeSlice(s[2:]) })
	mustPanic(t, hakmem.ErrInvalidPointer, "Delete(&s[4])", func() { hakmem.Delete(&s[4]) })
	hakmem.FreeSlice(s[:0]) // the start of the block, any length: frees it
	checkWorks(t)
}
