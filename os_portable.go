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

var osHeld struct {
	sync.Mutex
	m          map[uintptr][]byte // base -> backing slice, guarded by the mutex
	quarantine []region           // dropped regions still held, oldest first
}

// portableMaxMap bounds one "mapping": the Go runtime dies (it does not
// return an error) when make cannot be satisfied, so sizes no machine this
// build targets could back are refused up front.
const portableMaxMap = 1 << 36 // 64 GiB

// osMapInjected reports whether the test hook says this mapping fails.
func osMapInjected() bool {
	return osMapFailAt.Load() > 0 && osMapFailAt.Add(-1) == 0
}

var errPortableTooBig = errors.New("portable OS layer: mappings above 64 GiB are refused")

func osMap(size, align uintptr) (uintptr, error) {
	if size > portableMaxMap {
		return 0, errPortableTooBig
	}
	if osMapInjected() {
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

// osUnmap drops a region. Caller holds heap.mu. The region's memory goes
// back to the Go heap only after a quarantine of quarantineRegions later
// unmaps: while quarantined its registry tombstone reliably means "freed by
// hakmem" (a double free); once released, the tombstone is cleared and the
// address is foreign, since Go objects may live there.
func osUnmap(base, size uintptr) {
	sysMunmaps.Add(1)
	osHeld.Lock()
	defer osHeld.Unlock()
	b, ok := osHeld.m[base]
	if !ok {
		panic("hakmem: unmap of an unknown region")
	}
	delete(osHeld.m, base)
	osHeld.quarantine = append(osHeld.quarantine, region{base, size, b})
	if len(osHeld.quarantine) > quarantineRegions {
		old := osHeld.quarantine[0]
		osHeld.quarantine = osHeld.quarantine[1:]
		regSet(old.base, old.size, nil)
	}
}

// quarantineRegions: how many dropped regions stay unreusable by the Go
// heap, so that double frees into them are told from foreign pointers.
const quarantineRegions = 8

type region struct {
	base, size uintptr
	mem        []byte // keeps the memory from the Go heap while quarantined
}

// osMapped: a tombstone exists only while its region is quarantined (see
// osUnmap), so nothing else can be there.
func osMapped(uintptr) bool { return false }

func osFree(base, size uintptr, dontneed bool) {}

func osHugepage(base, size uintptr) {}

const osRemapSupported = false

func osRemap(old, oldSize, newSize, to uintptr) error { return errors.New("remap: not supported") }

// osMinorFaults: the portable build cannot count page faults; the learning
// layer then counts every fresh page as a fault.
func osMinorFaults() (uint64, bool) { return 0, false }
