package hakmem

import (
	"strconv"
	"strings"
)

// Stats is a snapshot of the allocator, returned by ReadStats. It is the one
// declaration of every counter hakmem keeps.
//
// Memory identity, exact when no goroutine allocates or frees during the
// read (ReadStats takes each lock in turn, so under traffic the parts may be
// from slightly different instants):
//
//	MappedBytes == InUseBytes + CachedBytes + FreeBytes
type Stats struct {
	// MappedBytes: everything hakmem has mapped from the OS right now:
	// segments (live and cached) plus large blocks.
	MappedBytes uint64
	// InUseBytes: blocks held by the program, counted at their usable
	// (class-rounded or page-rounded) size.
	InUseBytes uint64
	// CachedBytes: free blocks ready for reuse: in the per-P caches, the
	// central transfer caches and the slabs' free lists, and the large
	// blocks in the BigCache (BigCacheBytes).
	CachedBytes uint64
	// FreeBytes: mapped bytes that hold no block: slab pages not assigned to
	// a slab, empty segments kept for reuse or retired (waiting to be
	// unmapped), and the unusable tail of slabs.
	FreeBytes uint64
	// MetadataBytes: mapped for hakmem's own metadata, off the Go heap
	// (segment, slab and large-block headers, registry leaves); not part
	// of MappedBytes, and never returned to the OS (headers are reused).
	MetadataBytes uint64

	// DroppedBytes estimates the mapped bytes the OS holds no pages for:
	// COLD cached segments and large blocks (MADV_DONTNEED), and free slab
	// pages the scavenger purged and no slab has taken since. WARM memory
	// (MADV_FREE) is not counted: the kernel takes it only under pressure.
	// CommittedBytes = MappedBytes - DroppedBytes is the resident estimate
	// (an upper bound: pages never touched since mmap are not resident
	// either).
	DroppedBytes   uint64
	CommittedBytes uint64

	Segments        int // segments mapped (2 MiB each), cached and retired ones included
	SegmentsCached  int // empty segments kept mapped for reuse
	SegmentsRetired int // empty segments waiting for a pin barrier before their pages are dropped
	// SpareBytes: address space of reaped segments, kept mapped with no
	// pages behind it for the next segment to reuse (not in MappedBytes).
	SpareBytes  uint64
	Slabs       int    // slabs carved in live segments
	LargeBlocks int    // large blocks (each its own mapping) held by the program
	LargeBytes  uint64 // their mapped bytes

	// The segment cache (an LRU): segments unmapped because it was full,
	// and because they outlived HAKMEM_DECAY_MS (or Release).
	SegmentsEvicted uint64
	SegmentsDecayed uint64

	// The BigCache, all sites (counted in CachedBytes).
	BigCacheStats

	// MemoryLimit is the limit in bytes (0: none); LimitFailures counts
	// allocations it refused (ErrMemoryLimit).
	MemoryLimit   int64
	LimitFailures uint64

	// The budget shared with the Go runtime (ShareMemoryLimit,
	// HAKMEM_MEMORY_LIMIT=auto): SharedBudget is its total in bytes (0:
	// none), GoMemoryLimit the Go memory limit it last set (0: none set
	// yet), GoLimitUpdates how many times it set one.
	SharedBudget   int64
	GoMemoryLimit  int64
	GoLimitUpdates uint64

	// ScavengerPasses counts passes of the free policy (scavenger.go), the
	// background goroutine's and Release's.
	ScavengerPasses uint64
	// PagesPurged counts free slab pages (16 KiB) of live segments the
	// scavenger or Release dropped with MADV_DONTNEED.
	PagesPurged uint64

	Allocs uint64 // allocations of non-zero size since start (all tiers)
	Frees  uint64 // successful frees since start (all tiers)

	// The free pipeline: every small free is pushed onto the freeing P's
	// cache; FreeCrossP counts those whose slab was last refilled by a
	// different P (blocks travelling between goroutines). When a cache is
	// over its cap, a batch is flushed to the central list: FreeFlushed
	// counts those blocks, FreeToSlab the ones that went further back onto
	// their slab's free list (the transfer cache was full).
	FreeSameP   uint64
	FreeCrossP  uint64
	FreeFlushed uint64
	FreeToSlab  uint64

	// Refill stages: where a per-P cache miss was satisfied, in blocks.
	RefillTransfer   uint64 // a whole batch from the central transfer cache
	RefillSlabList   uint64 // blocks taken from partially used slabs
	RefillFreshSlab  uint64 // blocks carved from a new slab
	RefillNewSegment uint64 // refills that had to map a new segment

	// Errors reported to the program (misuse and failures), all kinds.
	Errors uint64
	// Corrupted counts free blocks dropped because something wrote over
	// their free marker after they were freed (ErrCorrupted), or because
	// one came back to its slab twice. Dropped blocks are never reused.
	Corrupted uint64
	// CheckFailures counts the failures checked mode found (check.go):
	// every report made to the OnCheckFailure handler.
	CheckFailures uint64
	// ProfileBytes: mapped for the heap profile (sample segments and the
	// sample table; heapprof.go); the sample segments are also in
	// MappedBytes, their sampled blocks in InUseBytes and in their
	// classes' counts, the rest of their pages in FreeBytes.
	// ProfileSamples: live samples.
	ProfileBytes   uint64
	ProfileSamples int
	// LiveBlocks and LiveBytes: the blocks the program holds now and
	// their bytes, exact when no goroutine allocates or frees during the
	// read (package hakmemtest compares them). Usable sizes, except in
	// checked mode (leaks.go), where they are the lengths asked for and
	// blocks in the quarantine are not live.
	LiveBlocks, LiveBytes int64

	// Syscalls made. The madvise calls: MADV_FREE (WARM), MADV_DONTNEED
	// (COLD, purged slab pages, Release) and MADV_HUGEPAGE (HAKMEM_THP).
	Mmaps           uint64
	Munmaps         uint64
	MadviseFree     uint64
	MadviseDontneed uint64
	MadviseHugepage uint64
	Mremaps         uint64 // large blocks resized in place or moved by Realloc

	// Heaps is the number of live Heaps (NewHeap, not yet closed or
	// detached); HeapBytes the bytes of the slabs they own (in use and
	// free, part of InUseBytes and CachedBytes); HeapRemoteFrees the
	// blocks of heaps freed by other goroutines and swept back by their
	// heap (a remote free counts as in use, and is not in Frees, until
	// its heap sweeps it: its next refill of the class, Close or Detach).
	// HeapOrphanBytes is the bytes of the slabs of ended heaps that no
	// heap has adopted yet (part of InUseBytes and CachedBytes; they join
	// the central lists when no heap adopts them within HAKMEM_DECAY_MS).
	// Blocks freed into them count as free once ReadStats has run.
	Heaps           int
	HeapBytes       uint64
	HeapRemoteFrees uint64
	HeapOrphanBytes uint64
	// Arenas is the number of Arenas made and not closed; ArenaBytes the
	// usable bytes of their chunks (hakmem blocks, part of InUseBytes).
	Arenas     int
	ArenaBytes uint64

	// Classes has one entry per size class, smallest first.
	Classes []ClassStats
	// Sites has one entry per site, the default site first.
	Sites []SiteStats

	// Mode is the mode in effect (HAKMEM_MODE, Configure, SetMode).
	Mode string

	// SlowAllocSizes is the debug size histogram: slow-path allocations
	// (refills, large blocks, errors) with bits.Len(size) == i at index i,
	// counted only while HAKMEM_DEBUG is verbose (Research mode); nil when
	// none were.
	SlowAllocSizes []uint64
	// SlowAllocTimed slow-path allocations (one in 16 of each size, in the
	// same mode) took SlowAllocNs nanoseconds together.
	SlowAllocTimed uint64
	SlowAllocNs    uint64

	// PinVariant says how goroutines own a per-P cache: "procpin" (the
	// runtime's procPin) or "mutex" (the portable build, and -race builds).
	PinVariant string

	// The per-P cache capacity learner (learn_cap.go). PerPCachedBytes: free
	// blocks in the per-P lists now (part of CachedBytes). CapExtraBytes:
	// what the learned caps may hold beyond the generated ones, every P's
	// list full; CapBudgetBytes: its bound (HAKMEM_CAP_BUDGET_MB or 1/8 of
	// MappedBytes). CapRaises, CapLowers: caps doubled and halved.
	PerPCachedBytes uint64
	CapExtraBytes   uint64
	CapBudgetBytes  uint64
	CapRaises       uint64
	CapLowers       uint64
}

// ClassStats describes one size class.
type ClassStats struct {
	Size   int    // block size in bytes
	Tier   string // "tiny", "mid" or "l2.5"
	Allocs uint64 // allocations served from this class
	Frees  uint64 // frees into this class
	InUse  uint64 // blocks held by the program
	Cached uint64 // free blocks in caches and slab free lists
	Slabs  int    // slabs of this class

	// The per-P cache (learn_cap.go): Cap is the per-P cap in blocks now (a
	// P applies it at its next slow path), DefaultCap the generated one
	// (scaled by HAKMEM_PCACHE_SCALE). Refills: allocations that found
	// their P's list empty; Flushes: frees that found it full. HitRate:
	// the share of Allocs+Frees that did neither (0 without traffic).
	Cap        int
	DefaultCap int
	Refills    uint64
	Flushes    uint64
	HitRate    float64
}

// SiteStats is the traffic of one allocation site. The large-path fields
// are zero for sites beyond the first 256, which share the default site's.
type SiteStats struct {
	Name   string
	Allocs uint64 // allocations made through the site
	Bytes  uint64 // bytes asked for through the site (not tracked for the default site: 0)

	LargeThreshold int // routing threshold, bytes: larger requests take the large path

	// The site's part of the BigCache: blocks and bytes it holds, and the
	// site's hits, misses, evictions and decayed blocks.
	BigCacheStats
}

// BigCacheStats are the BigCache's counters, of all sites (Stats) or of
// one site (SiteStats), embedded in both: freed large blocks kept mapped,
// large allocations it served (hits) and did not (misses: a new mapping;
// not counted while the cache is off), blocks unmapped to stay within its
// limits (evictions) and by age or Release (decayed).
type BigCacheStats struct {
	BigCacheBlocks    int
	BigCacheBytes     uint64
	BigCacheHits      uint64
	BigCacheMisses    uint64
	BigCacheEvictions uint64
	BigCacheDecayed   uint64
}

// ReadStats returns a snapshot of the allocator's counters. It takes each
// central and heap lock briefly, never a per-P cache: per-P counters are
// read as they stand (see counter.go).
func ReadStats() Stats {
	ensureInit()
	var st Stats
	st.PinVariant = pinVariant
	st.Classes = make([]ClassStats, numClasses)
	var pcached [numClasses]int64 // blocks in per-P lists, by class
	var siteAllocs, siteBytes [maxSites]uint64
	for _, pc := range *caches.Load() {
		for c := range pc.lists {
			l := &pc.lists[c]
			a, f := l.allocs.load(), l.frees.load()
			in, out := pc.moved[c].in.load(), pc.moved[c].out.load()
			st.Classes[c].Allocs += a
			st.Classes[c].Frees += f
			pcached[c] += int64(in+f) - int64(a+out)
		}
		st.FreeCrossP += pc.crossP.load()
		for i := range pc.sites {
			siteAllocs[i] += pc.sites[i].allocs.load()
			siteBytes[i] += pc.sites[i].bytes.load()
		}
	}
	var hcached [numClasses]int64 // blocks free in live Heaps, by class
	readHeapStats(&st, &hcached)
	st.Arenas, st.ArenaBytes = int(arenaStats.live.Load()), uint64(max(arenaStats.bytes.Load(), 0))
	for c := range centrals {
		ct := &centrals[c]
		ci := &classes[c]
		cs := &st.Classes[c]
		ct.mu.Lock()
		cs.Size = int(ci.size)
		cs.Tier = ci.tier.String()
		cs.Slabs = ct.slabs
		blocks := int64(ct.slabs) * int64(ci.nblocks)
		ct.sweepOrphans()
		cached := int64(ct.slabFree) + int64(ct.xferBlock) + int64(ct.orphanFree) + pcached[c] + hcached[c]
		cs.Frees += ct.orphanSwept
		st.HeapRemoteFrees += ct.orphanSwept
		st.HeapOrphanBytes += uint64(ct.norphans.Load()) * uint64(ci.pages) * pageSize
		st.FreeFlushed += ct.flushed
		st.FreeToSlab += ct.toSlab
		st.RefillTransfer += ct.refillTransfer
		st.RefillSlabList += ct.refillSlab
		st.RefillFreshSlab += ct.refillFresh
		st.RefillNewSegment += ct.refillNewSeg
		slabs := ct.slabs
		ct.mu.Unlock()
		// Under traffic the parts come from different instants; clamp.
		cached = min(max(cached, 0), blocks)
		cs.Cached = uint64(cached)
		cs.InUse = uint64(blocks - cached)
		st.InUseBytes += cs.InUse * uint64(ci.size)
		st.CachedBytes += cs.Cached * uint64(ci.size)
		st.FreeBytes += uint64(slabs) * uint64(int(ci.pages)*pageSize-int(ci.nblocks)*int(ci.size))
		st.Allocs += cs.Allocs
		st.Frees += cs.Frees
	}
	st.FreeSameP = st.Frees - min(st.FreeCrossP, st.Frees)

	var siteBig [maxSites]siteCache
	heap.mu.Lock()
	st.Segments = heap.nsegments
	st.SegmentsCached = heap.cache.n
	st.SegmentsRetired = heap.retired.n + len(heap.reaping)
	st.SpareBytes = uint64(heap.nspare) * segmentSize
	st.SegmentsEvicted = heap.segEvicted
	st.SegmentsDecayed = heap.segDecayed
	st.Slabs = heap.nslabs
	st.LargeBlocks = heap.large
	st.LargeBytes = heap.largeSize
	st.BigCacheStats = BigCacheStats{BigCacheBlocks: heap.big.lru.n, BigCacheBytes: heap.big.lru.bytes, BigCacheHits: heap.big.hits,
		BigCacheMisses: heap.big.misses, BigCacheEvictions: heap.big.evictions, BigCacheDecayed: heap.big.decayed}
	st.MappedBytes = uint64(heap.nsegments)*segmentSize + heap.largeSize + heap.big.lru.bytes
	st.FreeBytes += heap.freePages * pageSize
	st.PagesPurged = heap.pagesPurged
	st.DroppedBytes = heap.droppedBytes()
	siteBig = heap.big.sites
	heap.mu.Unlock()
	st.CommittedBytes = st.MappedBytes - min(st.DroppedBytes, st.MappedBytes)
	st.MetadataBytes = metaMapped.Load()
	st.Mode = cfg().mode.String()
	st.SlowAllocTimed, st.SlowAllocNs = slowTimed.Load(), slowNs.Load()
	for i := range slowSizes {
		if n := slowSizes[i].Load(); n != 0 {
			if st.SlowAllocSizes == nil {
				st.SlowAllocSizes = make([]uint64, len(slowSizes))
			}
			st.SlowAllocSizes[i] = n
		}
	}
	st.InUseBytes += st.LargeBytes
	st.CachedBytes += st.BigCacheBytes
	st.MemoryLimit = memLimit.Load()
	st.LimitFailures = limitFailures.Load()
	st.SharedBudget, st.GoMemoryLimit, st.GoLimitUpdates = shareStats()
	st.ScavengerPasses = scav.passes.Load()
	st.MadviseFree = sysMadvFree.Load()
	st.MadviseDontneed = sysMadvDontneed.Load()
	st.MadviseHugepage = sysMadvHuge.Load()
	st.Mremaps = sysMremaps.Load()
	st.Allocs += largeAllocs.Load()
	st.Frees += largeFrees.Load()
	st.Errors = errorCount.Load()
	st.Corrupted = corrupted.Load()
	st.CheckFailures = chk.failures.Load()
	st.ProfileBytes, st.ProfileSamples = prof.mapped.Load(), int(prof.live.Load())
	profileStats(&st) // sampled blocks count as blocks of their class (heapprof.go)
	liveCounts(&st)   // after InUseBytes, Classes and LargeBlocks (leaks.go)
	st.Mmaps = sysMmaps.Load()
	st.Munmaps = sysMunmaps.Load()
	readCapStats(&st, &pcached)

	sites.mu.Lock()
	list := sites.list
	sites.mu.Unlock()
	var named uint64
	st.Sites = make([]SiteStats, len(list))
	for i, s := range list {
		ss := &st.Sites[i]
		ss.Name = s.name
		ss.LargeThreshold = int(siteThreshold(s.sid()))
		if s.id < maxSites {
			ss.Allocs, ss.Bytes = siteAllocs[s.id], siteBytes[s.id]
			sc := &siteBig[s.id]
			ss.BigCacheStats = BigCacheStats{BigCacheBlocks: sc.list.n, BigCacheBytes: sc.list.bytes, BigCacheHits: sc.hits,
				BigCacheMisses: sc.misses, BigCacheEvictions: sc.evictions, BigCacheDecayed: sc.decayed}
		} else {
			ss.Allocs, ss.Bytes = s.allocs.Load(), s.bytes.Load()
		}
		if i > 0 {
			named += ss.Allocs
		}
	}
	st.Sites[0].Allocs = st.Allocs - min(named, st.Allocs)
	st.Sites[0].Bytes = 0
	return st
}

// droppedBytes is Stats.DroppedBytes: COLD cached segments and blocks,
// and purged free pages not taken since. Walks every segment: ReadStats
// only. Caller holds heap.mu.
func (h *pageHeap) droppedBytes() uint64 {
	var n uint64
	for s := h.big.lru.head; s != nil; s = s.q[qLRU].next {
		if s.temp == tempCold {
			n += uint64(s.largeSize)
		}
	}
	for s := h.cache.head; s != nil; s = s.q[qPrimary].next {
		n += uint64(s.purged.count()) * pageSize // all of it when COLD (cool)
	}
	for _, s := range h.buckets {
		for ; s != nil; s = s.next {
			n += uint64(s.purged.count()) * pageSize
		}
	}
	return n
}

// String is a one-line summary, for logs.
func (s Stats) String() string {
	var b strings.Builder
	b.WriteString("hakmem: mapped ")
	b.WriteString(fmtBytes(s.MappedBytes))
	b.WriteString(", in use ")
	b.WriteString(fmtBytes(s.InUseBytes))
	b.WriteString(", cached ")
	b.WriteString(fmtBytes(s.CachedBytes))
	b.WriteString(", free ")
	b.WriteString(fmtBytes(s.FreeBytes))
	return b.String()
}

func fmtBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}
