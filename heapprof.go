package hakmem

import (
	"io"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The live-memory profile: one allocation per HAKMEM_PROFILE_RATE bytes on
// average records its stack (stacktab.go), in every mode, and
// WriteHeapProfile writes what was sampled as a pprof heap profile
// (pprofenc.go). Samples are drawn only on slow paths, so the fast paths
// pay nothing:
//
//   - a small allocation that misses its P's cache (allocAddr) is charged
//     the bytes refilled into that P's list of the class since the P's
//     last draw (the engine's own per-P refill counter, pcache.moved): the
//     bytes the P hands out between misses. It is drawn with probability
//     charge/rate (1 at or above the rate), and a drawn sample stands for
//     max(charge, rate) bytes of its class, so the profile's bytes
//     estimate the bytes that came through refills, and its stacks are
//     those of the allocations that found their P's cache empty. A live set that grows comes through refills, batch by batch;
//     churn served from a P's cache (alloc and free on one P) is not seen.
//     In checked mode every allocation takes the slow path and is charged
//     its own size, as the Go runtime does.
//   - a sampled small block is not taken from the pools: one of up to
//     sampleMaxPages pages becomes a large block of its own (the memory
//     limit applies, the engine counts it, its Free is a large one); a
//     smaller one gets pages of a sample segment (a 2 MiB mapping of kind kindSampled, registered
//     like any segment), so that its Free, which the fast path declines,
//     reaches freeOther and is seen. At most sampleSegs such segments are
//     mapped (never unmapped; their pages are reused); when they are full,
//     nothing more is sampled until samples are freed.
//   - a large allocation (its free is always a slow path) is charged its
//     size and the block itself is tracked.
//
// Samples live in an off-heap table keyed by block address (profSlots at
// most live; beyond it nothing more is sampled), and their counts per
// stack in a fixed array indexed by stack id: nothing on the Go heap grows
// with the memory held or the samples taken.

// kindSampled is the segment kind of sample segments (segment.go's kinds
// end at kindFreed).
const kindSampled = kindFreed + 1

const (
	profSlots = 1 << 16 // live samples tracked at most (3 MiB of address space for the table)
	// sampleMaxPages is the biggest sampled block (in pages) a sample
	// segment takes: a bigger one (64 KiB .. 1 MiB classes) becomes a large
	// block of its own, within the memory limit, so that sampling never
	// moves much memory out of the pools.
	sampleMaxPages = 16
	sampleSegs     = 16 // sample segments at most (32 MiB)
	samplePage     = osPageSize
	sampPages      = segmentSize / samplePage
)

// profSlot is one live sample, in the off-heap table; addr 0 is empty.
type profSlot struct {
	addr   uintptr
	size   uintptr // the length asked for
	usable uintptr // the block's usable size (what Free and UsableSize see)
	objs   float64 // allocations the sample stands for
	stk    uint32  // stack id, 0 when the stack table was full
	large  bool    // a large block (its own mapping), not a sample segment's pages
	class  uint8   // a sample segment's block: its size class
}

// profBucket counts what the samples of one stack stand for.
type profBucket struct {
	allocObjs, allocBytes float64
	freeObjs, freeBytes   float64
}

var prof struct {
	mu      sync.Mutex
	slots   uintptr // the table, off the Go heap; 0 until the first sample
	n       int     // live samples
	buckets [stackTabSize + 1]profBucket
	segs    [sampleSegs]struct {
		base uintptr
		used [sampPages / 64]uint64 // pages holding sampled blocks
	}
	nsegs int
	// smallBlocks and smallBytes count the sampled blocks in sample
	// segments (usable bytes), for Stats.LiveBlocks; guarded by mu.
	smallBlocks, smallBytes int64
	// classAllocs and classFrees count them by class, for ReadStats,
	// which counts them as blocks of their class; guarded by mu.
	classAllocs, classFrees [numClasses]uint64
	live                    atomic.Int64  // live samples, read without the lock by profileFreedLarge
	mapped                  atomic.Uint64 // bytes mapped for sample segments and the table (Stats.ProfileBytes)
	taken                   atomic.Uint64 // samples taken
	missed                  atomic.Uint64 // samples drawn but not taken (the table, the segments or the stack table full)
}

// profileDue draws whether an allocation of a block of usable bytes,
// charged charge bytes, is sampled, and the bytes a sample then stands
// for. The probability is charge/rate, at most 1, and at most 1/8 for a
// block of more than sampleMaxPages pages (so that sampling moves little
// of the memory of big classes out of the pools; the weight makes up for
// it).
func profileDue(charge, usable uintptr) (bool, float64) {
	rate := uintptr(cfg().profileRate)
	if rate == 0 || charge == 0 {
		return false, 0
	}
	q := min(1, float64(charge)/float64(rate))
	if usable > sampleMaxPages*samplePage {
		q = min(q, 1.0/8)
	}
	if rand.Float64() >= q {
		return false, 0
	}
	return true, float64(charge) / q
}

func (s *profSlot) hash() uintptr { return (s.addr >> 4) * 0x9e3779b97f4a7c15 >> 48 }

func slotAt(i uintptr) *profSlot {
	return (*profSlot)(ptr(prof.slots + i%profSlots*unsafe.Sizeof(profSlot{})))
}

// slotFind returns the index of addr's slot, or -1. Caller holds prof.mu.
func slotFind(addr uintptr) int {
	if prof.slots == 0 {
		return -1
	}
	k := profSlot{addr: addr}
	for i := k.hash(); ; i++ {
		s := slotAt(i)
		if s.addr == addr {
			return int(i % profSlots)
		}
		if s.addr == 0 {
			return -1
		}
	}
}

// slotInsert adds sample s; false when the table is full or cannot be
// mapped. Caller holds prof.mu.
func slotInsert(s profSlot) bool {
	if prof.slots == 0 {
		base, err := osMap(profSlots*unsafe.Sizeof(profSlot{}), osPageSize)
		if err != nil {
			return false
		}
		prof.slots = base
		prof.mapped.Add(uint64(profSlots * unsafe.Sizeof(profSlot{})))
	}
	if prof.n >= profSlots*3/4 {
		return false
	}
	for i := s.hash(); ; i++ {
		if t := slotAt(i); t.addr == 0 {
			*t = s
			prof.n++
			prof.live.Add(1)
			return true
		}
	}
}

// slotDelete removes slot i (linear probing: later entries of the run
// move back). Caller holds prof.mu.
func slotDelete(i uintptr) {
	for {
		*slotAt(i) = profSlot{}
		j := i
		for {
			j++
			t := slotAt(j)
			if t.addr == 0 {
				prof.n--
				prof.live.Add(-1)
				return
			}
			h := t.hash()
			// t may move into the hole at i unless its home lies in (i, j].
			if (j-h)%profSlots >= (j-i)%profSlots {
				*slotAt(i) = *t
				i = j % profSlots
				break
			}
		}
	}
}

// profileRecord counts sample s (a new block) in its stack's bucket.
// Caller holds prof.mu.
func profileRecord(s *profSlot) {
	b := &prof.buckets[s.stk]
	b.allocObjs += s.objs
	b.allocBytes += s.objs * float64(s.size)
	prof.taken.Add(1)
}

// profileForget counts sample slot i as freed and removes it. Caller
// holds prof.mu.
func profileForget(i int) {
	s := slotAt(uintptr(i))
	b := &prof.buckets[s.stk]
	b.freeObjs += s.objs
	b.freeBytes += s.objs * float64(s.size)
	slotDelete(uintptr(i))
}

// profileAllocSmall serves a sampled small allocation of size bytes (class
// c, usable as the class's blocks) from a sample segment; ok is false
// when there is no room (the caller allocates as usual).
func profileAllocSmall(size int, c uint8, bytes float64) (p uintptr, ok bool) {
	var buf [maxStack + maxCallerWalk]uintptr
	stk := stackTab.intern(callerStack(&buf))
	usable := uintptr(classes[c].size)
	npages := int((usable + samplePage - 1) / samplePage)
	prof.mu.Lock()
	defer prof.mu.Unlock()
	p = sampleTake(npages)
	if p == 0 {
		prof.missed.Add(1)
		return 0, false
	}
	s := profSlot{addr: p, size: uintptr(size), usable: usable, objs: bytes / float64(usable), stk: stk, class: c}
	if !slotInsert(s) {
		sampleGive(p, npages)
		prof.missed.Add(1)
		return 0, false
	}
	profileRecord(&s)
	prof.smallBlocks++
	prof.smallBytes += int64(usable)
	prof.classAllocs[c]++
	return p, true
}

// sampleTake finds npages free pages in a sample segment, mapping one if
// needed; 0 when none can be had. Caller holds prof.mu.
func sampleTake(npages int) uintptr {
	for k := 0; k <= prof.nsegs && k < sampleSegs; k++ {
		if k == prof.nsegs && !sampleMap() {
			return 0
		}
		sg := &prof.segs[k]
		if npages == 1 { // the common case: the first free page, a word at a time
			for w := range sg.used {
				if free := ^sg.used[w]; free != 0 {
					i := bits.TrailingZeros64(free)
					sg.used[w] |= 1 << i
					return sg.base + uintptr(w*64+i)*samplePage
				}
			}
			continue
		}
		run := 0
		for i := 0; i < sampPages; i++ {
			if sg.used[i/64]&(1<<(i%64)) != 0 {
				run = 0
				continue
			}
			if run++; run == npages {
				first := i + 1 - npages
				for j := first; j <= i; j++ {
					sg.used[j/64] |= 1 << (j % 64)
				}
				return sg.base + uintptr(first)*samplePage
			}
		}
	}
	return 0
}

// sampleGive frees npages pages at p. Caller holds prof.mu.
func sampleGive(p uintptr, npages int) {
	for k := 0; k < prof.nsegs; k++ {
		sg := &prof.segs[k]
		if p-sg.base < segmentSize {
			first := int((p - sg.base) / samplePage)
			for j := first; j < first+npages; j++ {
				sg.used[j/64] &^= 1 << (j % 64)
			}
			return
		}
	}
}

// sampleMap maps and registers one more sample segment. Caller holds
// prof.mu.
func sampleMap() bool {
	base, err := osMap(segmentSize, segmentSize)
	if err != nil {
		return false
	}
	if regEnsure(base, segmentSize) != nil {
		osUnmap(base, segmentSize)
		return false
	}
	heap.mu.Lock()
	seg, err := newSegment(false)
	if err != nil {
		heap.mu.Unlock()
		osUnmap(base, segmentSize)
		return false
	}
	seg.base, seg.kind = base, kindSampled
	regSet(base, segmentSize, seg)
	heap.mu.Unlock()
	prof.segs[prof.nsegs].base = base
	prof.nsegs++
	prof.mapped.Add(segmentSize)
	return true
}

// sampleError reports a pointer into a sample segment that starts no
// sampled block: inside one (interior), or on a free page (freed
// already). Caller holds prof.mu.
func sampleError(p uintptr, op string) error {
	for k := 0; k < prof.nsegs; k++ {
		sg := &prof.segs[k]
		if i := (p - sg.base) / samplePage; p-sg.base < segmentSize && sg.used[i/64]&(1<<(i%64)) != 0 {
			return newError(op, p, 0, ErrInvalidPointer, "not the start of a block (interior pointer into a heap profile sample)")
		}
	}
	return newError(op, p, 0, ErrDoubleFree, "the block is free (a heap profile sample)")
}

// profileFree frees the sampled block at p (in a sample segment).
func profileFree(p uintptr, op string) error {
	prof.mu.Lock()
	i := slotFind(p)
	if i < 0 {
		err := sampleError(p, op)
		prof.mu.Unlock()
		return err
	}
	s := slotAt(uintptr(i))
	npages := int((s.usable + samplePage - 1) / samplePage)
	prof.smallBlocks--
	prof.smallBytes -= int64(s.usable)
	prof.classFrees[s.class]++
	profileForget(i)
	sampleGive(p, npages)
	prof.mu.Unlock()
	return nil
}

// profileUsable is usableSize for a pointer into a sample segment.
func profileUsable(p uintptr, op string) (uintptr, error) {
	prof.mu.Lock()
	defer prof.mu.Unlock()
	if i := slotFind(p); i >= 0 {
		return slotAt(uintptr(i)).usable, nil
	}
	return 0, sampleError(p, op)
}

// profileLarge draws whether the new large block p (size bytes asked
// for, usable mapped) is sampled, and tracks it if so.
func profileLarge(p, size, usable uintptr) {
	due, bytes := profileDue(size, 0)
	if !due {
		return
	}
	var buf [maxStack + maxCallerWalk]uintptr
	stk := stackTab.intern(callerStack(&buf))
	s := profSlot{addr: p, size: size, usable: usable, objs: bytes / float64(size), stk: stk, large: true}
	prof.mu.Lock()
	if slotInsert(s) {
		profileRecord(&s)
	} else {
		prof.missed.Add(1)
	}
	prof.mu.Unlock()
}

// profileFreedLarge forgets the large block p if it is a sample: it was
// freed, or moved by Realloc. One atomic load when nothing is sampled.
func profileFreedLarge(p uintptr) {
	if prof.live.Load() == 0 {
		return
	}
	prof.mu.Lock()
	if i := slotFind(p); i >= 0 && slotAt(uintptr(i)).large {
		profileForget(i)
	}
	prof.mu.Unlock()
}

// profRefilled is, per P and class, the P's count of blocks refilled
// into its list (pcache.moved.in) when the P last drew a sample decision:
// a slow path is charged the blocks refilled since. Written by the P's
// owner under pin.
var profRefilled [maxProfPs][numClasses]uint64

// maxProfPs is how many Ps have their refills charged exactly; a P beyond
// is charged one batch per slow path.
const maxProfPs = 256

// profileSmall is allocAddr's hook before a small slow path: charged the
// bytes refilled into the P's list of class c since its last draw, and
// when drawn, a block of a sample segment is returned instead (ok). In
// checked mode (checkAlloc) every allocation is charged its size.
func profileSmall(size int, c uint8) (uintptr, bool) {
	if cfg().profileRate == 0 {
		return 0, false
	}
	charge := uintptr(size)
	if !cfg().check {
		pc := pin()
		var n uint64
		if id := pc.id; pc != &noCache && id < maxProfPs {
			in := pc.moved[c].in.load()
			n = in - profRefilled[id][c]
			profRefilled[id][c] = in
		} else {
			n = uint64(classes[c].batch)
		}
		unpin(pc)
		charge = uintptr(n) * uintptr(classes[c].size)
	}
	due, bytes := profileDue(charge, uintptr(classes[c].size))
	if !due {
		return 0, false
	}
	return profileAllocSmall(size, c, bytes)
}

// profileSampledLarge reports whether p is a live large-block sample.
func profileSampledLarge(p uintptr) bool {
	if prof.live.Load() == 0 {
		return false
	}
	prof.mu.Lock()
	defer prof.mu.Unlock()
	i := slotFind(p)
	return i >= 0 && slotAt(uintptr(i)).large
}

// heapSamples returns one sample per stack with samples, scaled.
func heapSamples() []heapSample {
	prof.mu.Lock()
	var ids []uint32
	var vals [][4]int64
	for id := range prof.buckets {
		b := &prof.buckets[id]
		if b.allocObjs == 0 {
			continue
		}
		ids = append(ids, uint32(id))
		vals = append(vals, [4]int64{
			int64(b.allocObjs + 0.5), int64(b.allocBytes + 0.5),
			int64(b.allocObjs - b.freeObjs + 0.5), int64(b.allocBytes - b.freeBytes + 0.5),
		})
	}
	prof.mu.Unlock()
	out := make([]heapSample, len(ids))
	for i, id := range ids {
		out[i] = heapSample{stack: stackTab.stack(id), values: vals[i]}
	}
	return out
}

// WriteHeapProfile writes the live-memory profile of hakmem memory in the
// pprof format (gzipped profile.proto), which `go tool pprof` reads like
// the runtime's heap profile: sample types alloc_objects, alloc_space,
// inuse_objects and inuse_space (the default), scaled from the samples
// (HAKMEM_PROFILE_RATE; see heapprof.go for what is sampled), and the
// allocating stacks, hakmem's own frames left out. With the profile off
// (rate 0) it writes a profile with no samples.
func WriteHeapProfile(w io.Writer) error {
	ensureInit()
	return writeHeapProto(w, heapSamples(), int64(cfg().profileRate))
}

// profileStats adds the sample segments to a ReadStats snapshot: their
// bytes mapped, their sampled blocks as blocks of their classes (in use,
// allocated, freed), their other pages free.
func profileStats(st *Stats) {
	prof.mu.Lock()
	defer prof.mu.Unlock()
	segs := uint64(prof.nsegs) * segmentSize
	st.MappedBytes += segs
	st.InUseBytes += uint64(prof.smallBytes)
	st.FreeBytes += segs - uint64(prof.smallBytes)
	st.CommittedBytes += segs
	for c := range st.Classes {
		cs := &st.Classes[c]
		cs.Allocs += prof.classAllocs[c]
		cs.Frees += prof.classFrees[c]
		cs.InUse += prof.classAllocs[c] - prof.classFrees[c]
	}
}
