package hakmem_test

import (
	"testing"

	"github.com/hakmem-go/hakmem"
)

// Large and L2.5 alloc+free pairs beside make of the same size (the Go
// heap's answer: the GC frees it). Each iteration writes the first byte so
// that neither side is measured on untouched memory alone. Run with
// -benchtime=2000x or so: the machine is shared.
//
// The NoCache variants turn the BigCache off for their duration: every
// large pair then maps and unmaps (the behaviour before the BigCache).

var sink []byte

func benchPair(b *testing.B, size int) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		p := hakmem.Alloc(size)
		p[0] = 1
		hakmem.Free(p)
	}
}

func benchMake(b *testing.B, size int) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		sink = make([]byte, size)
		sink[0] = 1
	}
}

func BenchmarkLargePair64K(b *testing.B)  { benchPair(b, 64<<10) }
func BenchmarkLargePair256K(b *testing.B) { benchPair(b, 256<<10) }
func BenchmarkLargePair1M(b *testing.B)   { benchPair(b, 1<<20) }
func BenchmarkLargePair2M(b *testing.B)   { benchPair(b, 2<<20) }
func BenchmarkLargePair8M(b *testing.B)   { benchPair(b, 8<<20) }

func BenchmarkLargePairNoCache2M(b *testing.B) {
	defer hakmem.SetBigCacheOn(false)()
	benchPair(b, 2<<20)
}
func BenchmarkLargePairNoCache8M(b *testing.B) {
	defer hakmem.SetBigCacheOn(false)()
	benchPair(b, 8<<20)
}

func BenchmarkLargeMake64K(b *testing.B)  { benchMake(b, 64<<10) }
func BenchmarkLargeMake256K(b *testing.B) { benchMake(b, 256<<10) }
func BenchmarkLargeMake1M(b *testing.B)   { benchMake(b, 1<<20) }
func BenchmarkLargeMake2M(b *testing.B)   { benchMake(b, 2<<20) }
func BenchmarkLargeMake8M(b *testing.B)   { benchMake(b, 8<<20) }

// The VM scenario's shape: a 2 MiB block, every page written, freed.
func BenchmarkLargeTouch2M(b *testing.B) {
	b.SetBytes(2 << 20)
	for b.Loop() {
		p := hakmem.Alloc(2 << 20)
		for i := 0; i < len(p); i += 4096 {
			p[i] = 1
		}
		hakmem.Free(p)
	}
}

func BenchmarkLargeTouchNoCache2M(b *testing.B) {
	defer hakmem.SetBigCacheOn(false)()
	BenchmarkLargeTouch2M(b)
}

func BenchmarkLargeTouchMake2M(b *testing.B) {
	b.SetBytes(2 << 20)
	for b.Loop() {
		sink = make([]byte, 2<<20)
		for i := 0; i < len(sink); i += 4096 {
			sink[i] = 1
		}
	}
}
