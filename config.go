package hakmem

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// The option table: the one place hakmem reads the environment. Each option
// has a HAKMEM_ variable, a default, bounds and a sentence of documentation;
// the README's configuration table is generated from it (see
// TestReadmeOptionTable). The environment is read once, at first use. An
// invalid value gets one warning line on stderr naming the variable and the
// accepted values, and the default is used. Anything a user should not need
// to touch is a constant with a comment, not an option.

type option struct {
	env      string // environment variable
	def      int    // default
	min, max int    // accepted range, inclusive
	unit     string
	doc      string
	set      func(int) // stores the value into config
}

// config is the effective configuration; written once by loadConfig (tests
// may change it while nothing else runs).
var config struct {
	segmentCache    int   // empty segments kept mapped
	pcacheScale     int   // percent applied to the per-P cache caps
	largeThreshold  int   // default routing threshold, bytes: larger requests go to the large path
	bigCacheBytes   int   // BigCache limit, all sites, bytes
	bigCacheBlocks  int   // BigCache limit, all sites, blocks
	siteCacheBytes  int   // BigCache limit per site, bytes
	siteCacheBlocks int   // BigCache limit per site, blocks
	warmNs          int64 // age at which a cached block or segment gets MADV_FREE, ns
	coldNs          int64 // age at which it gets MADV_DONTNEED, ns
	decayNs         int64 // age at which it is unmapped (and free pages purged), ns
	thp             int   // thpOff, thpAuto or thpOn
}

// THP policies (HAKMEM_THP).
const (
	thpOff  = 0 // never ask for huge pages
	thpAuto = 1 // MADV_HUGEPAGE on large blocks of 2 MiB and more
	thpOn   = 2 // also on every segment
)

const (
	kib = 1 << 10
	mib = 1 << 20
	ms  = int64(1e6) // ns
)

var options = []option{
	{
		env: "HAKMEM_SEGMENT_CACHE", def: 8, min: 0, max: 4096, unit: "segments",
		doc: "Empty 2 MiB segments kept mapped for reuse (an LRU; also bounded in age by HAKMEM_DECAY_MS) before they are unmapped.",
		set: func(v int) { config.segmentCache = v },
	},
	{
		env: "HAKMEM_PCACHE_SCALE", def: 100, min: 0, max: 1600, unit: "percent",
		doc: "Scales every per-P cache cap; 0 turns per-P caching off (every operation goes to the central lists).",
		set: func(v int) { config.pcacheScale = v },
	},
	{
		env: "HAKMEM_LARGE_THRESHOLD", def: 1024, min: 64, max: 1 << 30, unit: "KiB",
		doc: "Routing threshold, every site's default: requests above it get their own mapping (large path, BigCache); at or below, the pooled size classes. Above 1024 means 1024 (the largest class).",
		set: func(v int) { config.largeThreshold = min(v, maxSmall/kib) * kib },
	},
	{
		env: "HAKMEM_BIGCACHE_MB", def: 256, min: 0, max: 1 << 20, unit: "MiB",
		doc: "BigCache: freed large blocks kept mapped for reuse, all sites together; 0 turns the BigCache off.",
		set: func(v int) { config.bigCacheBytes = v * mib },
	},
	{
		env: "HAKMEM_BIGCACHE_BLOCKS", def: 64, min: 0, max: 1 << 16, unit: "blocks",
		doc: "BigCache: the most freed large blocks kept, all sites together; the coldest go first.",
		set: func(v int) { config.bigCacheBlocks = v },
	},
	{
		env: "HAKMEM_BIGCACHE_SITE_MB", def: 128, min: 0, max: 1 << 20, unit: "MiB",
		doc: "BigCache: bytes kept per site; a block bigger than this is never cached.",
		set: func(v int) { config.siteCacheBytes = v * mib },
	},
	{
		env: "HAKMEM_BIGCACHE_SITE_BLOCKS", def: 16, min: 0, max: 1 << 16, unit: "blocks",
		doc: "BigCache: blocks kept per site (also the longest list a large allocation scans).",
		set: func(v int) { config.siteCacheBlocks = v },
	},
	{
		env: "HAKMEM_WARM_MS", def: 250, min: 1, max: 1 << 30, unit: "ms",
		doc: "Free policy: a cached large block or empty segment this old is WARM: madvise(MADV_FREE), reclaimed by the kernel only under pressure.",
		set: func(v int) { config.warmNs = int64(v) * ms },
	},
	{
		env: "HAKMEM_COLD_MS", def: 2000, min: 1, max: 1 << 30, unit: "ms",
		doc: "Free policy: this old it is COLD: madvise(MADV_DONTNEED), its pages are dropped at once.",
		set: func(v int) { config.coldNs = int64(v) * ms },
	},
	{
		env: "HAKMEM_DECAY_MS", def: 10000, min: 1, max: 1 << 30, unit: "ms",
		doc: "Free policy: this old it is unmapped by the background scavenger; free slab pages of live segments are purged after as long. A stage not younger than this never happens.",
		set: func(v int) { config.decayNs = int64(v) * ms },
	},
	{
		env: "HAKMEM_MEMORY_LIMIT", def: 0, min: 0, max: 1 << 30, unit: "MiB",
		doc: "Most memory hakmem maps (segments and large blocks, cached ones included); past it caches are emptied, then allocations fail with ErrMemoryLimit. 0: no limit. SetMemoryLimit overrides it.",
		set: func(v int) { memLimit.Store(int64(v) * mib) },
	},
	{
		env: "HAKMEM_THP", def: thpAuto, min: thpOff, max: thpOn, unit: "0 off, 1 auto, 2 on",
		doc: "Transparent huge pages: 1 asks for them (MADV_HUGEPAGE) on large blocks of 2 MiB and more, 2 also on every segment, 0 never.",
		set: func(v int) { config.thp = v },
	},
}

func loadConfig() { applyOptions(os.LookupEnv, os.Stderr) }

// applyOptions sets every option from getenv, warning on w.
func applyOptions(getenv func(string) (string, bool), w io.Writer) {
	for _, o := range options {
		v := o.def
		if s, ok := getenv(o.env); ok {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < o.min || n > o.max {
				fmt.Fprintf(w, "hakmem: %s=%q is not valid: want an integer from %d to %d (%s); using the default %d\n",
					o.env, s, o.min, o.max, o.unit, o.def)
			} else {
				v = n
			}
		}
		o.set(v)
	}
}

// optionsMarkdown renders the option table for the README.
func optionsMarkdown() string {
	var b strings.Builder
	b.WriteString("| variable | default | range | unit | meaning |\n|---|---|---|---|---|\n")
	for _, o := range options {
		fmt.Fprintf(&b, "| `%s` | %d | %d .. %d | %s | %s |\n", o.env, o.def, o.min, o.max, o.unit, o.doc)
	}
	return b.String()
}
