package hakmem

import (
	"errors"
	"sync/atomic"
)

// Slabs: a run of pages cut into blocks of one class, with the two free
// lists of the per-P heaps (pcache.go). The descriptor lives in its
// segment's off-heap slab array (meta.go); seg.pages[i] points at it for
// each of its pages.
//
// The fields above the line are set by the page heap before the slab is
// handed out and do not change while it is in use; Free reads them pinned
// without a lock. free, used and dropped belong to the owner: the P whose
// id is in owner, under pin; or, for an unowned slab, whoever took it off
// a list (central.mu for a listed one). xfree and owner are atomic.
type slab struct {
	base    uintptr // address of block 0
	size    uintptr // block size, bytes
	limit   uintptr // nblocks*size: an offset below it is inside the slab
	key     uintptr // link-encoding key: linkKey ^ base (enc)
	divMul  uint64  // see classInfo
	nblocks uint32
	class   uint8
	npages  uint8
	seg     *segment
	// ----
	free    uintptr // first block of the owner's free list (plain address), 0 when empty
	used    uint32  // blocks not on free: held by the program, or on xfree until collected
	avail   uint32  // nblocks - dropped: blocks that can still be handed out
	dropped uint32  // blocks lost with a corrupted list, never to be reused
	next    *slab   // in the owner's class list, or central.partial, or a list in transit
	prev    *slab   //
	owner   atomic.Int32
	inFull  bool // on its owner's full list (classCache.full); owner only
	isCand  bool // on its owner's candidates (classCache.cand); owner only
	// xfree is the remote free list: the first block's plain address, or
	// 0, with xfreeFull or'ed in while the slab is abandoned full. On its
	// own cache line: every remote Free writes it.
	_     [64]byte
	xfree atomic.Uintptr
	_     [56]byte
}

// xfreeFull marks an abandoned full slab's remote list (block addresses
// are 16-aligned, so the low bits are free): the remote Free that clears
// it lists the slab centrally.
const xfreeFull = 1

// emptySlab is the current slab of a class with none: its free list is
// empty and its owner is nobody, so every fast path misses. Never written.
var emptySlab = slab{}

func init() { emptySlab.owner.Store(noOwner - 2) }

// errCorrupted is the allocator-internal form of ErrCorrupted.
var errCorrupted = errors.New("a free list failed its check (a write into a freed block?); the list was dropped")

// Corruption counters (Stats.Corrupted, Stats.CorruptedBlocks).
var corruptLists, corruptBlocks atomic.Uint64

// init prepares the descriptor of a fresh slab of class c at base.
func (s *slab) init(seg *segment, base uintptr, c uint8) {
	ci := &classes[c]
	s.base = base
	s.size = uintptr(ci.size)
	s.limit = uintptr(ci.nblocks) * uintptr(ci.size)
	s.key = linkKey ^ base
	s.divMul = ci.divMul
	s.nblocks = ci.nblocks
	s.class = c
	s.npages = ci.pages
	s.seg = seg
	s.free, s.used, s.avail, s.dropped = 0, 0, ci.nblocks, 0
	s.next, s.prev = nil, nil
	s.owner.Store(noOwner)
	s.xfree.Store(0)
}

// enc encodes a link to q (0 ends a list) for storage in a free block.
// Whoever writes into a freed block without the process's secret writes a
// link that decodes to a random address, which the checks reject.
func (s *slab) enc(q uintptr) uintptr { return q ^ s.key }

// isBlock reports whether q is the address of one of s's blocks.
func (s *slab) isBlock(q uintptr) bool {
	off := q - s.base
	return off < s.limit && uintptr(uint64(off)*s.divMul>>divShift)*s.size == off
}

// carve puts every block of a fresh slab on its free list, in address
// order, each with its cookie: a Free of a block never handed out is then
// caught as a double free. Called by central.take, which owns the slab.
func (s *slab) carve() {
	var next uintptr
	for i := s.nblocks; i > 0; i-- {
		p := s.base + uintptr(i-1)*s.size
		storeWord(p, s.enc(next))
		storeWord(p+8, p^cookieKey)
		next = p
	}
	s.free = next
}

// pop takes the first block of the free list (not empty), checking the
// link it leaves at the head. bad reports a failed check: the list was
// dropped and counted, and p is 0. The fast paths in malloc.go are this,
// written out, for the common case.
func (s *slab) pop() (p uintptr, bad bool) {
	p = s.free
	n := loadWord(p) ^ s.key
	switch {
	case n == 0 && s.used+1 == s.avail: // the last block
	case n != 0 && s.isBlock(n) && s.used+1 < s.avail:
	default:
		s.dropFree()
		return 0, true
	}
	s.free = n
	s.used++
	storeWord(p+8, 0)
	return p, false
}

// popFast is the fast path's pop from class c's current slab (pop, when
// the link checks out), falling back to the P's next slabs (next); 0 on
// a miss, bad on a failed check (the list was dropped: the caller reports
// ErrCorrupted). Alloc has it written out.
func (cc *classCache) popFast() (p uintptr, bad bool) {
	s := cc.cur
	if p = s.free; p != 0 {
		n := loadWord(p) ^ s.key
		if off := n - s.base; n != 0 && off < s.limit && uintptr(uint64(off)*s.divMul>>divShift)*s.size == off && s.used+1 < s.avail ||
			n == 0 && s.used+1 == s.avail {
			s.free = n
			s.used++
			storeWord(p+8, 0)
			cc.allocs.inc()
			return p, false
		}
	}
	return cc.next()
}

// next is the fast path's fallback, still pinned: the current slab has no
// block that passed the fast path's check, so it collects the slab's
// remote frees, or moves on to the P's next slab of the class, moving an
// exhausted one to the full list, a few slabs at most. It reports a block
// (0 when the P's slabs have none: the slow path then takes a slab from
// the central list) and whether a list failed its check. Frees spread
// over many slabs leave each with a few free blocks; this keeps walking
// them off the slow path.
//
//go:noinline
func (cc *classCache) next() (p uintptr, bad bool) {
	for range nextSlabs {
		s := cc.cur
		if s == &emptySlab {
			// A full slab the owner freed into since: pop from it where
			// it is (the blocks that come back one at a time to a big
			// live set's slabs are not worth moving a slab for).
			if cc.ncand > 0 {
				s = cc.cand[cc.ncand-1]
				if s.free == 0 {
					cc.dropCand(s)
					continue
				}
				if p, bad = s.pop(); bad {
					return 0, true
				}
				if s.free == 0 {
					cc.dropCand(s)
				}
				cc.allocs.inc()
				return p, false
			}
			// Else the oldest full slab, if remote frees came back to it.
			if s = cc.last; s == nil || s.xfree.Load() == 0 {
				return 0, false
			}
			cc.unlinkFull(s)
			cc.push(s)
		}
		if s.free == 0 && s.xfree.Load() != 0 && s.collect() {
			return 0, true
		}
		if s.free != 0 {
			if p, bad = s.pop(); bad {
				return 0, true
			}
			cc.allocs.inc()
			return p, false
		}
		cc.unlinkCur()
		cc.pushFull(s)
	}
	return 0, false
}

// nextSlabs is how many slabs next looks at before it leaves the rest to
// the slow path.
const nextSlabs = 8

// localFast reports whether the owner's Free of a block of s can take the
// fast path: the slab keeps blocks outstanding afterwards and is not on
// the full list, or it is the P's current slab and small enough to keep
// when empty (freeOwnerSlow does the rest: a full slab becomes a
// candidate, an empty one goes back to the page heap).
// Called by the owner.
func (s *slab) localFast(pc *pcache) bool {
	return s.used > 1 && !s.inFull || s.used == 1 && s.npages <= keepPages && pc.cls[s.class].cur == s
}

// pushLocal puts p on the owner's free list (Free on the owning P).
func (s *slab) pushLocal(p uintptr) {
	storeWord(p, s.enc(s.free))
	storeWord(p+8, p^cookieKey)
	s.free = p
	s.used--
}

// dropFree drops the owner's free list after a failed check: its blocks
// are leaked (they count as dropped, so the slab is never given back).
func (s *slab) dropFree() {
	lost := s.avail - s.used
	s.free = 0
	s.dropped += lost
	s.avail -= lost
	countCorrupt(s, lost)
}

// collect moves the remote frees onto the owner's free list, with one
// atomic swap, checking every link on the way: each must be a block of
// the slab, and there cannot be more of them than blocks outstanding (a
// cycle, or a block pushed twice by a racing double free, would exceed
// that). On a failed check the remote list is dropped; its blocks stay
// counted as used, so the slab is never given back, and collect reports
// true. Called by the owner, or by whoever holds an unowned slab.
func (s *slab) collect() (bad bool) {
	h := s.xfree.Swap(0) &^ xfreeFull
	if h == 0 {
		return false
	}
	var n uint32
	tail := h
	for q := h; q != 0; q = loadWord(q) ^ s.key {
		if !s.isBlock(q) || n >= s.used {
			countCorrupt(s, 0)
			return true
		}
		n++
		tail = q
	}
	storeWord(tail, s.enc(s.free))
	s.free = h
	s.used -= n
	return false
}

// verify reports whether the free list holds exactly the slab's blocks
// that can be handed out, each once, before the slab is given back to
// the page heap: a racing double free could otherwise make the slab look
// empty while a block is live. Slow (it walks the whole list), and only
// run on a slab that became empty.
func (s *slab) verify() bool {
	var seen [maxSlabBlocks / 64]uint64
	var n uint32
	for q := s.free; q != 0; q = loadWord(q) ^ s.key {
		if !s.isBlock(q) || n >= s.avail {
			return false
		}
		i := (q - s.base) / s.size
		if seen[i/64]&(1<<(i%64)) != 0 {
			return false
		}
		seen[i/64] |= 1 << (i % 64)
		n++
	}
	return n == s.avail
}

// maxSlabBlocks bounds nblocks (the 16 B class: 1024 blocks per 16 KiB).
const maxSlabBlocks = pageSize / 16

// countCorrupt records a failed check on s's lists, with lost blocks
// leaked (0 when unknown: a dropped remote list).
func countCorrupt(s *slab, lost uint32) {
	corruptLists.Add(1)
	corruptBlocks.Add(uint64(lost))
	cfg().logf(debugMinimal, "corrupted free list in the slab at %#x (class %d bytes): dropped, %d blocks leaked", s.base, s.size, lost)
}
