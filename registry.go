package hakmem

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// The registry answers "which hakmem segment owns this address?" for any
// address at all, so that Free can reject foreign pointers (Go heap, stack,
// C memory, other mappings) before touching memory. It is a two-level table
// indexed by address / 2 MiB, like the Go runtime's arena index: one load
// for the leaf, one for the entry, no map and no lock on the read side.
//
// Entries are written under heap.mu (segment.go) and read with atomic loads
// by Free from any goroutine.

const (
	// regAddrBits covers the user address space of amd64 (47 bits) and
	// arm64 with 4-level tables (48 bits). Higher addresses are foreign.
	regAddrBits = 48
	regL2Bits   = 13 // 8192 entries per leaf: a 64 KiB leaf spans 16 GiB
	regL1Bits   = regAddrBits - segmentShift - regL2Bits
)

type regLeaf [1 << regL2Bits]atomic.Pointer[segment]

var registry [1 << regL1Bits]atomic.Pointer[regLeaf]

// regLookup returns the segment registered for p's 2 MiB chunk, or nil.
// It may return the tombstone (see freedChunk).
func regLookup(p uintptr) *segment {
	i := p >> (segmentShift + regL2Bits)
	if i >= uintptr(len(registry)) {
		return nil
	}
	leaf := registry[i].Load()
	if leaf == nil {
		return nil
	}
	return leaf[(p>>segmentShift)&(1<<regL2Bits-1)].Load()
}

// regEnsure makes sure the leaves covering [base, base+size) exist,
// mapping a leaf (off the Go heap, for good: meta.go) the first time a
// region of 16 GiB is used. Callers ensure before they regSet.
func regEnsure(base, size uintptr) error {
	regMu.Lock()
	defer regMu.Unlock()
	for i := base >> (segmentShift + regL2Bits); i <= (base+size-1)>>(segmentShift+regL2Bits); i++ {
		if registry[i].Load() != nil {
			continue
		}
		p, err := metaMap(unsafe.Sizeof(regLeaf{}))
		if err != nil {
			return err
		}
		registry[i].Store((*regLeaf)(ptr(p)))
	}
	return nil
}

// regMu serialises regEnsure.
var regMu sync.Mutex

// regSet points every 2 MiB chunk of [base, base+size) at s. Caller holds
// heap.mu and has ensured the leaves (regEnsure).
func regSet(base, size uintptr, s *segment) {
	for c := base >> segmentShift; c <= (base+size-1)>>segmentShift; c++ {
		registry[c>>regL2Bits].Load()[c&(1<<regL2Bits-1)].Store(s)
	}
}

// regReplace points the chunks of [base, base+size) that name old at s,
// leaving the others alone. Caller holds heap.mu.
func regReplace(base, size uintptr, old, s *segment) {
	for c := base >> segmentShift; c <= (base+size-1)>>segmentShift; c++ {
		if leaf := registry[c>>regL2Bits].Load(); leaf != nil {
			leaf[c&(1<<regL2Bits-1)].CompareAndSwap(old, s)
		}
	}
}

// freedChunk is the registry's tombstone for a chunk hakmem has returned to
// the OS. A later Free of a pointer there is a double free if nothing is
// mapped there now, and a foreign pointer if someone else has mapped the
// address since (osMapped tells, on the error path only). The entry stays
// until hakmem maps that chunk again.
var freedChunk = &segment{kind: kindFreed}
