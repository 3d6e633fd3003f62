package hakmem

import (
	"sync/atomic"

	"github.com/hakmem-go/hakmem/internal/learn"
)

// Site profiles: what the learner knows of a site, from sampled requests
// above minLargeThreshold (the only ones a routing threshold can change).
// One request in learn.Settings.SampleEvery is timed and recorded by
// Site.alloc's learning hook, on the allocating goroutine but never on the
// small-block fast path (requests up to 64 KiB, and plain Alloc, never
// reach it). Fresh large mappings are counted per site on the large path
// (learnMapped), which makes a system call anyway; sampled large blocks are
// marked so that their free gives a lifetime (learnFreedLarge).
//
// The size distribution is a histogram over size classes plus one bucket
// for requests above maxSmall (learn.Hist; the distances between two are
// the learning package's).

// numSizeBuckets: one bucket per size class and one for requests above
// maxSmall.
const numSizeBuckets = numClasses + 1

// sizeBucket is the histogram bucket of a request of size bytes.
func sizeBucket(size int) int {
	if size > maxSmall {
		return numClasses
	}
	return int(sizeClass(uintptr(size)))
}

// hitCounters are a site's sampled pooled hits (learnHit: one hit in
// SampleEvery), counted with atomic adds and no lock, so that sampling a
// hit costs a few uncontended atomics; the window merges them at its
// close, each at fastHitNs.
type hitCounters struct {
	n     atomic.Uint64                 // sampled hits, ever
	n0    atomic.Uint64                 // n at the window start (written under the site's mu, read by learnHit)
	waste atomic.Uint64                 // their rounding waste, bytes, ever
	hist  [numSizeBuckets]atomic.Uint64 // their size buckets, ever
}

// profile is the window in progress and the totals of one site. Guarded by
// its siteLearn's mu, but for hits (atomic).
type profile struct {
	hits      hitCounters // sampled pooled hits, merged at close
	hitWaste0 uint64      // hits.waste at the window start
	hitHist0  learn.Hist  // hits.hist at the window start

	start   int64      // window start, ns on the learner clock
	samples uint64     // sampled requests in the window, a counted pooled hit hitWeight times
	draws   uint64     // samples drawn, a counted hit once: the histogram's evidence (the noise bound)
	cpuNs   int64      // their summed time in the allocator, ns
	waste   uint64     // their summed rounding waste, bytes
	hist    learn.Hist // their size buckets
	pages0  uint64     // learnMaps[sid].pages at the window start
	fresh0  uint64     // learnFresh at the window start
	churn0  uint64     // the site's BigCache churn (siteCacheState) at the window start
	flt0    uint64     // the process's minor faults at the window start (learnEnv.faults)

	// Totals since the site was first sampled.
	traffic     uint64 // sampled requests
	lifetimes   uint64 // sampled large blocks freed
	lifetimeNs  int64  // their summed lifetimes, ns
	maxLifetime int64  // the longest, ns
	windows     uint64 // windows closed
	unrated     uint64 // windows closed with fewer than minWindowOps requests
}

// record adds one sampled request of size bytes served by a block of
// usable bytes in ns nanoseconds.
func (p *profile) record(size int, usable uintptr, ns int64) {
	p.samples++
	p.draws++
	p.traffic++
	p.cpuNs += max(ns, 0)
	if usable > uintptr(size) {
		p.waste += uint64(usable - uintptr(size))
	}
	p.hist[sizeBucket(size)]++
}

// close ends the window at time t and starts the next; sid is the site id,
// cached its BigCache bytes now, faults the learner's fault counter.
//
// Faults: a fresh large mapping faults only where the program touches it,
// so the site's fresh pages are scaled by the share of all sites' fresh
// pages in the window that the process actually faulted in (its minor
// faults over the window, at most 1): a site that maps 225 pages per block
// and touches two is not charged 225 faults. Without a fault counter (the
// portable build), every fresh page counts.
func (p *profile) close(t int64, sid int32, cached, churn uint64, strat, cache int, st *learn.Settings, faults func() (uint64, bool)) learn.Metrics {
	p.mergeHits(st)
	pages, fresh := learnMaps[sid].pages.Load(), learnFresh.Load()
	flt, fok := faults()
	m := learn.Metrics{Strategy: strat, Cache: cache, Churn: churn - min(p.churn0, churn), Samples: p.samples, Draws: p.draws, Ops: p.samples * uint64(max(st.SampleEvery, 1)), Hist: p.hist}
	if p.samples > 0 {
		n := float64(p.samples)
		m.CPUNsPerOp = float64(p.cpuNs) / n
		f := float64(pages - p.pages0)
		if all := fresh - p.fresh0; fok && all > 0 && flt >= p.flt0 {
			f *= min(1, float64(flt-p.flt0)/float64(all))
		}
		m.FaultsPerOp = f / float64(m.Ops)
		m.MemBytes = float64(p.waste)/n + float64(cached)/float64(m.Ops)
	}
	p.windows++
	p.draws = 0
	p.start, p.samples, p.cpuNs, p.waste, p.hist, p.pages0, p.fresh0, p.flt0, p.churn0 = t, 0, 0, 0, learn.Hist{}, pages, fresh, flt, churn
	return m
}

// hitWeight is how many sampled requests one counted pooled hit stands
// for: with a sampling period of 16 or more, the per-P tick counts one hit
// in 4 x SampleEvery, four times. A hit's cost is a constant (fastHitNs),
// so counting fewer loses only resolution in the size histogram, while
// each count costs far more than its few atomic adds suggest (about 100 ns
// measured beside a 45 ns pair: docs/BENCHMARKS.md). Below 16 (tests,
// debugging) every picked hit counts once.
func hitWeight(every uint32) uint64 {
	if every >= 16 {
		return 4
	}
	return 1
}

// mergeHits adds the counted pooled hits since the window start to the
// window, each hitWeight times at fastHitNs with its rounding waste and
// size bucket, and starts counting again. A hit counted while this runs
// may land in the next window.
func (p *profile) mergeHits(st *learn.Settings) {
	wt := hitWeight(st.SampleEvery)
	n, w := p.hits.n.Load(), p.hits.waste.Load()
	dn := n - p.hits.n0.Load()
	p.samples += dn * wt
	p.draws += dn
	p.traffic += dn * wt
	p.cpuNs += int64(dn*wt) * fastHitNs
	p.waste += (w - p.hitWaste0) * wt
	for i := range p.hist {
		h := p.hits.hist[i].Load()
		p.hist[i] += (h - p.hitHist0[i]) * wt
		p.hitHist0[i] = h
	}
	p.hits.n0.Store(n)
	p.hitWaste0 = w
}

// pending is the window's samples, weighted, and draws so far, the
// counted pooled hits not merged yet included. Caller holds the site's mu.
func (p *profile) pending(st *learn.Settings) (samples, draws uint64) {
	dn := p.hits.n.Load() - p.hits.n0.Load()
	return p.samples + dn*hitWeight(st.SampleEvery), p.draws + dn
}

// siteAllocCount is site sid's allocations so far, every size, as the
// per-P site counters count them (pcache.countSite; the default site, id
// 0, is not counted there). Read without a lock, like ReadStats.
func siteAllocCount(sid int32) uint64 {
	var n uint64
	for _, pc := range *caches.Load() {
		n += pc.sites[sid].allocs.load()
	}
	return n
}

// learnMaps counts fresh large mappings per site id (learnMapped, on the
// large path, next to the mmap it counts). Atomic: read by the learner.
var learnMaps [maxSites]struct {
	calls atomic.Uint64 // mmap calls for large blocks of the site
	pages atomic.Uint64 // OS pages they mapped
}

// learnFresh is the OS pages of every fresh large mapping, all sites.
var learnFresh atomic.Uint64

// learnMapped counts a fresh mapping of usable bytes for site sid. Hook in
// allocLarge.
func learnMapped(sid int32, usable uintptr) {
	n := uint64(usable / osPageSize)
	learnMaps[sid].calls.Add(1)
	learnMaps[sid].pages.Add(n)
	learnFresh.Add(n)
}

// A sampled large block carries its sampling time in its segment
// (segment.learnAt), so that its free finds its lifetime with one atomic
// swap and no lock or map, whichever block is freed; learnLiveBytes keeps
// each site's sampled live bytes for the live-bytes estimate.
var learnLiveBytes [maxSites]atomic.Int64

// rememberLarge marks the sampled large block seg of site sid, allocated
// at t (learner clock), for its lifetime.
func rememberLarge(seg *segment, sid int32, t int64) {
	if seg.learnAt.Swap(t+1) == 0 { // +1: 0 means "not sampled", and 0 is a time (tests' clocks)
		learnLiveBytes[sid].Add(int64(seg.largeSize))
	}
}

// learnFreedLarge is the hook in freeLarge: at is the block's mark, which
// freeLarge swapped out of its header under heap.mu (the header may be
// released once the lock is dropped), sid and size its site and bytes. If
// the block was sampled (at != 0), its lifetime goes to its site's profile.
func learnFreedLarge(at int64, sid int32, size uintptr) {
	if at == 0 {
		return
	}
	learnLiveBytes[sid].Add(-int64(size))
	if sl := learner.sites[sid].Load(); sl != nil {
		d := learner.env.Load().clock() - (at - 1)
		sl.mu.Lock()
		sl.prof.lifetimes++
		sl.prof.lifetimeNs += d
		sl.prof.maxLifetime = max(sl.prof.maxLifetime, d)
		sl.mu.Unlock()
	}
}

// learnResizedLarge keeps a sampled block's live bytes right when Realloc
// resizes it to nu bytes (its mark, and so its lifetime, go on).
func learnResizedLarge(seg *segment, nu uintptr) {
	if seg.learnAt.Load() != 0 {
		learnLiveBytes[seg.site].Add(int64(nu) - int64(seg.largeSize))
	}
}

// sampledLiveBytes estimates the live bytes of site sid's large blocks from
// the sampled ones: their bytes times SampleEvery.
func sampledLiveBytes(sid int32, every uint32) uint64 {
	return uint64(max(learnLiveBytes[sid].Load(), 0)) * uint64(every)
}

// siteCachedBytes is what site sid holds in the BigCache, bytes.
func siteCachedBytes(sid int32) uint64 {
	b, _ := siteCacheState(sid)
	return b
}

// siteCacheState is what site sid holds in the BigCache, bytes, and its
// BigCache churn so far: blocks evicted by a limit or unmapped by decay,
// each a block the cache policy could have kept or need not have held.
func siteCacheState(sid int32) (bytes, churn uint64) {
	heap.mu.Lock()
	defer heap.mu.Unlock()
	sc := &heap.big.sites[sid]
	return sc.list.bytes, sc.evictions + sc.decayed
}
