package hakmem

import (
	crand "crypto/rand"
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
)

// The per-P front caches. Each P (the Go scheduler's processor; see pin_*.go
// for how a goroutine gets exclusive use of its P's cache) has one free list
// per size class. An allocation pops, a free pushes; nothing else happens on
// the fast path: no lock, no atomic read-modify-write, no shared cache line.
// A list that runs dry refills one batch from the central list; a list that
// reaches its cap flushes one batch back. Blocks carry no owner: a block
// freed on another P simply joins that P's list, so producer/consumer
// traffic flows through the central transfer caches in whole batches.
//
// Free blocks are linked through word 0 and carry a cookie in word 1
// (address ^ cookieKey): Free refuses a block whose cookie is present, which
// catches double frees wherever the first free put the block. Allocation
// clears the cookie, which is why the smallest block is 16 bytes.

// maxSites is how many named sites get per-P counters; later sites share
// atomic counters (site.go).
const maxSites = 256

// freeList is one class's list in one P's cache. head, n and cap are
// touched only by the goroutine that has the P pinned.
type freeList struct {
	head   uintptr // first free block, 0 when empty
	n      uint32  // blocks on the list
	cap    uint32  // flush when a free finds n == cap; set by the owner from the capacity learner's targets (caplearn.go)
	allocs counter // blocks popped for the program
	frees  counter // blocks pushed by the program's frees
}

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
	// the capacity learner (caplearn.go) and ReadStats.
	misses [numClasses]capMissCtr
	capGen uint64 // capLearn.gen whose caps the lists have; owner only, under pin
	pinState
}

type siteCtr struct{ allocs, bytes counter }

// caches is the array of per-P caches, indexed by P id. It only grows (when
// GOMAXPROCS does); the *pcache values are stable. It starts empty, so the
// first pin of the process takes the slow path, which initialises hakmem.
var (
	caches atomic.Pointer[[]*pcache]
	// noCache is the sentinel pin returns for a P without a cache: all its
	// lists are empty with cap 0, so both fast paths miss. Never written.
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
		for c := range pc.lists {
			pc.lists[c].cap = capOf(c, scale)
		}
		cs[i] = pc
	}
	caches.Store(&cs)
	for _, pc := range cs[len(old):] {
		publishCache(pc)
	}
}

func gomaxprocs() int { return max(runtime.GOMAXPROCS(0), 1) }

// pop takes the first block off the list, clears its cookie and counts the
// allocation; 0 if the list is empty.
func (l *freeList) pop() uintptr {
	p := l.head
	if p != 0 {
		l.head = loadWord(p)
		storeWord(p+8, 0)
		l.n--
		l.allocs.inc()
	}
	return p
}

// push adds a freed block (cookie already set) and counts the free.
func (l *freeList) push(p uintptr) {
	storeWord(p, l.head)
	l.head = p
	l.n++
	l.frees.inc()
}

// cut detaches the first k blocks (k <= n) as a batch.
func (l *freeList) cut(k uint32) batch {
	b := batch{head: l.head, n: k}
	t := l.head
	for i := uint32(1); i < k; i++ {
		t = loadWord(t)
	}
	b.tail = t
	l.head = loadWord(t)
	l.n -= k
	return b
}

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
	if p := l.pop(); p != 0 { // another goroutine refilled this P meanwhile
		pc.countSite(sid, size)
		unpin(pc)
		return p, nil
	}
	id := pc.id
	unpin(pc)
	capWake()
	b, err := centrals[c].take(uint32(classes[c].batch), id)
	if err != nil {
		return 0, err
	}
	pc = pinSlow()
	l = &pc.lists[c]
	storeWord(b.tail, l.head)
	l.head = b.head
	l.n += b.n
	pc.moved[c].in.add(uint64(b.n))
	pc.misses[c].refills.inc()
	p := l.pop()
	pc.countSite(sid, size)
	unpin(pc)
	return p, nil
}

// freeSmallSlow handles a free into a full list: push, then flush a batch.
func freeSmallSlow(p uintptr, s *slab) {
	if checkOn() { // hook: checked mode (check.go)
		checkFreeSmall(p, s)
		return
	}
	c := s.class
	pc := pinSlow()
	if pc.capGen != capLearn.gen.Load() {
		pc = syncCaps(pc)
	}
	l := &pc.lists[c]
	l.push(p)
	if s.owner.Load() != pc.id {
		pc.crossP.inc()
	}
	k := min(uint32(classes[c].batch), l.n)
	var b batch
	if l.n > l.cap {
		b = l.cut(k)
		pc.moved[c].out.add(uint64(b.n))
		pc.misses[c].flushes.inc()
	}
	stale := pc.epoch.Load() != releaseEpoch.Load()
	unpin(pc)
	if b.n > 0 {
		centrals[c].put(b)
		if heap.nretired.Load() >= retireSync {
			heap.reapRetired(false)
		}
	}
	if stale {
		flushOwn()
	}
}

// countSite records an allocation through a named site.
func (pc *pcache) countSite(sid int32, size uintptr) {
	if sid > 0 && sid < maxSites {
		pc.sites[sid].allocs.inc()
		pc.sites[sid].bytes.add(uint64(size))
	}
}

// detachAll empties every list of pc into bs, under pin (or the cache's
// lock). It only moves list heads: no allocation, no lock.
func (pc *pcache) detachAll(bs *[numClasses]batch) {
	pc.epoch.Store(releaseEpoch.Load())
	for c := range pc.lists {
		l := &pc.lists[c]
		if l.n > 0 {
			bs[c] = l.cut(l.n)
			pc.moved[c].out.add(uint64(bs[c].n))
		}
	}
}

// flushBatches hands detached lists back to the central lists.
func flushBatches(bs *[numClasses]batch) {
	for c := range bs {
		if bs[c].n > 0 {
			centrals[c].put(bs[c])
		}
	}
}

// flushOwn flushes the current P's cache entirely.
func flushOwn() {
	var bs [numClasses]batch
	pc := pinSlow()
	pc.detachAll(&bs)
	unpin(pc)
	flushBatches(&bs)
}
