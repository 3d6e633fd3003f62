package hakmem

import (
	"sync/atomic"

	"github.com/hakmem-go/hakmem/internal/learn"
)

// The BigCache: freed large blocks kept mapped for reuse, one list per
// site. A large allocation first looks in its site's list for a block of at
// least the requested (page-rounded) size and at most a quarter more, the
// smallest such; only a miss maps a new block. hakmem's own VM scenario
// (2 MiB blocks, allocated, written and freed in a loop) reused 9 blocks of
// 10 this way and halved its page faults.
//
// A cached block stays in the registry (its segment is marked cached, so a
// second Free of it is reported as a double free) and in two lists: its
// site's (qPrimary) and the global LRU (qLRU). Limits, in blocks and bytes,
// apply per site and globally (HAKMEM_BIGCACHE_*); going over one evicts
// the coldest block of the list concerned, which is unmapped. The scavenger
// (scavenger.go) cools and finally unmaps blocks as they age. Everything
// here runs under heap.mu, on the large path, which maps or unmaps memory
// otherwise: a list walk of a few dozen entries is noise beside a syscall.
//
// Sites beyond maxSites share the default site's list (site id 0).

// bigCacheSlack is the reuse bound: a cached block serves a request when it
// is larger by at most 1/bigCacheSlack of the (page-rounded) request: 25%,
// the bound hakmem used. More would waste memory held by the program; less
// would miss on requests that vary by a few pages.
const bigCacheSlack = 4

// bigCache is the cache of freed large blocks. Guarded by heap.mu.
type bigCache struct {
	lru   segQueue            // every cached block, newest first (link qLRU)
	sites [maxSites]siteCache // per site id

	hits      uint64 // large allocations served from the cache
	misses    uint64 // large allocations that mapped (cache on, nothing fitted)
	evictions uint64 // blocks unmapped because a limit was reached
	decayed   uint64 // blocks unmapped by the scavenger or Release
}

// siteCache is one site's part of the BigCache. Guarded by heap.mu.
type siteCache struct {
	list                             segQueue // the site's cached blocks, newest first (link qPrimary)
	hits, misses, evictions, decayed uint64   // as in bigCache, for this site
}

func init() { heap.big.lru.link = qLRU }

// cacheStyle is a site's BigCache policy (SetBigCachePolicy): how many of its freed large
// blocks the site keeps, and how long before they cool. They are the
// learner's cache arms (learn.CacheDefault ..., in that order); a site no
// one chose for runs cacheDefault.
type cacheStyle uint8

const (
	// cacheDefault: the configured per-site limits (HAKMEM_BIGCACHE_SITE_*)
	// and free-policy times (HAKMEM_WARM_MS, _COLD_MS, _DECAY_MS).
	cacheDefault cacheStyle = learn.CacheDefault
	// cacheLean: a quarter of the per-site limits (at least one block) and
	// every stage four times sooner: blocks rarely reused give their memory
	// back early.
	cacheLean cacheStyle = learn.CacheLean
	// cacheHold: four times the per-site limits (the global limits still
	// apply) and every stage four times later: blocks reused in bursts
	// wider than the default limit, or after pauses longer than its warm
	// stage, are still there, pages included.
	cacheHold      cacheStyle = learn.CacheHold
	numCacheStyles            = learn.NumCacheArms
)

// cacheStyleNames name the policies for stats and policy files.
var cacheStyleNames = [numCacheStyles]string{"default", "lean", "hold"}

// cacheStyleFactor is each style's factor on the limits and the stage
// times: a quarter, one, four. Four is one step of the same size as the
// threshold candidates' two doublings: coarse enough that a window tells
// the policies apart, and a second step (16x) would hold more than most
// sites' working sets.
var cacheStyleFactor = [numCacheStyles]float64{1, 0.25, 4}

// siteCacheStyle is each site's cacheStyle, by site id. Atomic: the learner
// stores it under the site's lock, never with heap.mu (lock order,
// learn.go); the large path and the scavenger read it under heap.mu. A
// policy takes effect at the site's next free (limits) and the
// scavenger's next pass (times).
var siteCacheStyle [maxSites]atomic.Uint32

// setSiteCacheStyle makes site sid run style p (SetBigCachePolicy, the learner).
func setSiteCacheStyle(sid int32, p cacheStyle) {
	if siteCacheStyle[sid].Load() != uint32(p) { // as Site.setThreshold: no store when nothing changes
		siteCacheStyle[sid].Store(uint32(p))
	}
}

// siteLimits are site sid's BigCache limits under its policy: blocks and
// bytes.
func siteLimits(config *snapshot, sid int32) (blocks int, bytes uint64) {
	f := cacheStyleFactor[siteCacheStyle[sid].Load()]
	blocks, bytes = config.siteCacheBlocks, uint64(config.siteCacheBytes)
	if f != 1 && blocks > 0 && bytes > 0 {
		blocks, bytes = max(int(float64(blocks)*f), 1), max(uint64(float64(bytes)*f), uint64(segmentSize))
	}
	return blocks, bytes
}

// stageTimes are the free-policy times of a cached large block of site
// sid under its policy: WARM, COLD and unmapped, ns after the free.
func stageTimes(config *snapshot, sid int32) (warm, cold, decay int64) {
	f := cacheStyleFactor[siteCacheStyle[sid].Load()]
	if f == 1 {
		return config.warmNs, config.coldNs, config.decayNs
	}
	return int64(float64(config.warmNs) * f), int64(float64(config.coldNs) * f), int64(float64(config.decayNs) * f)
}

// bigCacheOn reports whether the BigCache may hold anything.
func (p *snapshot) bigCacheOn() bool { return p.bigCacheBytes > 0 && p.bigCacheBlocks > 0 }

// take removes and returns the best cached block for a request of usable
// bytes (page-rounded) from site sid, or nil. Caller holds heap.mu.
func (b *bigCache) take(sid int32, usable uintptr) *segment {
	if !cfg().bigCacheOn() {
		return nil
	}
	sc := &b.sites[sid]
	var best *segment
	for s := sc.list.head; s != nil; s = s.q[qPrimary].next {
		if s.largeSize >= usable && s.largeSize-usable <= usable/bigCacheSlack &&
			(best == nil || s.largeSize < best.largeSize) {
			if best = s; s.largeSize == usable {
				break
			}
		}
	}
	if best == nil {
		sc.misses++
		b.misses++
		return nil
	}
	b.unlink(best)
	best.cached = false
	sc.hits++
	b.hits++
	return best
}

// put caches the freed large block seg, stamped with time t, and reports
// whether it did; a block bigger than a byte limit is not cached. Blocks
// evicted to make room are unlinked and appended to evicted; the caller
// tombstones and unmaps them (heap.dropLarge). Caller holds heap.mu.
func (b *bigCache) put(seg *segment, t int64, evicted []*segment) ([]*segment, bool) {
	size := uint64(seg.largeSize)
	config := cfg()
	blocks, bytes := siteLimits(config, seg.site)
	if !config.bigCacheOn() || size > bytes || size > uint64(config.bigCacheBytes) || blocks == 0 {
		return evicted, false
	}
	seg.cached, seg.temp, seg.freedAt = true, tempHot, t
	sc := &b.sites[seg.site]
	sc.list.pushFront(seg)
	b.lru.pushFront(seg)
	for sc.list.n > blocks || sc.list.bytes > bytes {
		evicted = append(evicted, b.evict(sc.list.tail))
	}
	for b.lru.n > config.bigCacheBlocks || b.lru.bytes > uint64(config.bigCacheBytes) {
		evicted = append(evicted, b.evict(b.lru.tail))
	}
	return evicted, true
}

// evict unlinks s for eviction and counts it.
func (b *bigCache) evict(s *segment) *segment {
	b.unlink(s)
	b.evictions++
	b.sites[s.site].evictions++
	return s
}

// unlink takes s off both its lists.
func (b *bigCache) unlink(s *segment) {
	b.sites[s.site].list.remove(s)
	b.lru.remove(s)
}
