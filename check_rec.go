package hakmem

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// Per-block records of checked mode, off the Go heap. Every 16-byte slot
// of every 2 MiB chunk that held a checked block has a record, at the
// same index in a records array of that chunk, so a block's record is two
// loads away from its address (a two-level directory, like the registry's).
// An array is mapped the first time a block of its chunk is recorded and
// kept for good: a chunk hakmem unmaps and maps again finds it ready. Only
// the records of slots that start blocks are ever touched, so the array
// costs address space in proportion to the chunk and memory in proportion
// to the blocks (48 bytes a block). A chunk that starts a large block
// needs one record: its slot gets a single record from a pool instead
// (tagged with the low bit), replaced by an array if the chunk later holds
// a segment of small blocks.

const (
	recShift  = 4 // every block starts on a 16-byte boundary
	recsBytes = (segmentSize >> recShift) * unsafe.Sizeof(checkRec{})
)

// Record states.
const (
	recNone        = 0 // not a checked block (never allocated, or handed back to the engine)
	recLive        = 1 // allocated to the program
	recQuarantined = 2 // freed, poisoned, in the quarantine
	recFree        = 3 // left the quarantine verified; on a checked free stack, ready for reuse
)

// checkRec is one block's record. state changes by compare-and-swap (so of
// two racing Frees one wins); the other fields are written by the
// goroutine that moved the state, or under chk.mu.
type checkRec struct {
	state atomic.Uint32
	class uint8   // size class, or classLarge
	flags uint8   // recSampled: this block records full stacks
	_     uint16  //
	astk  uint32  // allocation stack id (stackTab), 0 none
	fstk  uint32  // free stack id, 0 none
	size  uintptr // the length the program asked for
	apc   uintptr // the allocating call (a return address in the program)
	fpc   uintptr // the freeing call, 0 while live
	next  uintptr // next block on the quarantine or a free stack
}

const (
	classLarge = 0xff // checkRec.class of a large block
	recSampled = 1    // checkRec.flags: full stacks are recorded
)

type recLeaf [1 << regL2Bits]atomic.Uintptr

var (
	recDir       [1 << regL1Bits]atomic.Pointer[recLeaf]
	recMu        sync.Mutex    // serialises mapping leaves and arrays
	recMapped    atomic.Uint64 // bytes mapped for records (address space)
	recStateName = [...]string{recNone: "not allocated", recLive: "live", recQuarantined: "freed (in the quarantine)", recFree: "freed (out of the quarantine, not yet reused)"}
)

// recFor returns the record of the block starting at p, or nil when p's
// chunk never held a checked block.
func recFor(p uintptr) *checkRec {
	i := p >> (segmentShift + regL2Bits)
	if i >= uintptr(len(recDir)) {
		return nil
	}
	leaf := recDir[i].Load()
	if leaf == nil {
		return nil
	}
	arr := leaf[(p>>segmentShift)&(1<<regL2Bits-1)].Load()
	switch {
	case arr == 0:
		return nil
	case arr&1 != 0: // a single record, for a large block
		if p&(segmentSize-1) != 0 {
			return nil
		}
		return (*checkRec)(ptr(arr &^ 1))
	}
	return (*checkRec)(ptr(arr + (p&(segmentSize-1))>>recShift*unsafe.Sizeof(checkRec{})))
}

// recPool holds the single records of chunks that start large blocks.
var recPool = metaPool{size: (unsafe.Sizeof(checkRec{}) + 63) &^ 63}

// recEnsure returns the record of the block at p (a large block when
// large), mapping its chunk's array if needed.
func recEnsure(p uintptr, large bool) (*checkRec, error) {
	i := p >> (segmentShift + regL2Bits)
	if leaf := recDir[i].Load(); leaf != nil {
		if arr := leaf[(p>>segmentShift)&(1<<regL2Bits-1)].Load(); arr != 0 && (arr&1 == 0 || large) {
			return recFor(p), nil
		}
	}
	recMu.Lock()
	defer recMu.Unlock()
	leaf := recDir[i].Load()
	if leaf == nil {
		base, err := osMap(unsafe.Sizeof(recLeaf{}), osPageSize)
		if err != nil {
			return nil, err
		}
		recMapped.Add(uint64(unsafe.Sizeof(recLeaf{})))
		leaf = (*recLeaf)(ptr(base))
		recDir[i].Store(leaf)
	}
	slot := &leaf[(p>>segmentShift)&(1<<regL2Bits-1)]
	switch old := slot.Load(); {
	case old == 0 && large:
		r, err := recPool.get()
		if err != nil {
			return nil, err
		}
		slot.Store(r | 1)
	case old == 0 || old&1 != 0 && !large:
		base, err := osMap(recsBytes, osPageSize)
		if err != nil {
			return nil, err
		}
		recMapped.Add(uint64(recsBytes))
		slot.Store(base)
		if old != 0 {
			recPool.put(old &^ 1) // a stale reader still reads mapped memory (meta.go)
		}
	}
	return recFor(p), nil
}
