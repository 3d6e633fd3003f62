//go:build unix && !hakmem_nommap

package hakmem

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The OS layer: anonymous private mappings straight from the kernel. The
// portable fallback (os_portable.go, build tag hakmem_nommap) keeps the same
// three functions over the Go heap.

const osMapsGoHeap = false

// Syscalls made, for Stats.
var sysMmaps, sysMunmaps atomic.Uint64

// osMap maps size bytes of zeroed, readable and writable memory aligned to
// align (a power of two, at least the OS page). It maps size+align and trims
// both ends, so the result owns exactly [base, base+size).
func osMap(size, align uintptr) (uintptr, error) {
	p, err := unix.MmapPtr(-1, 0, nil, size+align, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	sysMmaps.Add(1)
	if err != nil {
		return 0, err
	}
	raw := uintptr(p)
	base := (raw + align - 1) &^ (align - 1)
	if head := base - raw; head > 0 {
		osUnmapRange(raw, head)
	}
	if tail := raw + size + align - (base + size); tail > 0 {
		osUnmapRange(base+size, tail)
	}
	return base, nil
}

// osUnmap returns [base, base+size) to the OS.
func osUnmap(base, size uintptr) { osUnmapRange(base, size) }

func osUnmapRange(base, size uintptr) {
	sysMunmaps.Add(1)
	// munmap fails only for invalid arguments, which would be a hakmem bug.
	if err := unix.MunmapPtr(ptr(base), size); err != nil {
		panic("hakmem: munmap: " + err.Error())
	}
}

// osMapped reports whether the page holding p is mapped by anyone (mincore
// fails with ENOMEM on unmapped addresses). Error paths only.
func osMapped(p uintptr) bool {
	var vec [1]byte
	_, _, e := unix.Syscall(unix.SYS_MINCORE, p&^(osPageSize-1), osPageSize, uintptr(unsafe.Pointer(&vec[0])))
	return e != unix.ENOMEM
}
