package hakmem_test

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"unsafe"

	"github.com/hakmem-go/hakmem"
)

// gcHeapBytes forces a GC and returns the scannable and the live Go heap.
func gcHeapBytes() (scan, live uint64) {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// TestMetadataOffGoHeap holds memory in 64 KiB and 256 B blocks and checks
// that what hakmem keeps for it costs the garbage collector nothing that
// grows with it: the scannable Go heap grows by at most 64 KiB per GiB held
// and the live Go heap by at most 256 KiB per GiB (the README's promise,
// "a live set held in hakmem costs the garbage collector nothing"). The
// block addresses are kept in hakmem memory, not in Go slices, so that the
// test's own bookkeeping does not count. Before engine v2 the segment and
// slab headers lived on the Go heap: about 6 MiB scanned per GiB.
func TestMetadataOffGoHeap(t *testing.T) {
	if !isolate(t) { // a fresh process: no other test's Go heap or hakmem state
		return
	}
	big, small := 2<<30, 256<<20
	if testing.Short() {
		big, small = 512<<20, 64<<20
	}
	const bigSize, smallSize = 64 << 10, 256
	nbig, nsmall := big/bigSize, small/smallSize
	addrs := hakmem.MakeSlice[uintptr](nbig + nsmall) // off the Go heap
	scan0, live0 := gcHeapBytes()
	for i := range nbig {
		b := hakmem.Alloc(bigSize)
		b[0] = 1
		addrs[i] = uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	}
	for i := range nsmall {
		b := hakmem.Alloc(smallSize)
		b[0] = 1
		addrs[nbig+i] = uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	}
	scan1, live1 := gcHeapBytes()
	gib := float64(big+small) / (1 << 30)
	scanPerGiB := (float64(scan1) - float64(scan0)) / gib
	livePerGiB := (float64(live1) - float64(live0)) / gib
	t.Logf("held %.2f GiB: scannable Go heap %+.1f KiB per GiB (%d -> %d), live Go heap %+.1f KiB per GiB (%d -> %d)",
		gib, scanPerGiB/1024, scan0, scan1, livePerGiB/1024, live0, live1)
	if scanPerGiB > 64<<10 {
		t.Errorf("scannable Go heap grew %.1f KiB per GiB held, want at most 64", scanPerGiB/1024)
	}
	if livePerGiB > 256<<10 && !hakmem.OSMapsGoHeap { // the portable OS layer holds the memory itself on the Go heap
		t.Errorf("live Go heap grew %.1f KiB per GiB held, want at most 256", livePerGiB/1024)
	}
	for i, a := range addrs {
		n := bigSize
		if i >= nbig {
			n = smallSize
		}
		hakmem.Free(unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&a))), n)) // a hakmem address, not Go memory
	}
	hakmem.FreeSlice(addrs)
	hakmem.Release()
}
