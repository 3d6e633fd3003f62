package hakmem

import (
	crand "crypto/rand"
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
)

// The per-P heaps. Each P (the Go scheduler's processor; see pin_*.go for
// how a goroutine gets exclusive use of its P's cache) owns slabs: for each
// size class, a short list of slabs it allocates from, the first of which
// (cur) the fast path pops from. A slab has two free lists (segment.go):
//
//   - free, the owner's: blocks ready to allocate. Alloc pops from it and
//     a Free on the owning P pushes onto it, with plain loads and stores
//     under pin: no lock, no atomic read-modify-write.
//   - xfree, everyone else's: a Free on another P pushes onto it with one
//     compare-and-swap on the slab's header. The owner takes the whole
//     list with one atomic swap when free runs dry (collect), as mimalloc
//     does with its thread-delayed free list.
//
// So a P's blocks of a class come from slabs that P owns (no false sharing
// between Ps on small blocks), and there is no central list on the common
// path: the central lists (central.go) only hand out slabs, not blocks.
//
// A slab's life: the page heap makes it; a P adopts it (owner = P id); when
// it is full the P abandons it (owner = noOwner, and the xfreeFull mark
// in xfree); the first remote Free onto an abandoned full slab clears the
// mark and lists it on its central list, where a P in need adopts it
// again; when every block is back the owner gives it to the page heap.
//
// Links in both lists are encoded (XOR with a secret and the slab's base:
// see slab.enc) and every link is checked when popped or when a list is
// collected: it must decode to a block boundary inside the same slab, and
// no list may hold more blocks than the slab has free. A link that fails
// is reported as ErrCorrupted, counted, and its list is dropped (the
// blocks are leaked, never reused), so a stray write into a freed block
// can never make hakmem hand out memory outside its blocks or fault.
//
// Free blocks carry a cookie in word 1 (address ^ cookieKey): Free refuses
// a block whose cookie is present, which catches every sequential double
// free. Allocation clears it, which is why the smallest block is 16 bytes.

// maxSites is how many named sites get per-P counters; later sites share
// atomic counters (site.go).
const maxSites = 256

// noOwner is slab.owner for a slab no P owns (central, or in transit).
const noOwner = -1

// classCache is one class's state in one P's heap. Touched only by the
// goroutine that has the P pinned (or by Release draining a retired P).
type classCache struct {
	cur    *slab   // the slab the fast path pops from; &emptySlab when none
	allocs counter // blocks handed to the program
	frees  counter // frees onto this P's own slabs
	remote counter // frees made on this P onto another P's (or no P's) slab
	slow   counter // allocations that took the slow path (Stats: Refills)
	// emptied counts slabs this P kept when they became empty (not its
	// current one): the scavenger tidies when it moved (remoteFrees).
	emptied counter
	nslabs  int32 // slabs on the list that starts at cur
	nfull   int32 // slabs on full
	full    *slab // owned slabs found full, newest first (inFull set); frees bring them back (next, allocSmallSlow)
	last    *slab // the oldest slab on full (its tail), nil when full is empty
	// cand lists full slabs that the owner freed into since (isCand set),
	// ncand of them: next takes them back before anything else. A full
	// list can be long (a big live set) while only a few of its slabs get
	// blocks back; this finds those without a walk, and without moving a
	// slab between lists on the Free itself.
	cand  [4]*slab
	ncand int32
}

type pcache struct {
	cls   [numClasses]classCache
	sites [maxSites]siteCtr // traffic of named sites
	id    int32             // index in caches; immutable; slab.owner of its slabs
	// learnTick counts the P's pooled hits of Site requests above
	// minLargeThreshold while learning is live; the learning layer samples
	// one in learnEnv.every (allocFastTick). Owner only, under pin.
	learnTick uint32
	// callTick counts the P's slow-path plain allocations; call-site
	// discovery samples one in HAKMEM_CALLSITE_SAMPLE (callsite.go).
	// Owner only, under pin.
	callTick uint32
	epoch    atomic.Uint64 // Release epoch this cache has honoured; written by its owner, read by Release
	pinState
}

type siteCtr struct{ allocs, bytes counter }

// caches is the array of per-P caches, indexed by P id. It only grows (when
// GOMAXPROCS does); the *pcache values are stable. It starts empty, so the
// first pin of the process takes the slow path, which initialises hakmem.
var (
	caches atomic.Pointer[[]*pcache]
	// noCache is the sentinel pin returns for a P without a cache: every
	// class's cur is emptySlab and its id matches no slab's owner, so both
	// fast paths miss. Never written.
	noCache  pcache
	cachesMu sync.Mutex // serialises growth
	initOnce sync.Once
	// releaseEpoch is bumped by Release; a cache that sees a newer epoch on
	// its slow path flushes everything it holds.
	releaseEpoch atomic.Uint64
	// cookieKey makes the free cookie unpredictable, so program data that
	// happens to equal it is vanishingly unlikely; linkKey does the same
	// for free-list links (slab.enc). Set once at init.
	cookieKey, linkKey uintptr
	// strayFrees counts frees made on a P without a cache yet (pin gave
	// noCache), by class: atomic, rare.
	strayFrees [numClasses]atomic.Uint64
)

func init() {
	caches.Store(new([]*pcache))
	var b [16]byte
	_, _ = crand.Read(b[:])
	cookieKey = uintptr(binary.LittleEndian.Uint64(b[:])) | 1
	linkKey = uintptr(binary.LittleEndian.Uint64(b[8:]))
	noCache.id = noOwner - 1
	noCache.init()
}

// init points every class at emptySlab.
func (pc *pcache) init() {
	for c := range pc.cls {
		pc.cls[c].cur = &emptySlab
	}
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
	cs := make([]*pcache, n)
	copy(cs, old)
	for i := len(old); i < n; i++ {
		pc := &pcache{id: int32(i)}
		pc.init()
		pc.epoch.Store(releaseEpoch.Load())
		cs[i] = pc
	}
	caches.Store(&cs)
	for _, pc := range cs[len(old):] {
		publishCache(pc)
	}
}

func gomaxprocs() int { return max(runtime.GOMAXPROCS(0), 1) }

// allocSmallSlow serves a request of class c when the fast path missed:
// the current slab's free list ran out (or failed a check). In order: the
// current slab's last block or its remote frees; another slab the P owns;
// a slab from the central list (an abandoned one with free blocks, or a
// fresh one from the page heap). sid and size are for site accounting.
func allocSmallSlow(c uint8, sid int32, size uintptr) (uintptr, error) {
	pc := pinSlow()
	if pc.epoch.Load() != releaseEpoch.Load() {
		unpin(pc)
		flushOwn()
		pc = pinSlow()
	}
	cc := &pc.cls[c]
	cc.slow.inc()
	for {
		s := cc.cur
		if s == &emptySlab {
			break
		}
		if s.free == 0 {
			if bad := s.collect(); bad {
				unpin(pc)
				return 0, errCorrupted
			}
		}
		if s.free != 0 {
			return popSlow(pc, s, sid, size)
		}
		// Full: it stays the P's, on the full list, until frees come back.
		cc.unlinkCur()
		cc.pushFull(s)
	}
	// Full slabs whose blocks came back by remote frees, oldest first, a
	// few per slow path (the rest rotate to the front for the next time).
	for i := 0; i < fullScan && cc.full != nil; i++ {
		s := cc.fullTail()
		cc.unlinkFull(s)
		if s.xfree.Load() != 0 {
			if bad := s.collect(); bad {
				cc.pushFull(s)
				unpin(pc)
				return 0, errCorrupted
			}
		}
		if s.free != 0 {
			cc.push(s)
			return popSlow(pc, s, sid, size)
		}
		cc.pushFull(s)
	}
	id := pc.id
	unpin(pc)
	s, err := centrals[c].take()
	if err != nil {
		return 0, err
	}
	pc = pinSlow()
	if pc.id != id {
		pc.cls[c].slow.inc() // count the miss on the P that serves it too
	}
	s.owner.Store(pc.id)
	pc.cls[c].push(s)
	return popSlow(pc, s, sid, size)
}

// fullScan is how many full slabs an allocation's slow path looks at for
// remote frees before it takes a slab from the central list.
const fullScan = 4

// popSlow pops a block off s, which has free blocks, for the slow path:
// counts it and unpins. pc is pinned and owns s.
func popSlow(pc *pcache, s *slab, sid int32, size uintptr) (uintptr, error) {
	p, bad := s.pop()
	if bad {
		unpin(pc)
		return 0, errCorrupted
	}
	pc.cls[s.class].allocs.inc()
	pc.countSite(sid, size)
	unpin(pc)
	return p, nil
}

// abandonFull marks the full slabs of the list (linked through next) as
// abandoned: the first remote Free onto one lists it centrally again. A
// slab that received a remote Free meanwhile is listed at once.
func abandonFull(list *slab) {
	for s := list; s != nil; {
		next := s.next
		s.next = nil
		if !s.xfree.CompareAndSwap(0, xfreeFull) {
			centrals[s.class].put(s)
		}
		s = next
	}
}

// freeOwnerSlow is the owner's Free of p when it brings the slab's count of
// outstanding blocks to zero (or when the count is already zero, which a
// valid Free cannot find). Called pinned on the owning P; it reports a
// slab to give back to the page heap, detached and unowned, which the
// caller releases once unpinned, and whether the Free was refused.
func freeOwnerSlow(pc *pcache, p uintptr, s *slab) (release *slab, refused bool) {
	if s.used == 0 {
		return nil, true // more frees than allocations: a double free
	}
	s.pushLocal(p)
	cc := &pc.cls[s.class]
	cc.frees.inc()
	if s.inFull && !s.isCand { // a block came back: allocate from it again
		if cc.ncand < int32(len(cc.cand)) {
			cc.cand[cc.ncand] = s
			cc.ncand++
			s.isCand = true
		} else {
			cc.unlinkFull(s)
			cc.pushSecond(s)
		}
	}
	if s.used > 0 || s.dropped > 0 {
		return nil, false
	}
	// Empty. A small slab stays the P's for a while, ready for the next
	// allocations (churn would otherwise carve a fresh slab for every few
	// blocks); the scavenger's tidy pass gives it back if it is still empty
	// then (tidyOwn). A large one goes back now.
	if s.npages <= keepPages {
		if s.inFull {
			cc.unlinkFull(s)
			cc.pushSecond(s)
		}
		if s != cc.cur {
			cc.emptied.inc()
		}
		return nil, false
	}
	if s.inFull {
		cc.unlinkFull(s)
	} else {
		cc.unlink(s)
	}
	s.owner.Store(noOwner)
	return s, false
}

// keepPages is the largest slab (in pages: 256 KiB, the reach of engine
// v1's per-P caps) a P keeps when it becomes empty, until the scavenger's
// next tidy pass (at most HAKMEM_WARM_MS later), so that churn does not
// visit the page heap and carve a fresh slab every few blocks; a larger
// empty slab goes back at once (those classes hold a few blocks per slab,
// and a P keeping them would hoard megabytes).
const keepPages = 16

// freeRemote pushes p onto s's remote free list. Called pinned (the slab
// cannot be unmapped meanwhile: retire.go). It reports that s was an
// abandoned full slab, which the caller must list centrally once unpinned,
// or that p is at the head of the list already (refused: a double free
// that raced past the cookie check).
func freeRemote(pc *pcache, p uintptr, s *slab) (list, refused bool) {
	storeWord(p+8, p^cookieKey)
	for {
		old := s.xfree.Load()
		if old&^xfreeFull == p {
			return false, true // on the list already: a racing double free lost
		}
		storeWord(p, s.enc(old&^xfreeFull))
		if s.xfree.CompareAndSwap(old, p) {
			if pc != &noCache {
				pc.cls[s.class].remote.inc()
			} else {
				strayFrees[s.class].Add(1)
			}
			return old&xfreeFull != 0, false
		}
	}
}

// freeSmallSlow finishes a Free that the fast path did not: the remote and
// the emptying cases. p was validated pinned by the caller, who passes the
// pin on: pc is pinned and freeSmallSlow unpins it.
func freeSmallSlow(pc *pcache, p uintptr, s *slab) (refused bool) {
	if s.owner.Load() == pc.id {
		emptied := pc.cls[s.class].emptied.load()
		release, refused := freeOwnerSlow(pc, p, s)
		kick := pc.cls[s.class].emptied.load() != emptied
		unpin(pc)
		if release != nil {
			releaseSlab(release)
		}
		if kick {
			scavengerKick(now() + cfg().warmNs) // the tidy pass gives the kept slab back if it stays empty
		}
		return refused
	}
	list, refused := freeRemote(pc, p, s)
	kick := pc != &noCache && pc.cls[s.class].remote.load()%tidyEvery == 0
	unpin(pc)
	if list {
		centrals[s.class].put(s)
	}
	if kick {
		scavengerKick(now() + cfg().warmNs)
	}
	return refused
}

// Remote frees leave their blocks on the owner's slab until the owner
// collects them, which a P that stops allocating a class never does: a
// slab whose blocks were all freed remotely would stay mapped. So every
// tidyEvery remote frees of a class on a P kick the scavenger, whose next
// pass (at most HAKMEM_WARM_MS later: memory that waits that long is WARM
// anyway) tidies every P's heap when remote frees happened since the last
// tidy: each P collects its slabs' remote frees and gives its empty slabs
// back (tidyOwn).
const tidyEvery = 4096

// remoteFrees is the number of remote frees made so far, and of emptied
// slabs kept, all Ps and classes (read by the scavenger to decide whether
// to tidy).
func remoteFrees() uint64 {
	var n uint64
	for _, pc := range *caches.Load() {
		for c := range pc.cls {
			n += pc.cls[c].remote.load() + pc.cls[c].emptied.load()
		}
	}
	for c := range strayFrees {
		n += strayFrees[c].Load()
	}
	return n
}

// tidyOwn collects the remote frees of every slab the current P owns and
// gives the empty ones back to the page heap.
func tidyOwn() {
	pc := pinSlow()
	empty := pc.detachEmpty()
	unpin(pc)
	releaseList(empty)
}

// detachEmpty collects the remote frees of pc's slabs and detaches those
// whose blocks are all back, unowned, as a list through next. Under pin.
func (pc *pcache) detachEmpty() (empty *slab) {
	for c := range pc.cls {
		cc := &pc.cls[c]
		for s := cc.full; s != nil; {
			next := s.next
			if s.xfree.Load() != 0 {
				s.collect()
			}
			if s.free != 0 {
				cc.unlinkFull(s)
				cc.pushSecond(s) // tidied below, with the others
			}
			s = next
		}
		for s := cc.cur; s != &emptySlab && s != nil; {
			next := s.next
			s.collect()
			if s.used == 0 && s.dropped == 0 {
				cc.unlink(s)
				s.owner.Store(noOwner)
				s.next, empty = empty, s
			}
			s = next
		}
	}
	return empty
}

// releaseList gives back the slabs of a list made by detachEmpty.
func releaseList(s *slab) {
	for s != nil {
		next := s.next
		s.next = nil
		releaseSlab(s)
		s = next
	}
}

// releaseSlab gives an empty slab, unowned and on no list, back to the
// page heap, after checking that every block is on its free list once.
func releaseSlab(s *slab) {
	if s.collect() || s.used != 0 || s.dropped != 0 || !s.verify() {
		// A racing double free or a corrupted list: keep the slab out of
		// use for good rather than hand its pages on (its blocks count as
		// leaked in the stats).
		countCorrupt(s, 0)
		return
	}
	heap.freeSlab(s)
	if heap.nretired.Load() >= retireSync {
		heap.reapRetired(false)
	}
}

// countSite records an allocation through a named site.
func (pc *pcache) countSite(sid int32, size uintptr) {
	if sid > 0 && sid < maxSites {
		pc.sites[sid].allocs.inc()
		pc.sites[sid].bytes.add(uint64(size))
	}
}

// push makes s the class's current slab.
func (cc *classCache) push(s *slab) {
	if cc.cur != &emptySlab {
		s.next = cc.cur
		cc.cur.prev = s
	} else {
		s.next = nil
	}
	s.prev = nil
	cc.cur = s
	cc.nslabs++
}

// pushSecond puts s on the list right after the current slab (or makes it
// current when there is none), so that allocation goes on from cur.
func (cc *classCache) pushSecond(s *slab) {
	c := cc.cur
	if c == &emptySlab {
		cc.push(s)
		return
	}
	s.prev, s.next = c, c.next
	if c.next != nil {
		c.next.prev = s
	}
	c.next = s
	cc.nslabs++
}

// unlinkCur takes the current slab off the list; the next becomes current.
func (cc *classCache) unlinkCur() { cc.unlink(cc.cur) }

// unlink takes s off the class's list.
func (cc *classCache) unlink(s *slab) {
	if s.prev != nil {
		s.prev.next = s.next
	} else if s.next != nil {
		cc.cur = s.next
	} else {
		cc.cur = &emptySlab
	}
	if s.next != nil {
		s.next.prev = s.prev
	}
	s.next, s.prev = nil, nil
	cc.nslabs--
}

// pushFull puts s at the front of the full list.
func (cc *classCache) pushFull(s *slab) {
	s.inFull = true
	s.prev, s.next = nil, cc.full
	if cc.full != nil {
		cc.full.prev = s
	} else {
		cc.last = s
	}
	cc.full = s
	cc.nfull++
}

// fullTail is the oldest slab of the (non-empty) full list.
func (cc *classCache) fullTail() *slab { return cc.last }

// unlinkFull takes s off the full list.
func (cc *classCache) unlinkFull(s *slab) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		cc.full = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		cc.last = s.prev
	}
	s.next, s.prev, s.inFull = nil, nil, false
	cc.nfull--
	if s.isCand {
		cc.dropCand(s)
	}
}

// dropCand takes s off the candidates.
func (cc *classCache) dropCand(s *slab) {
	for i := int32(0); i < cc.ncand; i++ {
		if cc.cand[i] == s {
			cc.ncand--
			cc.cand[i], cc.cand[cc.ncand] = cc.cand[cc.ncand], nil
			break
		}
	}
	s.isCand = false
}

// detachedSlabs is what detachAll takes from a cache: every slab it owned,
// linked through next, unowned and in transit.
type detachedSlabs struct{ head *slab }

// detachAll takes every slab off pc, under pin (or the cache's lock, or
// Release's claim on a retired P). It only moves list heads and stores
// owners: no allocation, no lock.
func (pc *pcache) detachAll(d *detachedSlabs) {
	pc.epoch.Store(releaseEpoch.Load())
	for c := range pc.cls {
		cc := &pc.cls[c]
		for cc.cur != &emptySlab {
			s := cc.cur
			cc.unlinkCur()
			s.owner.Store(noOwner)
			s.next, d.head = d.head, s
		}
		for cc.full != nil {
			s := cc.full
			cc.unlinkFull(s)
			s.owner.Store(noOwner)
			s.next, d.head = d.head, s
		}
	}
}

// flushBatches hands detached slabs back: an empty one to the page heap,
// one with free blocks to its central list, a full one abandoned.
func flushBatches(d *detachedSlabs) {
	for s := d.head; s != nil; {
		next := s.next
		s.next = nil
		switch {
		case s.collect():
			// corrupted: its remote list is dropped; keep what is left
			centrals[s.class].put(s)
		case s.used == 0 && s.dropped == 0:
			releaseSlab(s)
		case s.free != 0:
			centrals[s.class].put(s)
		default:
			abandonFull(s)
		}
		s = next
	}
	d.head = nil
}

// flushOwn flushes the current P's heap entirely.
func flushOwn() {
	var d detachedSlabs
	pc := pinSlow()
	pc.detachAll(&d)
	unpin(pc)
	flushBatches(&d)
}
