// Package metrics exports hakmem's statistics under runtime/metrics-style
// names ("/hakmem/memory/mapped:bytes"): Read returns them, and importing
// the package publishes them as the expvar variable "hakmem" (served by
// expvar's /debug/vars handler). The core package hakmem imports neither
// expvar nor net/http; this one does, so only programs that want the
// export pay for it. metrics/prometheus turns the same samples into a
// Prometheus collector.
//
// Every sample is read from one hakmem.ReadStats call: the totals, and the
// per-site and per-class values labelled with the site's name or the
// class's block size.
package metrics

import (
	"expvar"
	"strconv"

	"github.com/hakmem-go/hakmem"
)

// Kinds of metric.
const (
	Gauge   = "gauge"   // a value that goes up and down (bytes, blocks held)
	Counter = "counter" // a cumulative count since the start of the process
)

// Description describes one metric.
type Description struct {
	Name  string // "/hakmem/memory/mapped:bytes": path, then the unit after the colon
	Kind  string // Gauge or Counter
	Label string // "" for a total; "site" or "class" for one sample per site or size class
	Help  string
}

// Sample is one value of a metric.
type Sample struct {
	Name       string  // a Description's Name
	LabelValue string  // the site name or class size when the metric has a label
	Value      float64 // in the unit the name ends with
}

// metric is a Description and how to read it from the stats.
type metric struct {
	Description
	get  func(st *hakmem.Stats) uint64                     // totals
	each func(st *hakmem.Stats, emit func(string, uint64)) // labelled
}

// u converts a count (never negative) for the table.
func u(n int) uint64 { return uint64(n) }

var table = []metric{
	{Description{"/hakmem/memory/mapped:bytes", Gauge, "", "Bytes hakmem has mapped from the OS: segments, live and cached large blocks."}, func(s *hakmem.Stats) uint64 { return s.MappedBytes }, nil},
	{Description{"/hakmem/memory/in-use:bytes", Gauge, "", "Bytes in blocks held by the program (usable size)."}, func(s *hakmem.Stats) uint64 { return s.InUseBytes }, nil},
	{Description{"/hakmem/memory/cached:bytes", Gauge, "", "Bytes in free blocks kept for reuse (per-P, central, slab lists, BigCache)."}, func(s *hakmem.Stats) uint64 { return s.CachedBytes }, nil},
	{Description{"/hakmem/memory/free:bytes", Gauge, "", "Mapped bytes that hold no block."}, func(s *hakmem.Stats) uint64 { return s.FreeBytes }, nil},
	{Description{"/hakmem/memory/committed:bytes", Gauge, "", "Resident estimate: mapped bytes minus dropped ones."}, func(s *hakmem.Stats) uint64 { return s.CommittedBytes }, nil},
	{Description{"/hakmem/memory/dropped:bytes", Gauge, "", "Mapped bytes whose pages were dropped (MADV_DONTNEED) and not touched since."}, func(s *hakmem.Stats) uint64 { return s.DroppedBytes }, nil},
	{Description{"/hakmem/memory/limit:bytes", Gauge, "", "The memory limit; 0 when none."}, func(s *hakmem.Stats) uint64 { return uint64(max(s.MemoryLimit, 0)) }, nil},
	{Description{"/hakmem/memory/limit-failures:calls", Counter, "", "Allocations refused by the memory limit."}, func(s *hakmem.Stats) uint64 { return s.LimitFailures }, nil},
	{Description{"/hakmem/segments/mapped:segments", Gauge, "", "2 MiB segments mapped, cached ones included."}, func(s *hakmem.Stats) uint64 { return u(s.Segments) }, nil},
	{Description{"/hakmem/segments/cached:segments", Gauge, "", "Empty segments kept mapped for reuse."}, func(s *hakmem.Stats) uint64 { return u(s.SegmentsCached) }, nil},
	{Description{"/hakmem/segments/evicted:segments", Counter, "", "Cached segments unmapped because the cache was full."}, func(s *hakmem.Stats) uint64 { return s.SegmentsEvicted }, nil},
	{Description{"/hakmem/segments/decayed:segments", Counter, "", "Cached segments unmapped by age or Release."}, func(s *hakmem.Stats) uint64 { return s.SegmentsDecayed }, nil},
	{Description{"/hakmem/slabs:slabs", Gauge, "", "Slabs carved in live segments."}, func(s *hakmem.Stats) uint64 { return u(s.Slabs) }, nil},
	{Description{"/hakmem/large/held:blocks", Gauge, "", "Large blocks held by the program."}, func(s *hakmem.Stats) uint64 { return u(s.LargeBlocks) }, nil},
	{Description{"/hakmem/large/held:bytes", Gauge, "", "Mapped bytes of the large blocks held by the program."}, func(s *hakmem.Stats) uint64 { return s.LargeBytes }, nil},
	{Description{"/hakmem/bigcache/cached:blocks", Gauge, "", "Freed large blocks in the BigCache."}, func(s *hakmem.Stats) uint64 { return u(s.BigCacheBlocks) }, nil},
	{Description{"/hakmem/bigcache/cached:bytes", Gauge, "", "Bytes of the freed large blocks in the BigCache."}, func(s *hakmem.Stats) uint64 { return s.BigCacheBytes }, nil},
	{Description{"/hakmem/bigcache/hits:allocs", Counter, "", "Large allocations served by the BigCache."}, func(s *hakmem.Stats) uint64 { return s.BigCacheHits }, nil},
	{Description{"/hakmem/bigcache/misses:allocs", Counter, "", "Large allocations that mapped (BigCache on, nothing fitted)."}, func(s *hakmem.Stats) uint64 { return s.BigCacheMisses }, nil},
	{Description{"/hakmem/bigcache/evictions:blocks", Counter, "", "Cached large blocks unmapped to stay within the limits."}, func(s *hakmem.Stats) uint64 { return s.BigCacheEvictions }, nil},
	{Description{"/hakmem/bigcache/decayed:blocks", Counter, "", "Cached large blocks unmapped by age or Release."}, func(s *hakmem.Stats) uint64 { return s.BigCacheDecayed }, nil},
	{Description{"/hakmem/allocs:calls", Counter, "", "Allocations of non-zero size, all tiers."}, func(s *hakmem.Stats) uint64 { return s.Allocs }, nil},
	{Description{"/hakmem/frees:calls", Counter, "", "Successful frees, all tiers."}, func(s *hakmem.Stats) uint64 { return s.Frees }, nil},
	{Description{"/hakmem/errors:calls", Counter, "", "Errors reported to the program."}, func(s *hakmem.Stats) uint64 { return s.Errors }, nil},
	{Description{"/hakmem/free/same-p:blocks", Counter, "", "Small frees whose slab was last refilled by the same P."}, func(s *hakmem.Stats) uint64 { return s.FreeSameP }, nil},
	{Description{"/hakmem/free/cross-p:blocks", Counter, "", "Small frees whose slab was last refilled by another P."}, func(s *hakmem.Stats) uint64 { return s.FreeCrossP }, nil},
	{Description{"/hakmem/free/flushed:blocks", Counter, "", "Blocks flushed from per-P caches to the central lists."}, func(s *hakmem.Stats) uint64 { return s.FreeFlushed }, nil},
	{Description{"/hakmem/free/to-slab:blocks", Counter, "", "Flushed blocks that went back onto their slab."}, func(s *hakmem.Stats) uint64 { return s.FreeToSlab }, nil},
	{Description{"/hakmem/refill/transfer:blocks", Counter, "", "Blocks refilled from the central transfer caches."}, func(s *hakmem.Stats) uint64 { return s.RefillTransfer }, nil},
	{Description{"/hakmem/refill/slab-list:blocks", Counter, "", "Blocks refilled from partially used slabs."}, func(s *hakmem.Stats) uint64 { return s.RefillSlabList }, nil},
	{Description{"/hakmem/refill/fresh-slab:blocks", Counter, "", "Blocks carved from new slabs."}, func(s *hakmem.Stats) uint64 { return s.RefillFreshSlab }, nil},
	{Description{"/hakmem/refill/new-segment:refills", Counter, "", "Refills that mapped a new segment."}, func(s *hakmem.Stats) uint64 { return s.RefillNewSegment }, nil},
	{Description{"/hakmem/scavenger/passes:passes", Counter, "", "Passes of the free policy (background and Release)."}, func(s *hakmem.Stats) uint64 { return s.ScavengerPasses }, nil},
	{Description{"/hakmem/scavenger/purged:pages", Counter, "", "Free 16 KiB slab pages of live segments dropped."}, func(s *hakmem.Stats) uint64 { return s.PagesPurged }, nil},
	{Description{"/hakmem/sys/mmap:calls", Counter, "", "mmap system calls."}, func(s *hakmem.Stats) uint64 { return s.Mmaps }, nil},
	{Description{"/hakmem/sys/munmap:calls", Counter, "", "munmap system calls."}, func(s *hakmem.Stats) uint64 { return s.Munmaps }, nil},
	{Description{"/hakmem/sys/mremap:calls", Counter, "", "mremap system calls (Realloc of large blocks)."}, func(s *hakmem.Stats) uint64 { return s.Mremaps }, nil},
	{Description{"/hakmem/sys/madvise-free:calls", Counter, "", "madvise(MADV_FREE) calls (WARM)."}, func(s *hakmem.Stats) uint64 { return s.MadviseFree }, nil},
	{Description{"/hakmem/sys/madvise-dontneed:calls", Counter, "", "madvise(MADV_DONTNEED) calls (COLD, purges)."}, func(s *hakmem.Stats) uint64 { return s.MadviseDontneed }, nil},
	{Description{"/hakmem/sys/madvise-hugepage:calls", Counter, "", "madvise(MADV_HUGEPAGE) calls (THP)."}, func(s *hakmem.Stats) uint64 { return s.MadviseHugepage }, nil},

	{Description{"/hakmem/site/allocs:calls", Counter, "site", "Allocations made through the site."}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, x := range s.Sites {
			emit(x.Name, x.Allocs)
		}
	}},
	{Description{"/hakmem/site/bigcache-hits:allocs", Counter, "site", "The site's large allocations served by the BigCache."}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, x := range s.Sites {
			emit(x.Name, x.BigCacheHits)
		}
	}},
	{Description{"/hakmem/site/bigcache-misses:allocs", Counter, "site", "The site's large allocations that mapped."}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, x := range s.Sites {
			emit(x.Name, x.BigCacheMisses)
		}
	}},
	{Description{"/hakmem/site/bigcache-evictions:blocks", Counter, "site", "The site's cached blocks evicted."}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, x := range s.Sites {
			emit(x.Name, x.BigCacheEvictions)
		}
	}},
	{Description{"/hakmem/site/bigcache-decayed:blocks", Counter, "site", "The site's cached blocks unmapped by age or Release."}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, x := range s.Sites {
			emit(x.Name, x.BigCacheDecayed)
		}
	}},
	{Description{"/hakmem/site/bigcache-cached:bytes", Gauge, "site", "Bytes the site holds in the BigCache."}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, x := range s.Sites {
			emit(x.Name, x.BigCacheBytes)
		}
	}},
	{Description{"/hakmem/class/allocs:calls", Counter, "class", "Allocations served by the size class (label: block size in bytes)."}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, c := range s.Classes {
			emit(strconv.Itoa(c.Size), c.Allocs)
		}
	}},
	{Description{"/hakmem/class/in-use:blocks", Gauge, "class", "Blocks of the size class held by the program."}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, c := range s.Classes {
			emit(strconv.Itoa(c.Size), c.InUse)
		}
	}},
}

// All describes every metric, in a fixed order.
func All() []Description {
	out := make([]Description, len(table))
	for i, m := range table {
		out[i] = m.Description
	}
	return out
}

// Read returns every metric's samples from one hakmem.ReadStats.
func Read() []Sample {
	st := hakmem.ReadStats()
	var out []Sample
	for _, m := range table {
		if m.get != nil {
			out = append(out, Sample{Name: m.Name, Value: float64(m.get(&st))})
			continue
		}
		m.each(&st, func(label string, v uint64) {
			out = append(out, Sample{Name: m.Name, LabelValue: label, Value: float64(v)})
		})
	}
	return out
}

// ExpvarName is the name of the expvar variable this package publishes.
const ExpvarName = "hakmem"

// expvarValue is the value of the expvar variable: the totals by name, and
// the labelled metrics as maps from label value to value.
func expvarValue() any {
	m := map[string]any{}
	for _, s := range Read() {
		if s.LabelValue == "" {
			m[s.Name] = s.Value
			continue
		}
		sub, _ := m[s.Name].(map[string]float64)
		if sub == nil {
			sub = map[string]float64{}
			m[s.Name] = sub
		}
		sub[s.LabelValue] = s.Value
	}
	return m
}

func init() { expvar.Publish(ExpvarName, expvar.Func(expvarValue)) }
