package hakmem_test

import (
	"strconv"
	"sync"
	"testing"

	"github.com/hakmem-go/hakmem"
)

var benchSizes = []int{16, 64, 256, 1024, 4096, 32768, 262144}

// bytePool is a sync.Pool of *[]byte of one size (pointers, so that Put does
// not allocate).
func bytePool(n int) *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, n); return &b }}
}

// BenchmarkPair: one allocation and its free per iteration, on one goroutine.
func BenchmarkPair(b *testing.B) {
	for _, n := range benchSizes {
		name := strconv.Itoa(n)
		b.Run("hakmem/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				p := hakmem.Alloc(n)
				p[0] = 1
				hakmem.Free(p)
			}
		})
		b.Run("heap/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			h := hakmem.NewHeap()
			defer h.Close()
			for b.Loop() {
				p := h.Alloc(n)
				p[0] = 1
				h.Free(p)
			}
		})
		b.Run("make/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				p := make([]byte, n)
				p[0] = 1
				escape(p)
			}
		})
		b.Run("syncpool/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			pool := bytePool(n)
			for b.Loop() {
				p := pool.Get().(*[]byte)
				(*p)[0] = 1
				pool.Put(p)
			}
		})
	}
}

// BenchmarkPairParallel: the same pairs from GOMAXPROCS goroutines at once.
func BenchmarkPairParallel(b *testing.B) {
	for _, n := range benchSizes {
		name := strconv.Itoa(n)
		b.Run("hakmem/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p := hakmem.Alloc(n)
					p[0] = 1
					hakmem.Free(p)
				}
			})
		})
		b.Run("make/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p := make([]byte, n)
					p[0] = 1
					escape(p)
				}
			})
		})
		b.Run("syncpool/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			pool := bytePool(n)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p := pool.Get().(*[]byte)
					(*p)[0] = 1
					pool.Put(p)
				}
			})
		})
	}
}

// BenchmarkCalloc and BenchmarkRealloc cover the other entry points serially.
func BenchmarkCalloc(b *testing.B) {
	for _, n := range []int{64, 4096, 262144} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				hakmem.Free(hakmem.Calloc(n))
			}
		})
	}
}

func BenchmarkReallocGrow(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		p := hakmem.Alloc(16)
		for n := 32; n <= 64*kiB; n *= 2 {
			p = hakmem.Realloc(p, n)
		}
		hakmem.Free(p)
	}
}

func BenchmarkLarge(b *testing.B) {
	for _, n := range []int{2 * miB, 8 * miB} {
		b.Run(sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p := hakmem.Alloc(n)
				p[0] = 1
				hakmem.Free(p)
			}
		})
	}
}

// BenchmarkModePair is BenchmarkPair at 64 B and 4 KiB in the modes whose
// differences could reach the small-block paths, switched with SetMode
// inside one process: the fast paths read no mode, so the results should
// differ by noise only. Compare with
//
//	go test -run '^$' -bench ModePair -count 6 . > modes.txt
//	benchstat -col /mode modes.txt
//
// (-count repeats the whole benchmark, so the modes run interleaved; the
// order of the modes rotates from one repetition to the next, so that no
// mode always runs first after a size change.)
// modePairRound counts runs of BenchmarkModePair (the -count repetitions).
var modePairRound int

func BenchmarkModePair(b *testing.B) {
	saved := hakmem.CurrentMode()
	defer hakmem.SetMode(saved)
	ms := []hakmem.Mode{hakmem.Minimal, hakmem.Fast, hakmem.Balanced}
	modePairRound++
	for range modePairRound % len(ms) {
		ms = append(ms[1:], ms[0])
	}
	for _, n := range []int{64, 4096} {
		for _, m := range ms {
			b.Run("size="+strconv.Itoa(n)+"/mode="+m.String(), func(b *testing.B) {
				if err := hakmem.SetMode(m); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.SetBytes(int64(n))
				for b.Loop() {
					p := hakmem.Alloc(n)
					p[0] = 1
					hakmem.Free(p)
				}
			})
		}
	}
}
