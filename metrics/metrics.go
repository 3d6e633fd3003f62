// Package metrics exports hakmem's statistics under runtime/metrics-style
// names ("/hakmem/memory/mapped:bytes"): Read returns them, and importing
// the package publishes them as the expvar variable "hakmem" (served by
// expvar's /debug/vars handler). The core package hakmem imports neither
// expvar nor net/http; this one does, so only programs that want the
// export pay for it. metrics/prometheus turns the same samples into a
// Prometheus collector.
//
// Every sample is read from one hakmem.ReadStats call (the totals, and the
// per-site and per-class values labelled with the site's name or the
// class's block size) and one hakmem.Leaderboard call (the learning layer's
// per-site state, labelled with the site's name and a second label: the
// candidate threshold or the transition's name).
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
	// Label2 is a second label, "" for most metrics: "threshold" (a
	// candidate threshold in bytes) or "transition" (a lifecycle
	// transition's name) for the learning metrics, which have Label "site".
	Label2 string
}

// Sample is one value of a metric.
type Sample struct {
	Name        string  // a Description's Name
	LabelValue  string  // the site name or class size when the metric has a label
	LabelValue2 string  // the threshold or transition when the metric has Label2
	Value       float64 // in the unit the name ends with
}

// metric is a Description and how to read it from the stats.
type metric struct {
	Description
	get   func(st *hakmem.Stats) uint64                                            // totals
	each  func(st *hakmem.Stats, emit func(string, uint64))                        // labelled
	learn func(lb []hakmem.LeaderboardSite, emit func(site, l2 string, v float64)) // learning, Label "site" and Label2 (l2 "" when none)
}

// learnMetric is a learning metric of the table.
func learnMetric(name, kind, label2, help string, f func(lb []hakmem.LeaderboardSite, emit func(site, l2 string, v float64))) metric {
	return metric{Description: Description{Name: name, Kind: kind, Label: "site", Help: help, Label2: label2}, learn: f}
}

// eachStrategy emits f(strategy) for every arm of every learning site,
// labelled with the site and the arm: a threshold arm by its threshold in
// bytes, a BigCache policy arm as "bigcache:<policy>".
func eachStrategy(f func(s *hakmem.LeaderboardStrategy) float64) func([]hakmem.LeaderboardSite, func(string, string, float64)) {
	return func(lb []hakmem.LeaderboardSite, emit func(string, string, float64)) {
		for _, ls := range lb {
			for i := range ls.Strategies {
				s := &ls.Strategies[i]
				arm := strconv.FormatUint(s.Threshold, 10)
				if s.Kind == "bigcache" {
					arm = "bigcache:" + s.Policy
				}
				emit(ls.Site, arm, f(s))
			}
		}
	}
}

// cachePolicies numbers the BigCache policies for
// /hakmem/learn/bigcache:policy.
var cachePolicies = map[string]float64{"default": 0, "lean": 1, "hold": 2}

// learnStates numbers the lifecycle states for /hakmem/learn/state:state.
var learnStates = map[string]float64{"LEARN": 0, "FROZEN": 1, "CANARY": 2}

// b2f is 1 for true.
func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// u converts a count (never negative) for the table.
func u(n int) uint64 { return uint64(n) }

var table = []metric{
	{Description{"/hakmem/memory/mapped:bytes", Gauge, "", "Bytes hakmem has mapped from the OS: segments, live and cached large blocks.", ""}, func(s *hakmem.Stats) uint64 { return s.MappedBytes }, nil, nil},
	{Description{"/hakmem/memory/in-use:bytes", Gauge, "", "Bytes in blocks held by the program (usable size).", ""}, func(s *hakmem.Stats) uint64 { return s.InUseBytes }, nil, nil},
	{Description{"/hakmem/memory/cached:bytes", Gauge, "", "Bytes in free blocks kept for reuse (per-P, central, slab lists, BigCache).", ""}, func(s *hakmem.Stats) uint64 { return s.CachedBytes }, nil, nil},
	{Description{"/hakmem/memory/free:bytes", Gauge, "", "Mapped bytes that hold no block.", ""}, func(s *hakmem.Stats) uint64 { return s.FreeBytes }, nil, nil},
	{Description{"/hakmem/memory/committed:bytes", Gauge, "", "Resident estimate: mapped bytes minus dropped ones.", ""}, func(s *hakmem.Stats) uint64 { return s.CommittedBytes }, nil, nil},
	{Description{"/hakmem/memory/metadata:bytes", Gauge, "", "Bytes mapped for hakmem's own metadata (headers, registry leaves), off the Go heap; not in mapped.", ""}, func(s *hakmem.Stats) uint64 { return s.MetadataBytes }, nil, nil},
	{Description{"/hakmem/memory/spare:bytes", Gauge, "", "Address space of emptied segments kept mapped with no pages behind it, for reuse; not in mapped.", ""}, func(s *hakmem.Stats) uint64 { return s.SpareBytes }, nil, nil},
	{Description{"/hakmem/memory/dropped:bytes", Gauge, "", "Mapped bytes whose pages were dropped (MADV_DONTNEED) and not touched since.", ""}, func(s *hakmem.Stats) uint64 { return s.DroppedBytes }, nil, nil},
	{Description{"/hakmem/memory/limit:bytes", Gauge, "", "The memory limit; 0 when none.", ""}, func(s *hakmem.Stats) uint64 { return uint64(max(s.MemoryLimit, 0)) }, nil, nil},
	{Description{"/hakmem/memory/limit-failures:calls", Counter, "", "Allocations refused by the memory limit.", ""}, func(s *hakmem.Stats) uint64 { return s.LimitFailures }, nil, nil},
	{Description{"/hakmem/memory/shared-budget:bytes", Gauge, "", "The budget shared with the Go runtime (ShareMemoryLimit, HAKMEM_MEMORY_LIMIT=auto); 0 when none.", ""}, func(s *hakmem.Stats) uint64 { return uint64(max(s.SharedBudget, 0)) }, nil, nil},
	{Description{"/hakmem/memory/go-limit:bytes", Gauge, "", "The Go memory limit the shared budget last set; 0 when none.", ""}, func(s *hakmem.Stats) uint64 { return uint64(max(s.GoMemoryLimit, 0)) }, nil, nil},
	{Description{"/hakmem/memory/go-limit-updates:calls", Counter, "", "Times the shared budget set the Go memory limit.", ""}, func(s *hakmem.Stats) uint64 { return s.GoLimitUpdates }, nil, nil},
	{Description{"/hakmem/segments/mapped:segments", Gauge, "", "2 MiB segments mapped, cached ones included.", ""}, func(s *hakmem.Stats) uint64 { return u(s.Segments) }, nil, nil},
	{Description{"/hakmem/segments/cached:segments", Gauge, "", "Empty segments kept mapped for reuse.", ""}, func(s *hakmem.Stats) uint64 { return u(s.SegmentsCached) }, nil, nil},
	{Description{"/hakmem/segments/evicted:segments", Counter, "", "Cached segments unmapped because the cache was full.", ""}, func(s *hakmem.Stats) uint64 { return s.SegmentsEvicted }, nil, nil},
	{Description{"/hakmem/segments/decayed:segments", Counter, "", "Cached segments unmapped by age or Release.", ""}, func(s *hakmem.Stats) uint64 { return s.SegmentsDecayed }, nil, nil},
	{Description{"/hakmem/slabs:slabs", Gauge, "", "Slabs carved in live segments.", ""}, func(s *hakmem.Stats) uint64 { return u(s.Slabs) }, nil, nil},
	{Description{"/hakmem/large/held:blocks", Gauge, "", "Large blocks held by the program.", ""}, func(s *hakmem.Stats) uint64 { return u(s.LargeBlocks) }, nil, nil},
	{Description{"/hakmem/large/held:bytes", Gauge, "", "Mapped bytes of the large blocks held by the program.", ""}, func(s *hakmem.Stats) uint64 { return s.LargeBytes }, nil, nil},
	{Description{"/hakmem/bigcache/cached:blocks", Gauge, "", "Freed large blocks in the BigCache.", ""}, func(s *hakmem.Stats) uint64 { return u(s.BigCacheBlocks) }, nil, nil},
	{Description{"/hakmem/bigcache/cached:bytes", Gauge, "", "Bytes of the freed large blocks in the BigCache.", ""}, func(s *hakmem.Stats) uint64 { return s.BigCacheBytes }, nil, nil},
	{Description{"/hakmem/bigcache/hits:allocs", Counter, "", "Large allocations served by the BigCache.", ""}, func(s *hakmem.Stats) uint64 { return s.BigCacheHits }, nil, nil},
	{Description{"/hakmem/bigcache/misses:allocs", Counter, "", "Large allocations that mapped (BigCache on, nothing fitted).", ""}, func(s *hakmem.Stats) uint64 { return s.BigCacheMisses }, nil, nil},
	{Description{"/hakmem/bigcache/evictions:blocks", Counter, "", "Cached large blocks unmapped to stay within the limits.", ""}, func(s *hakmem.Stats) uint64 { return s.BigCacheEvictions }, nil, nil},
	{Description{"/hakmem/bigcache/decayed:blocks", Counter, "", "Cached large blocks unmapped by age or Release.", ""}, func(s *hakmem.Stats) uint64 { return s.BigCacheDecayed }, nil, nil},
	{Description{"/hakmem/heaps/live:heaps", Gauge, "", "Heaps made (NewHeap) and not closed or detached.", ""}, func(s *hakmem.Stats) uint64 { return u(s.Heaps) }, nil, nil},
	{Description{"/hakmem/heaps/owned:bytes", Gauge, "", "Bytes of the slabs live Heaps own (part of in-use and cached).", ""}, func(s *hakmem.Stats) uint64 { return s.HeapBytes }, nil, nil},
	{Description{"/hakmem/heaps/orphaned:bytes", Gauge, "", "Bytes of the slabs of detached Heaps that no Heap has taken over yet (part of in-use and cached).", ""}, func(s *hakmem.Stats) uint64 { return s.HeapOrphanBytes }, nil, nil},
	{Description{"/hakmem/heaps/remote-frees:blocks", Counter, "", "Heap blocks freed by other goroutines and swept back.", ""}, func(s *hakmem.Stats) uint64 { return s.HeapRemoteFrees }, nil, nil},
	{Description{"/hakmem/arenas/live:arenas", Gauge, "", "Arenas made and not closed.", ""}, func(s *hakmem.Stats) uint64 { return u(s.Arenas) }, nil, nil},
	{Description{"/hakmem/arenas/held:bytes", Gauge, "", "Usable bytes of the arenas' chunks (part of in-use).", ""}, func(s *hakmem.Stats) uint64 { return s.ArenaBytes }, nil, nil},
	{Description{"/hakmem/allocs:calls", Counter, "", "Allocations of non-zero size, all tiers.", ""}, func(s *hakmem.Stats) uint64 { return s.Allocs }, nil, nil},
	{Description{"/hakmem/frees:calls", Counter, "", "Successful frees, all tiers.", ""}, func(s *hakmem.Stats) uint64 { return s.Frees }, nil, nil},
	{Description{"/hakmem/errors:calls", Counter, "", "Errors reported to the program.", ""}, func(s *hakmem.Stats) uint64 { return s.Errors }, nil, nil},
	{Description{"/hakmem/errors/corrupted:blocks", Counter, "", "Free blocks dropped because their free marker was overwritten (a write after free) or they were freed twice at once; never reused.", ""}, func(s *hakmem.Stats) uint64 { return s.Corrupted }, nil, nil},
	{Description{"/hakmem/free/same-p:blocks", Counter, "", "Small frees whose slab was last refilled by the same P.", ""}, func(s *hakmem.Stats) uint64 { return s.FreeSameP }, nil, nil},
	{Description{"/hakmem/free/cross-p:blocks", Counter, "", "Small frees whose slab was last refilled by another P.", ""}, func(s *hakmem.Stats) uint64 { return s.FreeCrossP }, nil, nil},
	{Description{"/hakmem/free/flushed:blocks", Counter, "", "Blocks flushed from per-P caches to the central lists.", ""}, func(s *hakmem.Stats) uint64 { return s.FreeFlushed }, nil, nil},
	{Description{"/hakmem/free/to-slab:blocks", Counter, "", "Flushed blocks that went back onto their slab.", ""}, func(s *hakmem.Stats) uint64 { return s.FreeToSlab }, nil, nil},
	{Description{"/hakmem/refill/transfer:blocks", Counter, "", "Blocks refilled from the central transfer caches.", ""}, func(s *hakmem.Stats) uint64 { return s.RefillTransfer }, nil, nil},
	{Description{"/hakmem/refill/slab-list:blocks", Counter, "", "Blocks refilled from partially used slabs.", ""}, func(s *hakmem.Stats) uint64 { return s.RefillSlabList }, nil, nil},
	{Description{"/hakmem/refill/fresh-slab:blocks", Counter, "", "Blocks carved from new slabs.", ""}, func(s *hakmem.Stats) uint64 { return s.RefillFreshSlab }, nil, nil},
	{Description{"/hakmem/refill/new-segment:refills", Counter, "", "Refills that mapped a new segment.", ""}, func(s *hakmem.Stats) uint64 { return s.RefillNewSegment }, nil, nil},
	{Description{"/hakmem/scavenger/passes:passes", Counter, "", "Passes of the free policy (background and Release).", ""}, func(s *hakmem.Stats) uint64 { return s.ScavengerPasses }, nil, nil},
	{Description{"/hakmem/scavenger/purged:pages", Counter, "", "Free 16 KiB slab pages of live segments dropped.", ""}, func(s *hakmem.Stats) uint64 { return s.PagesPurged }, nil, nil},
	{Description{"/hakmem/sys/mmap:calls", Counter, "", "mmap system calls.", ""}, func(s *hakmem.Stats) uint64 { return s.Mmaps }, nil, nil},
	{Description{"/hakmem/sys/munmap:calls", Counter, "", "munmap system calls.", ""}, func(s *hakmem.Stats) uint64 { return s.Munmaps }, nil, nil},
	{Description{"/hakmem/sys/mremap:calls", Counter, "", "mremap system calls (Realloc of large blocks).", ""}, func(s *hakmem.Stats) uint64 { return s.Mremaps }, nil, nil},
	{Description{"/hakmem/sys/madvise-free:calls", Counter, "", "madvise(MADV_FREE) calls (WARM).", ""}, func(s *hakmem.Stats) uint64 { return s.MadviseFree }, nil, nil},
	{Description{"/hakmem/sys/madvise-dontneed:calls", Counter, "", "madvise(MADV_DONTNEED) calls (COLD, purges).", ""}, func(s *hakmem.Stats) uint64 { return s.MadviseDontneed }, nil, nil},
	{Description{"/hakmem/sys/madvise-hugepage:calls", Counter, "", "madvise(MADV_HUGEPAGE) calls (THP).", ""}, func(s *hakmem.Stats) uint64 { return s.MadviseHugepage }, nil, nil},

	{Description{"/hakmem/site/allocs:calls", Counter, "site", "Allocations made through the site.", ""}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, x := range s.Sites {
			emit(x.Name, x.Allocs)
		}
	}, nil},
	{Description{"/hakmem/site/bigcache-hits:allocs", Counter, "site", "The site's large allocations served by the BigCache.", ""}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, x := range s.Sites {
			emit(x.Name, x.BigCacheHits)
		}
	}, nil},
	{Description{"/hakmem/site/bigcache-misses:allocs", Counter, "site", "The site's large allocations that mapped.", ""}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, x := range s.Sites {
			emit(x.Name, x.BigCacheMisses)
		}
	}, nil},
	{Description{"/hakmem/site/bigcache-evictions:blocks", Counter, "site", "The site's cached blocks evicted.", ""}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, x := range s.Sites {
			emit(x.Name, x.BigCacheEvictions)
		}
	}, nil},
	{Description{"/hakmem/site/bigcache-decayed:blocks", Counter, "site", "The site's cached blocks unmapped by age or Release.", ""}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, x := range s.Sites {
			emit(x.Name, x.BigCacheDecayed)
		}
	}, nil},
	{Description{"/hakmem/site/bigcache-cached:bytes", Gauge, "site", "Bytes the site holds in the BigCache.", ""}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, x := range s.Sites {
			emit(x.Name, x.BigCacheBytes)
		}
	}, nil},
	{Description{"/hakmem/class/allocs:calls", Counter, "class", "Allocations served by the size class (label: block size in bytes).", ""}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, c := range s.Classes {
			emit(strconv.Itoa(c.Size), c.Allocs)
		}
	}, nil},
	{Description{"/hakmem/class/in-use:blocks", Gauge, "class", "Blocks of the size class held by the program.", ""}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, c := range s.Classes {
			emit(strconv.Itoa(c.Size), c.InUse)
		}
	}, nil},
	// The per-P cache capacity learner (learn_cap.go).
	{Description{"/hakmem/class/cap:blocks", Gauge, "class", "Per-P cache cap of the size class now (the capacity learner may raise it above the generated one).", ""}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, c := range s.Classes {
			emit(strconv.Itoa(c.Size), u(c.Cap))
		}
	}, nil},
	{Description{"/hakmem/class/refills:calls", Counter, "class", "Allocations of the size class that found their P's list empty and refilled it from the central list.", ""}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, c := range s.Classes {
			emit(strconv.Itoa(c.Size), c.Refills)
		}
	}, nil},
	{Description{"/hakmem/class/flushes:calls", Counter, "class", "Frees of the size class that found their P's list full and flushed a batch to the central list.", ""}, nil, func(s *hakmem.Stats, emit func(string, uint64)) {
		for _, c := range s.Classes {
			emit(strconv.Itoa(c.Size), c.Flushes)
		}
	}, nil},
	{Description{"/hakmem/cache/per-p-cached:bytes", Gauge, "", "Bytes in free blocks on the per-P lists.", ""}, func(s *hakmem.Stats) uint64 { return s.PerPCachedBytes }, nil, nil},
	{Description{"/hakmem/cache/learned-extra:bytes", Gauge, "", "Bytes the learned per-P caps may hold beyond the generated ones, every P's list full.", ""}, func(s *hakmem.Stats) uint64 { return s.CapExtraBytes }, nil, nil},
	{Description{"/hakmem/cache/learned-budget:bytes", Gauge, "", "The capacity learner's budget for that (HAKMEM_CAP_BUDGET_MB or 1/8 of mapped bytes).", ""}, func(s *hakmem.Stats) uint64 { return s.CapBudgetBytes }, nil, nil},

	learnMetric("/hakmem/learn/threshold:bytes", Gauge, "", "Routing threshold the learning site uses now: requests above it take the large path.", func(lb []hakmem.LeaderboardSite, emit func(string, string, float64)) {
		for _, ls := range lb {
			emit(ls.Site, "", float64(ls.Threshold))
		}
	}),
	learnMetric("/hakmem/learn/bigcache:policy", Gauge, "", "BigCache policy the learning site uses now for its large blocks: 0 default, 1 lean, 2 hold.", func(lb []hakmem.LeaderboardSite, emit func(string, string, float64)) {
		for _, ls := range lb {
			emit(ls.Site, "", cachePolicies[ls.BigCache])
		}
	}),
	learnMetric("/hakmem/learn/state:state", Gauge, "", "Lifecycle state of the learning site: 0 LEARN, 1 FROZEN, 2 CANARY.", func(lb []hakmem.LeaderboardSite, emit func(string, string, float64)) {
		for _, ls := range lb {
			emit(ls.Site, "", learnStates[ls.State])
		}
	}),
	learnMetric("/hakmem/learn:transitions", Counter, "transition", "Lifecycle transitions of the learning site, by transition.", func(lb []hakmem.LeaderboardSite, emit func(string, string, float64)) {
		for _, ls := range lb {
			for name, n := range ls.Transitions {
				emit(ls.Site, name, float64(n))
			}
		}
	}),
	learnMetric("/hakmem/learn/rating:elo", Gauge, "threshold", "ELO rating of the arm at the learning site (label: a threshold in bytes, or bigcache:<policy>); all start at 1500.", eachStrategy(func(s *hakmem.LeaderboardStrategy) float64 { return s.Rating })),
	learnMetric("/hakmem/learn/wins:games", Counter, "threshold", "Rated games the arm (threshold or bigcache:<policy>) won at the learning site.", eachStrategy(func(s *hakmem.LeaderboardStrategy) float64 { return float64(s.Wins) })),
	learnMetric("/hakmem/learn/losses:games", Counter, "threshold", "Rated games the arm (threshold or bigcache:<policy>) lost at the learning site.", eachStrategy(func(s *hakmem.LeaderboardStrategy) float64 { return float64(s.Losses) })),
	learnMetric("/hakmem/learn/draws:games", Counter, "threshold", "Rated games the arm (threshold or bigcache:<policy>) drew at the learning site.", eachStrategy(func(s *hakmem.LeaderboardStrategy) float64 { return float64(s.Draws) })),
	learnMetric("/hakmem/learn/samples:allocs", Counter, "threshold", "Sampled allocations made while the arm (threshold or bigcache:<policy>) ran at the learning site.", eachStrategy(func(s *hakmem.LeaderboardStrategy) float64 { return float64(s.Samples) })),
	learnMetric("/hakmem/learn/retired:bool", Gauge, "threshold", "1 if the arm (threshold or bigcache:<policy>) is retired in the learning site's current episode.", eachStrategy(func(s *hakmem.LeaderboardStrategy) float64 { return b2f(s.Retired) })),
	learnMetric("/hakmem/learn/running:bool", Gauge, "threshold", "1 for the arms (a threshold and a bigcache:<policy>) the learning site runs now.", eachStrategy(func(s *hakmem.LeaderboardStrategy) float64 { return b2f(s.Running) })),
}

// All describes every metric, in a fixed order.
func All() []Description {
	out := make([]Description, len(table))
	for i, m := range table {
		out[i] = m.Description
	}
	return out
}

// Read returns every metric's samples from one hakmem.ReadStats and one
// hakmem.Leaderboard.
func Read() []Sample {
	st := hakmem.ReadStats()
	lb := hakmem.Leaderboard()
	var out []Sample
	for _, m := range table {
		switch {
		case m.get != nil:
			out = append(out, Sample{Name: m.Name, Value: float64(m.get(&st))})
		case m.each != nil:
			m.each(&st, func(label string, v uint64) {
				out = append(out, Sample{Name: m.Name, LabelValue: label, Value: float64(v)})
			})
		default:
			m.learn(lb, func(site, l2 string, v float64) {
				out = append(out, Sample{Name: m.Name, LabelValue: site, LabelValue2: l2, Value: v})
			})
		}
	}
	return out
}

// ExpvarName is the name of the expvar variable this package publishes.
const ExpvarName = "hakmem"

// expvarValue is the value of the expvar variable: the totals by name, the
// labelled metrics as maps from label value to value, and the metrics with
// two labels as maps from the first label's value to maps from the
// second's to the value (/hakmem/learn/rating:elo: site -> threshold ->
// rating).
func expvarValue() any {
	m := map[string]any{}
	for _, s := range Read() {
		if s.LabelValue == "" {
			m[s.Name] = s.Value
			continue
		}
		if s.LabelValue2 != "" {
			sub, _ := m[s.Name].(map[string]map[string]float64)
			if sub == nil {
				sub = map[string]map[string]float64{}
				m[s.Name] = sub
			}
			if sub[s.LabelValue] == nil {
				sub[s.LabelValue] = map[string]float64{}
			}
			sub[s.LabelValue][s.LabelValue2] = s.Value
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
