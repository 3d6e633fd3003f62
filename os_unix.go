//go:build unix && !hakmem_nommap

package hakmem

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The OS layer: anonymous private mappings straight from the kernel. The
// portable fallback (os_portable.go, build tag hakmem_nommap) keeps the same
// functions over the Go heap. os_linux.go adds what only Linux has (mremap,
// MADV_HUGEPAGE); os_unix_other.go stubs them for the other unix systems.

const osMapsGoHeap = false

// Syscalls made, for Stats.
var sysMmaps, sysMunmaps, sysMadvFree, sysMadvDontneed, sysMadvHuge, sysMremaps atomic.Uint64

// osMapFailAt is a test hook: when it is n > 0, the n-th osMap from now
// fails with ENOMEM (and the hook disarms). Only tests set it.
var osMapFailAt atomic.Int64

// osMapInjected reports whether the test hook says this mapping fails.
func osMapInjected() bool {
	return osMapFailAt.Load() > 0 && osMapFailAt.Add(-1) == 0
}

// osMap maps size bytes of zeroed, readable and writable memory aligned to
// align (a power of two, at least the OS page). It maps size+align and trims
// both ends, so the result owns exactly [base, base+size).
func osMap(size, align uintptr) (uintptr, error) {
	if osMapInjected() {
		return 0, unix.ENOMEM
	}
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

// osFree tells the OS that [base, base+size) holds nothing worth keeping:
// with dontneed the pages are dropped at once (RSS falls now, the next touch
// faults in a zero page); without it, lazily (MADV_FREE: dropped only under
// memory pressure, cheap to reuse, and still counted in RSS until then).
// Errors are ignored: advice is advice.
func osFree(base, size uintptr, dontneed bool) {
	advice := unix.MADV_FREE
	if dontneed {
		advice = unix.MADV_DONTNEED
		sysMadvDontneed.Add(1)
	} else {
		sysMadvFree.Add(1)
	}
	if err := unix.Madvise(bytesAt(base, size, size), advice); err != nil && !dontneed {
		// MADV_FREE is Linux 4.5+; fall back to dropping the pages.
		_ = unix.Madvise(bytesAt(base, size, size), unix.MADV_DONTNEED)
	}
}

// osMinorFaults is the process's minor page faults so far, for the
// learning layer's fault measure (learn_profile.go).
func osMinorFaults() (uint64, bool) {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return uint64(ru.Minflt), true
}
