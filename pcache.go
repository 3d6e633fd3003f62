package hakmem

import (
	crand "crypto/rand"
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The per-P front caches. Each P (the Go scheduler's processor; see pin_*.go
// for how a goroutine gets exclusive use of its P's cache) has one stack of
// free blocks per size class. An allocation pops, a free pushes; nothing
// else happens on the fast path: no lock, no atomic read-modify-write, no
// shared cache line. A stack that runs dry refills one batch from the
// central list; a stack that reaches its cap flushes one batch back. Blocks
// carry no owner: a block freed on another P simply joins that P's stack,
// so producer/consumer traffic flows through the central transfer caches in
// whole batches.
//
// The stacks are arrays of addresses outside the blocks (slot arrays, off
// the Go heap), not lists linked through the blocks: nothing hakmem follows
// lives in a free block, so a stray write into one (a use after free)
// cannot redirect the allocator to memory of its choosing. The slab free
// lists behind the central lists are bitmaps for the same reason
// (central.go).
//
// Free blocks carry a cookie in word 1 (address ^ cookieKey): Free refuses
// a block whose cookie is present, which catches double frees wherever the
// first free put the block, and a pop hands out only a block whose cookie
// is intact. A block whose cookie is gone was written after it was freed;
// it is dropped (never handed out again, counted in Stats.Corrupted) and
// the allocation reports ErrCorrupted. Allocation clears the cookie, which
// is why the smallest block is 16 bytes.

// maxSites is how many named sites get per-P counters; later sites share
// atomic counters (site.go).
const maxSites = 256

// freeList is one class's stack of free blocks in one P's cache. n and cap
// are touched only by the goroutine that has the P pinned.
type freeList struct {
	slots  uintptr // slot array: max words off the Go heap; slots[0..n) are free blocks, slots[n-1] the top. Owner only (grow replaces it)
	n      uint32  // blocks on the stack
	cap    uint32  // flush when a free finds n == cap; at most max; set by the owner from the capacity learner's targets (learn_cap.go)
	max    uint32  // slots in the array: the class's cap when the cache is made, more after grow. Owner only
	allocs counter // blocks popped for the program
	frees  counter // blocks pushed by the program's frees
}

// maxBatch bounds classes[c].batch (checked at init): the slow paths move
// a batch through an array of this many words on the stack.
const maxBatch = 32

// flushChunk is how many blocks a whole-cache flush (Release, a retired P)
// moves per pinned section.
const flushChunk = 256

type pcache struct {
	lists [numClasses]freeList
	// moved counts blocks refilled into (in) and flushed out of (out) each
	// list, so that cached = in + frees - allocs - out needs no read of n.
	moved  [numClasses]struct{ in, out counter }
	crossP counter           // frees of blocks whose slab was last refilled by another P
	sites  [maxSites]siteCtr // traffic of named sites
	id     int32             // index in caches; immutable
	// learnTick counts the P's pooled hits of Site requests above
	// minLargeThreshold while learning is live; the learning layer samples
	// one in learnEnv.every (allocFastTick). Owner only, under pin.
	learnTick uint32
	epoch     atomic.Uint64 // Release epoch this cache has honoured; written by its owner, read by Release
	// misses counts each list's refills and flushes (slow paths only), for
	// the capacity learner (learn_cap.go) and ReadStats.
	misses [numClasses]capMissCtr
	capGen uint64 // capLearn.gen whose caps the lists have; owner only, under pin
	// chkFree is checked mode's free stacks of this P (check.go): verified
	// blocks out of the quarantine, ready for reuse; empty outside checked
	// mode. Owner only, under pin (or held by Release's thief: drainHeld).
	chkFree [numClasses]chkStack
	// chkLiveBlocks and chkLiveBytes count the checked blocks allocated
	// from chkFree (blocks; bytes the program asked for): Stats.LiveBlocks
	// and LiveBytes add them to the shards' counts (check.go). Owner only,
	// under pin.
	chkLiveBlocks, chkLiveBytes counter
	pinState
}

type siteCtr struct{ allocs, bytes counter }

// caches is the array of per-P caches, indexed by P id. It only grows (when
// GOMAXPROCS does); the *pcache values are stable. It starts empty, so the
// first pin of the process takes the slow path, which initialises hakmem.
var (
	caches atomic.Pointer[[]*pcache]
	// noCache is the sentinel pin returns for a P without a cache (the
	// procPin variant): all its lists are empty with cap 0, so both fast
	// paths miss. Never written; the heap profile tells it from a real
	// cache (heapprof.go).
	noCache  pcache
	cachesMu sync.Mutex // serialises growth
	initOnce sync.Once
	// releaseEpoch is bumped by Release; a cache that sees a newer epoch on
	// its slow path flushes everything it holds.
	releaseEpoch atomic.Uint64
	// cookieKey makes the free cookie unpredictable, so program data that
	// happens to equal it is vanishingly unlikely. Set once at init.
	cookieKey uintptr
)

func init() {
	caches.Store(new([]*pcache))
	var b [8]byte
	_, _ = crand.Read(b[:])
	cookieKey = uintptr(binary.LittleEndian.Uint64(b[:])) | 1
}

// ensureInit reads the configuration, once.
func ensureInit() { initOnce.Do(loadConfig) }

// growCaches makes sure there are at least n caches.
func growCaches(n int) {
	ensureInit()
	cachesMu.Lock()
	defer cachesMu.Unlock()
	old := *caches.Load()
	if len(old) >= n {
		return
	}
	scale := cfg().pcacheScale
	cs := make([]*pcache, n)
	copy(cs, old)
	for i := len(old); i < n; i++ {
		pc := &pcache{id: int32(i)}
		pc.epoch.Store(releaseEpoch.Load())
		pc.capGen = capLearn.gen.Load() // before the targets: a change meanwhile is applied at the first slow path
		pc.makeSlots(scale)
		cs[i] = pc
	}
	caches.Store(&cs)
	for _, pc := range cs[len(old):] {
		publishCache(pc)
	}
}

func gomaxprocs() int { return max(runtime.GOMAXPROCS(0), 1) }

func init() {
	for c := range classes {
		if classes[c].batch > maxBatch {
			panic("hakmem: a class's batch exceeds maxBatch")
		}
	}
}

// slotsFor is the slot array length of class c in a cache made at scale:
// its cap now. A raised cap grows the array then (grow); sizing every
// array for the highest cap the learner may give (capCeiling, 16 times
// the generated one) made a P's arrays 628 KiB, and the top slots of each
// class sit on a page of their own, so a P that used every tiny class kept
// about 136 KiB of them resident.
func slotsFor(c int, scale int) uint32 { return capOf(c, scale) }

// makeSlots maps pc's slot arrays, one mapping for all classes, and sets
// each list's cap. If the mapping fails the cache works without per-P
// caching (every max and cap 0): slower, never wrong.
func (pc *pcache) makeSlots(scale int) {
	var total uintptr
	for c := range pc.lists {
		total += uintptr(slotsFor(c, scale))
	}
	base, err := metaMap(max((total*8+osPageSize-1)&^(osPageSize-1), osPageSize))
	if err != nil {
		return
	}
	for c := range pc.lists {
		l := &pc.lists[c]
		l.slots, l.max = base, slotsFor(c, scale)
		l.cap = l.max
		base += uintptr(l.max) * 8
	}
}

// grow gives l a slot array of at least want slots (at most the class's
// capCeiling at scale), moving its stack there, when want is more than it
// has. The old array is abandoned (it lies inside the cache's first
// mapping): a list grows at most once to its ceiling, so the waste is
// bounded by what the arrays cost before they grew lazily. On a failed
// mapping l keeps its array and the cap stays clamped to it. Owner only,
// pinned.
func (l *freeList) grow(c int, scale int, want uint32) {
	if want <= l.max {
		return
	}
	n := max(want, capCeiling(c, defaultCap(c, scale)))
	base, err := metaMap((uintptr(n)*8 + osPageSize - 1) &^ (osPageSize - 1))
	if err != nil {
		return
	}
	copy(unsafe.Slice((*uintptr)(ptr(base)), l.n), unsafe.Slice((*uintptr)(ptr(l.slots)), l.n))
	l.slots, l.max = base, n
}

// pop takes the top block off the stack, clears its cookie and counts the
// allocation. It returns 0 when the stack is empty or the top block's
// cookie is gone (the slow path drops that block: popBad).
func (l *freeList) pop() uintptr {
	n := l.n - 1
	if int32(n) < 0 {
		return 0
	}
	p := *(*uintptr)(ptr(l.slots + uintptr(n)*8))
	if *(*uintptr)(ptr(p + 8)) != p^cookieKey {
		return 0
	}
	*(*uintptr)(ptr(p + 8)) = 0
	l.n = n
	l.allocs.inc()
	return p
}

// push adds a freed block (cookie already set) and counts the free. The
// caller has checked n < cap.
func (l *freeList) push(p uintptr) {
	storeWord(l.slots+uintptr(l.n)*8, p)
	l.n++
	l.frees.inc()
}

// popBad takes the top block off the stack when its cookie is gone and
// returns it (0 if the top block is fine or the stack is empty). The block
// is not handed out again: it was written after it was freed, or freed
// twice at once, and may be live.
func (l *freeList) popBad() uintptr {
	if l.n == 0 {
		return 0
	}
	p := loadWord(l.slots + uintptr(l.n-1)*8)
	if loadWord(p+8) == p^cookieKey {
		return 0
	}
	l.n--
	return p
}

// cut moves the top len(buf) blocks (at most n) into buf.
func (l *freeList) cut(buf []uintptr) {
	k := uint32(len(buf))
	copy(buf, unsafe.Slice((*uintptr)(ptr(l.slots+uintptr(l.n-k)*8)), k))
	l.n -= k
}

// fill pushes the blocks of buf that fit under max and returns how many.
// They are not the program's frees: the caller counts them as moved in.
func (l *freeList) fill(buf []uintptr) uint32 {
	k := min(uint32(len(buf)), l.max-l.n)
	copy(unsafe.Slice((*uintptr)(ptr(l.slots+uintptr(l.n)*8)), k), buf[:k])
	l.n += k
	return k
}

// corrupted counts blocks dropped because their cookie was gone
// (Stats.Corrupted).
var corrupted atomic.Uint64

// corruptBlock is the error allocSmallSlow returns for a dropped block;
// allocAddr turns it into ErrCorrupted.
type corruptBlock struct {
	p     uintptr
	class uint8
}

func (e *corruptBlock) Error() string { return "a free block's cookie was overwritten" }

// allocSmallSlow refills class c's list of the current P and returns a
// block. sid and size are for site accounting (sid 0: the default site).
func allocSmallSlow(c uint8, sid int32, size uintptr) (uintptr, error) {
	pc := pinSlow()
	if pc.epoch.Load() != releaseEpoch.Load() {
		unpin(pc)
		flushOwn()
		pc = pinSlow()
	}
	if pc.capGen != capLearn.gen.Load() {
		pc = syncCaps(pc)
	}
	l := &pc.lists[c]
	if bad := l.popBad(); bad != 0 {
		pc.moved[c].out.inc() // out of the cache into nowhere: counted as in use for good
		unpin(pc)
		corrupted.Add(1)
		return 0, &corruptBlock{p: bad, class: c}
	}
	if p := l.pop(); p != 0 { // another goroutine refilled this P meanwhile
		pc.countSite(sid, size)
		unpin(pc)
		return p, nil
	}
	id := pc.id
	unpin(pc)
	capWake()
	var buf [maxBatch]uintptr
	n, err := centrals[c].take(buf[:classes[c].batch], id)
	if err != nil {
		return 0, err
	}
	// The first block goes to the program, checked like a pop; the rest
	// into the P's stack, to be checked when popped.
	p := buf[0]
	ok := loadWord(p+8) == p^cookieKey
	if ok {
		storeWord(p+8, 0)
	}
	pc = pinSlow()
	l = &pc.lists[c]
	k := l.fill(buf[1:n])
	pc.moved[c].in.add(uint64(k) + 1)
	pc.misses[c].refills.inc()
	if ok {
		l.allocs.inc()
		pc.countSite(sid, size)
	} else {
		pc.moved[c].out.inc() // dropped: counted as in use for good
	}
	unpin(pc)
	if rest := buf[1+k : n]; len(rest) > 0 { // the stack filled up meanwhile
		centrals[c].put(rest)
	}
	if !ok {
		corrupted.Add(1)
		return 0, &corruptBlock{p: p, class: c}
	}
	return p, nil
}

// freeSmallSlow handles a free into a full stack: the top batch-1 blocks
// and p go back to the central list together. Its error is checked
// mode's (a racing double free found on the record); nil otherwise.
func freeSmallSlow(p uintptr, s *slab) error {
	if checkOn() { // hook: checked mode (check.go)
		return checkFreeSmall(p, s)
	}
	c := s.class
	pc := pinSlow()
	if pc.capGen != capLearn.gen.Load() {
		pc = syncCaps(pc)
	}
	l := &pc.lists[c]
	if s.owner.Load() != pc.id {
		pc.crossP.inc()
	}
	var buf [maxBatch]uintptr
	k := uint32(0)
	if l.n < l.cap {
		l.push(p)
	} else {
		l.frees.inc()
		k = min(uint32(classes[c].batch)-1, l.n)
		l.cut(buf[:k])
		buf[k] = p
		k++
		pc.moved[c].out.add(uint64(k))
		pc.misses[c].flushes.inc()
	}
	stale := pc.epoch.Load() != releaseEpoch.Load()
	unpin(pc)
	if k > 0 {
		centrals[c].put(buf[:k])
		if heap.nretired.Load() >= retireSync {
			heap.reapRetired(false)
		}
	}
	if stale {
		flushOwn()
	}
	return nil
}

// countSite records an allocation through a named site.
func (pc *pcache) countSite(sid int32, size uintptr) {
	if sid > 0 && sid < maxSites {
		pc.sites[sid].allocs.inc()
		pc.sites[sid].bytes.add(uint64(size))
	}
}

// cutAny moves up to len(buf) blocks of the first non-empty list of pc
// into buf and returns their class and number (0 when pc is empty). The
// caller holds pc (pinned, its slot's lock, or a retired P's cache taken
// over) and hands the blocks to centrals[c] after letting go of it.
func (pc *pcache) cutAny(buf []uintptr) (c int, k uint32) {
	pc.epoch.Store(releaseEpoch.Load())
	for c := range pc.lists {
		l := &pc.lists[c]
		if l.n > 0 {
			k = min(l.n, uint32(len(buf)))
			l.cut(buf[:k])
			pc.moved[c].out.add(uint64(k))
			return c, k
		}
	}
	return pc.chkCut(buf) // hook: checked mode's free stacks (check.go)
}

// flushOwn flushes the current P's cache entirely, a chunk per pinned
// section (the goroutine may change P between chunks: it flushes the
// cache of the P it is on until that one is empty).
func flushOwn() {
	var buf [flushChunk]uintptr
	for {
		pc := pinSlow()
		c, k := pc.cutAny(buf[:])
		unpin(pc)
		if k == 0 {
			return
		}
		centrals[c].put(buf[:k])
	}
}
