//go:build !unix || hakmem_nommap

package hakmem

import (
	"errors"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The portable OS layer: "mappings" are byte slices on the Go heap, kept
// alive in a map until unmapped. The GC never scans them (they hold no
// pointers) but counts them in the heap size. Built with -tags hakmem_nommap
// (CI tests it) or on systems without mmap. Advice (madvise) is a no-op and
// resizing a large block copies.

const osMapsGoHeap = true

// "Syscalls" made (here: regions made and dropped), for Stats. The madvise
// and mremap counters stay zero.
var sysMmaps, sysMunmaps, sysMadvFree, sysMadvDontneed, sysMadvHuge, sysMremaps atomic.Uint64

// osMapFailAt is a test hook: when it is n > 0, the n-th osMap from now
// fails (and the hook disarms). Only tests set it.
var osMapFailAt atomic.Int64

var errInjected = errors.New("cannot allocate memory (injected)")

var osHeld struct {
	sync.Mutex
	m map[uintptr][]byte // base -> backing slice, guarded by the mutex
}

func osMap(size, align uintptr) (uintptr, error) {
	if osMapFailAt.Load() > 0 && osMapFailAt.Add(-1) == 0 {
		return 0, errInjected
	}
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

func osFree(base, size uintptr, dontneed bool) {}

func osHugepage(base, size uintptr) {}

const osRemapSupported = false

func osRemap(old, oldSize, newSize, to uintptr) error { return errors.New("remap: not supported") }
