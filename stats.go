package hakmem

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
	// CachedBytes: free blocks ready for reuse in their size class: in the
	// per-P caches, the central transfer caches and the slabs' free lists.
	CachedBytes uint64
	// FreeBytes: mapped bytes that hold no block: slab pages not assigned to
	// a slab, empty segments kept for reuse, and the unusable tail of slabs.
	FreeBytes uint64

	Segments       int // segments mapped (2 MiB each), cached ones included
	SegmentsCached int // empty segments kept mapped for reuse
	Slabs          int // slabs carved in live segments
	LargeBlocks    int // blocks above the large threshold, each its own mapping
	LargeBytes     uint64

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

	// Syscalls made.
	Mmaps   uint64
	Munmaps uint64

	// Classes has one entry per size class, smallest first.
	Classes []ClassStats
	// Sites has one entry per Site that saw traffic, the default site first.
	Sites []SiteStats
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
}

// SiteStats is the traffic of one allocation site.
type SiteStats struct {
	Name   string
	Allocs uint64 // allocations made through the site
	Bytes  uint64 // bytes asked for through the site
}
