package hakmem

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// Per-block records of checked mode, off the Go heap. Each 2 MiB chunk
// that held a checked block has a records array (found through a
// two-level directory, like the registry), with room for 1024 records per
// 16 KiB page: the block of index i of the slab that starts at page k has
// record k*1024+i. A slab's records are thus contiguous (48 bytes a
// block), so memory follows the blocks, not the address space (records
// indexed by address would give a 1 KiB block a page of its own). Only
// blocks the engine counts as allocated (live, quarantined, or on a
// checked free stack) have records that mean anything, so their slabs
// exist and the numbering is stable while it matters. An array is mapped
// the first time a block of its chunk is recorded and kept for good. A chunk that starts a large block
// needs one record: its slot gets a single record from a pool instead
// (tagged with the low bit), replaced by an array if the chunk later holds
// a segment of small blocks.

const (
	recsPerPage = pageSize >> 4 // the most blocks a page of a slab holds (16-byte blocks)
	recsBytes   = pagesPerSegment * recsPerPage * unsafe.Sizeof(checkRec{})
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
// goroutine that moved the state, or under the lock of the shard whose
// quarantine or free stack holds the block.
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
	next  uintptr // next block on the quarantine or a free stack; while live, next on its Heap's list
	// owner is the record of the Heap whose block this is (check_heap.go),
	// 0 for any other block; while live, prev is the previous block on
	// that Heap's list. Both change under the Heap's checked-mode lock.
	// On the quarantine or a free stack, prev is next's record instead
	// (link), so that moving along those lists needs no recFor.
	owner atomic.Uintptr
	prev  uintptr
}

// link makes p (record pr; 0 and nil for none) the next block of r on
// the quarantine or a free stack.
func (r *checkRec) link(p uintptr, pr *checkRec) {
	r.next, r.prev = p, uintptr(unsafe.Pointer(pr))
}

// nextRec is the record of r.next on the quarantine or a free stack.
func (r *checkRec) nextRec() *checkRec { return (*checkRec)(ptr(r.prev)) }

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

// recArray returns the records of p's chunk: an array, or a single
// record (low bit set); 0 when the chunk never had one.
func recArray(p uintptr) uintptr {
	i := p >> (segmentShift + regL2Bits)
	if i >= uintptr(len(recDir)) {
		return 0
	}
	leaf := recDir[i].Load()
	if leaf == nil {
		return 0
	}
	return leaf[(p>>segmentShift)&(1<<regL2Bits-1)].Load()
}

// recFor returns the record of the block starting at p (of a small slab,
// or a large block's base), or nil when there is none.
func recFor(p uintptr) *checkRec {
	seg := regLookup(p)
	if seg == nil {
		return nil
	}
	switch seg.kind {
	case kindSmall:
		s := seg.slabAt(p)
		if s == nil {
			return nil
		}
		return recForSlab(p, s)
	case kindLarge:
		if p != seg.base {
			return nil
		}
		arr := recArray(p)
		if arr == 0 {
			return nil
		}
		return (*checkRec)(ptr(arr &^ 1)) // the single record, or the array's first
	}
	return nil
}

// recForSlab is recFor for a block p the caller found to start a block
// of slab s: no registry lookup (a small segment is segmentSize-aligned,
// so its base is p's). nil when p's chunk has no records.
func recForSlab(p uintptr, s *slab) *checkRec {
	arr := recArray(p)
	if arr == 0 || arr&1 != 0 {
		return nil
	}
	slot := (s.base-p&^(segmentSize-1))>>pageShift*recsPerPage + s.blockIndex(p)
	return (*checkRec)(ptr(arr + slot*unsafe.Sizeof(checkRec{})))
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
