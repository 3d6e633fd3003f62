package bench

import (
	"math/bits"
	"sync"
	"unsafe"
)

// syncPoolAlloc keeps one sync.Pool per power-of-two size class, the way
// buffer-pool libraries (bytedance gopkg mcache, bytebufferpool) do. Pools
// hold an unsafe.Pointer to the block's first byte rather than a []byte: a
// pointer fits in an interface without allocating, a slice header would cost
// an allocation on every Put and make the adapter look worse than careful
// users make it.
type syncPoolAlloc struct {
	pools [poolClasses]sync.Pool // pools[c] holds blocks of 1<<(c+poolMinShift) bytes
}

const (
	poolMinShift = 4  // smallest class 16 B: the smallest size any scenario asks for
	poolMaxShift = 22 // largest class 4 MiB: covers the 2 MiB vm blocks; larger sizes bypass the pools
	poolClasses  = poolMaxShift - poolMinShift + 1
)

func init() {
	register("syncpool", "syncpool: one sync.Pool per power-of-two size class (16 B .. 4 MiB) over make", true,
		func() (Allocator, error) { return &syncPoolAlloc{}, nil })
}

func (*syncPoolAlloc) Name() string { return "syncpool" }

// poolClass returns the class index of a block of n bytes, or -1 when n is
// beyond the largest class.
func poolClass(n int) int {
	if n <= 1<<poolMinShift {
		return 0
	}
	shift := bits.Len(uint(n - 1)) // ceil(log2 n)
	if shift > poolMaxShift {
		return -1
	}
	return shift - poolMinShift
}

func (a *syncPoolAlloc) Alloc(n int) []byte {
	c := poolClass(n)
	if c < 0 {
		return make([]byte, n)
	}
	size := 1 << (c + poolMinShift)
	if p, ok := a.pools[c].Get().(unsafe.Pointer); ok {
		return unsafe.Slice((*byte)(p), size)[:n]
	}
	return make([]byte, n, size)
}

func (a *syncPoolAlloc) Free(b []byte) {
	c := cap(b)
	if c == 0 || c&(c-1) != 0 || c < 1<<poolMinShift || c > 1<<poolMaxShift {
		return // not one of ours (or beyond the classes): leave it to the GC
	}
	a.pools[bits.TrailingZeros(uint(c))-poolMinShift].Put(unsafe.Pointer(unsafe.SliceData(b)))
}
