package hakmem

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// hakmem's own metadata lives off the Go heap. Segment headers, slab
// descriptors and registry leaves grow with the memory hakmem holds (about
// 12 KiB per 2 MiB segment); on the Go heap, as Go structs full of
// pointers, the garbage collector scanned about 6 MiB of them per GiB
// held, on every cycle. They are carved instead from chunks hakmem maps
// for itself, which the GC never scans: pointers between them point
// outside the Go heap, and they never point into it (the tombstone
// freedChunk, a Go global, is the one exception, and globals are never
// freed). The Go heap keeps only fixed-size tables: the registry's first
// level, the central lists, the per-P caches.
//
// A pool hands out zeroed objects of one size and takes them back onto a
// free list; its chunks are never unmapped, so a stale header pointer (a
// racing Free that read the registry before the header was released)
// always reads mapped memory, and every decision taken on a header is
// checked again under the lock that guards it (heap.mu for segments,
// against the block's address).
//
// Under hakmem_nommap the chunks are Go-heap byte slices (os_portable.go):
// never scanned, kept alive by the OS layer's table for good.

// metaChunk is the size of one chunk a pool maps: 1 MiB holds about 80
// small-segment headers (160 MiB of segments) or 700 large-block headers.
const metaChunk = 1 << 20

// metaPool is a pool of off-heap objects of one size. Guarded by its mutex.
type metaPool struct {
	mu        sync.Mutex
	size      uintptr // object size, bytes (a multiple of 64: no false sharing between headers)
	free      uintptr // released objects, linked through word 0
	next, end uintptr // the unused rest of the newest chunk
	live      int     // objects handed out and not released
}

var (
	segPool   = metaPool{size: (unsafe.Sizeof(segment{}) + 63) &^ 63}
	slabsPool = metaPool{size: (unsafe.Sizeof([pagesPerSegment]slab{}) + 63) &^ 63}
	// metaMapped is the bytes mapped for metadata: pools' chunks and
	// registry leaves (Stats.MetadataBytes).
	metaMapped atomic.Uint64
)

// get returns a zeroed object, mapping a chunk when the pool is empty.
func (mp *metaPool) get() (uintptr, error) {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	p := mp.free
	if p != 0 {
		mp.free = loadWord(p)
		clear(unsafe.Slice((*byte)(ptr(p)), mp.size))
	} else {
		if mp.end-mp.next < mp.size {
			base, err := metaMap(metaChunk)
			if err != nil {
				return 0, err
			}
			mp.next, mp.end = base, base+metaChunk
		}
		p = mp.next // fresh mapped memory is zero
		mp.next += mp.size
	}
	mp.live++
	return p, nil
}

// put takes an object back. Nothing may use it afterwards except a stale
// reader that checks what it reads (see above).
func (mp *metaPool) put(p uintptr) {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	storeWord(p, mp.free)
	mp.free = p
	mp.live--
}

// metaMap maps n bytes of metadata for good.
func metaMap(n uintptr) (uintptr, error) {
	base, err := osMap(n, osPageSize)
	if err == nil {
		metaMapped.Add(uint64(n))
	}
	return base, err
}

// newSegment returns a zeroed segment header off the Go heap, with slab
// descriptors for a segment of small blocks.
func newSegment(small bool) (*segment, error) {
	p, err := segPool.get()
	if err != nil {
		return nil, err
	}
	seg := (*segment)(ptr(p))
	if small {
		sp, err := slabsPool.get()
		if err != nil {
			segPool.put(p)
			return nil, err
		}
		seg.slabs = (*[pagesPerSegment]slab)(ptr(sp))
	}
	return seg, nil
}

// freeSegment releases a header that nothing references any more (the
// registry holds the tombstone, no list holds it).
func freeSegment(seg *segment) {
	if seg.slabs != nil {
		slabsPool.put(uintptr(unsafe.Pointer(seg.slabs)))
	}
	segPool.put(uintptr(unsafe.Pointer(seg)))
}
