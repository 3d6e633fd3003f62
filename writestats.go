package hakmem

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteStats: the readable report of ReadStats, for people (a debug
// endpoint, a log at exit). Sections, each a header line at the left
// margin and indented lines: memory, tiers, top sites, caches, per-P cache
// caps (the classes the capacity learner changed), scavenger,
// system calls, the learning leaderboard (kept for the learning layer)
// and, in Research mode, the slow-path size histogram.

// topSites is how many sites the report lists, busiest first.
const topSites = 10

// WriteStats writes a readable report of ReadStats to w and returns the
// first write error.
func WriteStats(w io.Writer) error {
	st := ReadStats()
	ew := &errWriter{w: w}
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', tabwriter.AlignRight)
	p := func(format string, args ...any) { fmt.Fprintf(ew, format, args...) }
	t := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }

	p("hakmem statistics\n")
	p("  mode %s, pin %s, learning %s\n", st.Mode, st.PinVariant, options[optionIndex("learning")].format(cfg().learning))

	p("Memory\n")
	limit := "none"
	if st.MemoryLimit > 0 {
		limit = fmtBytes(uint64(st.MemoryLimit))
	}
	p("  mapped %s = in use %s + cached %s + free %s\n", fmtBytes(st.MappedBytes), fmtBytes(st.InUseBytes), fmtBytes(st.CachedBytes), fmtBytes(st.FreeBytes))
	p("  committed %s (estimate), dropped %s; limit %s, %d allocations refused\n", fmtBytes(st.CommittedBytes), fmtBytes(st.DroppedBytes), limit, st.LimitFailures)
	if st.SharedBudget > 0 {
		p("  shared budget %s with the Go runtime: Go memory limit %s (%d updates)\n", fmtBytes(uint64(st.SharedBudget)), fmtBytes(uint64(max(st.GoMemoryLimit, 0))), st.GoLimitUpdates)
	}
	p("  metadata %s (off the Go heap, not in mapped)\n", fmtBytes(st.MetadataBytes))
	p("  segments %d (%d cached, %d evicted, %d decayed), slabs %d, large blocks %d (%s)\n",
		st.Segments, st.SegmentsCached, st.SegmentsEvicted, st.SegmentsDecayed, st.Slabs, st.LargeBlocks, fmtBytes(st.LargeBytes))
	p("  allocations %d, frees %d, errors %d\n", st.Allocs, st.Frees, st.Errors)
	if st.Heaps > 0 || st.HeapOrphanBytes > 0 || st.HeapRemoteFrees > 0 || st.Arenas > 0 {
		p("  heaps %d owning %s, %s left by detached heaps, %d remote frees; arenas %d holding %s\n",
			st.Heaps, fmtBytes(st.HeapBytes), fmtBytes(st.HeapOrphanBytes), st.HeapRemoteFrees, st.Arenas, fmtBytes(st.ArenaBytes))
	}

	p("Tiers\n")
	type tier struct {
		classes, slabs              int
		allocs, frees, inUse, cache uint64
	}
	tiers := map[string]*tier{}
	var order []string
	var small uint64
	for _, c := range st.Classes {
		tr := tiers[c.Tier]
		if tr == nil {
			tr = &tier{}
			tiers[c.Tier] = tr
			order = append(order, c.Tier)
		}
		if c.Allocs > 0 || c.Slabs > 0 {
			tr.classes++
		}
		tr.slabs += c.Slabs
		tr.allocs += c.Allocs
		tr.frees += c.Frees
		tr.inUse += uint64(c.Size) * c.InUse
		tr.cache += uint64(c.Size) * c.Cached
		small += c.Allocs
	}
	t("  tier\tclasses used\tslabs\tallocs\tfrees\tin use\tcached\t\n")
	for _, name := range order {
		tr := tiers[name]
		t("  %s\t%d\t%d\t%d\t%d\t%s\t%s\t\n", name, tr.classes, tr.slabs, tr.allocs, tr.frees, fmtBytes(tr.inUse), fmtBytes(tr.cache))
	}
	t("  large\t\t\t%d\t\t%s\t%s\t\n", st.Allocs-min(small, st.Allocs), fmtBytes(st.LargeBytes), fmtBytes(st.BigCacheBytes))
	tw.Flush()

	p("Top sites (by allocations)\n")
	sites := append([]SiteStats(nil), st.Sites...)
	sort.SliceStable(sites, func(i, j int) bool { return sites[i].Allocs > sites[j].Allocs })
	t("  site\tallocs\tbytes\tthreshold\tBigCache hits\tmisses\tevictions\tdecayed\tcached\t\n")
	for i, s := range sites {
		if i == topSites {
			t("  (%d more)\t\t\t\t\t\t\t\t\t\n", len(sites)-topSites)
			break
		}
		t("  %s\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t\n", s.Name, s.Allocs, fmtBytes(s.Bytes), fmtBytes(uint64(s.LargeThreshold)),
			s.BigCacheHits, s.BigCacheMisses, s.BigCacheEvictions, s.BigCacheDecayed, fmtBytes(s.BigCacheBytes))
	}
	tw.Flush()
	p("Sites worth naming (plain Alloc callers, sampled on the slow path)\n")
	cs := topCallsites(topSites)
	for _, c := range cs {
		p("  %6d  %s:%d  %s\n", c.Samples, c.File, c.Line, c.Function)
	}
	if len(cs) == 0 {
		p("  (none sampled yet)\n")
	}

	p("Caches\n")
	p("  refills (blocks): transfer %d, slab lists %d, fresh slabs %d; refills mapping a segment %d\n",
		st.RefillTransfer, st.RefillSlabList, st.RefillFreshSlab, st.RefillNewSegment)
	p("  frees: same P %d, cross P %d; flushed to central %d, of which to slabs %d\n",
		st.FreeSameP, st.FreeCrossP, st.FreeFlushed, st.FreeToSlab)
	hitRate := "-"
	if n := st.BigCacheHits + st.BigCacheMisses; n > 0 {
		hitRate = fmt.Sprintf("%.1f%%", 100*float64(st.BigCacheHits)/float64(n))
	}
	p("  BigCache: %d blocks (%s); hits %d, misses %d (hit rate %s), evictions %d, decayed %d\n",
		st.BigCacheBlocks, fmtBytes(st.BigCacheBytes), st.BigCacheHits, st.BigCacheMisses, hitRate, st.BigCacheEvictions, st.BigCacheDecayed)

	// The capacity learner (learn_cap.go): the classes whose per-P cap is
	// not the generated one.
	p("Per-P cache caps (capacity learner)\n")
	p("  per-P cached %s; learned caps may hold %s more (budget %s); raises %d, lowers %d\n",
		fmtBytes(st.PerPCachedBytes), fmtBytes(st.CapExtraBytes), fmtBytes(st.CapBudgetBytes), st.CapRaises, st.CapLowers)
	changed := 0
	for _, c := range st.Classes {
		if c.Cap != c.DefaultCap {
			t("  %s\tcap %d\t(generated %d)\thit rate %.1f%%\trefills %d\tflushes %d\t\n",
				fmtBytes(uint64(c.Size)), c.Cap, c.DefaultCap, 100*c.HitRate, c.Refills, c.Flushes)
			changed++
		}
	}
	tw.Flush()
	if changed == 0 {
		p("  (every class at its generated cap)\n")
	}

	p("Scavenger\n")
	p("  passes %d; segments decayed %d, large blocks decayed %d, free pages purged %d (%s)\n",
		st.ScavengerPasses, st.SegmentsDecayed, st.BigCacheDecayed, st.PagesPurged, fmtBytes(st.PagesPurged*pageSize))

	p("System calls\n")
	p("  mmap %d, munmap %d, mremap %d, madvise: free %d, dontneed %d, hugepage %d\n",
		st.Mmaps, st.Munmaps, st.Mremaps, st.MadviseFree, st.MadviseDontneed, st.MadviseHugepage)

	// The learning layer's leaderboard: per site, rank, threshold, rating,
	// wins / losses / draws, samples, state.
	p("Learning leaderboard\n")
	if err := writeLeaderboard(ew); err != nil {
		return err
	}

	if st.SlowAllocSizes != nil {
		p("Slow-path allocations by size (debug)\n")
		var parts []string
		for i, n := range st.SlowAllocSizes {
			if n != 0 {
				lo := uint64(1) << max(i-1, 0)
				parts = append(parts, fmt.Sprintf("%s..: %d", fmtBytes(lo), n))
			}
		}
		p("  %s\n", strings.Join(parts, ", "))
		if st.SlowAllocTimed > 0 {
			p("  sampled slow-path time: %d allocations, mean %d ns\n", st.SlowAllocTimed, st.SlowAllocNs/st.SlowAllocTimed)
		}
	}
	return ew.err
}

// errWriter keeps the first write error and drops later writes.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return len(b), nil
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}
