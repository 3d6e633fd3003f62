//go:build !unix || hakmem_nommap

package hakmem

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// The portable OS layer: "mappings" are byte slices on the Go heap, kept
// alive in a map until unmapped. The GC never scans them (they hold no
// pointers) but counts them in the heap size. Built with -tags hakmem_nommap
// (CI tests it) or on systems without mmap.

const osMapsGoHeap = true

// "Syscalls" made (here: regions made and dropped), for Stats.
var sysMmaps, sysMunmaps atomic.Uint64

var osHeld struct {
	sync.Mutex
	m map[uintptr][]byte // base -> backing slice, guarded by the mutex
}

func osMap(size, align uintptr) (uintptr, error) {
	sysMmaps.Add(1)
	b := make([]byte, size+align)
	raw := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	base := (raw + align - 1) &^ (align - 1)
	osHeld.Lock()
	if osHeld.m == nil {
		osHeld.m = make(map[uintptr][]byte)
	}
	osHeld.m[base] = b
	osHeld.Unlock()
	return base, nil
}

func osUnmap(base, size uintptr) {
	sysMunmaps.Add(1)
	osHeld.Lock()
	defer osHeld.Unlock()
	if _, ok := osHeld.m[base]; !ok {
		panic("hakmem: unmap of an unknown region")
	}
	delete(osHeld.m, base)
}
