package hakmem

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// withConfig installs a private copy of the policy for a test to change
// (through the returned pointer, before anything else runs: the scavenger
// is stopped, and the caches are emptied so that what earlier tests left
// there cannot count against this test's limits); the original comes
// back, with the caches emptied again, when the test ends.
func withConfig(t *testing.T) *snapshot {
	t.Helper()
	ensureInit()
	StopScavenger()
	Release()
	saved := cfg()
	p := *saved
	storeSnapshot(&p)
	t.Cleanup(func() {
		StopScavenger()
		Release()
		storeSnapshot(saved)
	})
	return &p
}

// siteStats finds a site's entry in st.
func siteStats(st Stats, s *Site) SiteStats {
	for _, x := range st.Sites {
		if x.Name == s.Name() {
			return x
		}
	}
	return SiteStats{}
}

// isLarge reports whether b is a large block (its own mapping).
func isLarge(b []byte) bool { return regLookup(addrOf(b)).kind == kindLarge }

func TestBigCacheReuse(t *testing.T) {
	config := withConfig(t)
	config.warmNs, config.coldNs, config.decayNs = time.Hour.Nanoseconds(), time.Hour.Nanoseconds(), time.Hour.Nanoseconds()
	site := NewSite("test-bigcache-reuse")
	other := NewSite("test-bigcache-other")
	before := ReadStats()

	b := site.Alloc(2 << 20)
	p := addrOf(b)
	for i := range b {
		b[i] = 0xaa
	}
	Free(b)
	if err := TryFree(b); !errors.Is(err, ErrDoubleFree) {
		t.Fatalf("second Free of a cached block: %v, want ErrDoubleFree", err)
	}
	if _, err := usableSize(p, "UsableSize"); !errors.Is(err, ErrDoubleFree) {
		t.Fatalf("UsableSize of a cached block: %v", err)
	}
	// Another site does not get it.
	o := other.Alloc(2 << 20)
	if addrOf(o) == p {
		t.Fatal("a block cached for one site served another")
	}
	Free(o)
	// A request up to 25% smaller reuses it, with its full usable size.
	c := site.Alloc(2<<20 - 400<<10)
	if addrOf(c) != p || cap(c) != 2<<20 {
		t.Fatalf("reuse: got %#x cap %d, want %#x cap %d", addrOf(c), cap(c), p, 2<<20)
	}
	Free(c)
	// A request much smaller does not (it would waste more than 25%).
	d := site.Alloc(1<<20 + 4096)
	if addrOf(d) == p {
		t.Fatal("a block 2x too big was reused")
	}
	Free(d)
	// Calloc of a reused block is zeroed.
	z := site.Calloc(2 << 20)
	if addrOf(z) != p {
		t.Fatalf("Calloc did not reuse the cached block")
	}
	for i, v := range z {
		if v != 0 {
			t.Fatalf("Calloc: byte %d is %#x", i, v)
		}
	}
	Free(z)
	st := checkStats(t, "bigcache")
	if h := st.BigCacheHits - before.BigCacheHits; h != 2 {
		t.Errorf("hits %d, want 2", h)
	}
	ss, ss0 := siteStats(st, site), siteStats(before, site)
	if ss.BigCacheHits-ss0.BigCacheHits != 2 || ss.BigCacheMisses-ss0.BigCacheMisses != 2 || ss.BigCacheBlocks != 2 {
		t.Errorf("site stats %+v, before %+v", ss, ss0)
	}
	Release()
	if st := checkStats(t, "released"); st.BigCacheBlocks != 0 || st.BigCacheBytes != 0 {
		t.Errorf("after Release: %d blocks %d bytes cached", st.BigCacheBlocks, st.BigCacheBytes)
	}
	if err := TryFree(z); !errors.Is(err, ErrDoubleFree) {
		t.Fatalf("Free after Release unmapped the block: %v", err)
	}
}

func TestBigCacheLimits(t *testing.T) {
	config := withConfig(t)
	config.warmNs, config.coldNs, config.decayNs = time.Hour.Nanoseconds(), time.Hour.Nanoseconds(), time.Hour.Nanoseconds()
	config.siteCacheBlocks, config.siteCacheBytes = 3, 64<<20
	config.bigCacheBlocks, config.bigCacheBytes = 5, 20<<20
	a, b := NewSite("test-limit-a"), NewSite("test-limit-b")
	before := ReadStats()
	var blocks [][]byte
	for range 4 {
		blocks = append(blocks, a.Alloc(2<<20))
	}
	first := addrOf(blocks[0])
	for _, x := range blocks {
		Free(x) // the fourth evicts the first: the site keeps 3
	}
	st := checkStats(t, "site limit")
	if st.BigCacheBlocks != 3 || st.BigCacheEvictions-before.BigCacheEvictions != 1 {
		t.Fatalf("site limit: %d cached, %d evicted", st.BigCacheBlocks, st.BigCacheEvictions-before.BigCacheEvictions)
	}
	if seg := regLookup(first); seg.kind != kindFreed {
		t.Fatal("the coldest block was not the one evicted")
	}
	// Global bytes: 3 x 2 MiB of a, then b's 3 x 4 MiB: 18 MiB > 20 MiB? no:
	// 6 + 12 = 18 fits, a fourth of b goes over the site count and a fifth
	// block overall makes the global count bind.
	blocks = blocks[:0]
	for range 3 {
		blocks = append(blocks, b.Alloc(4<<20))
	}
	for _, x := range blocks {
		Free(x)
	}
	st = checkStats(t, "global limit")
	if st.BigCacheBlocks > 5 || st.BigCacheBytes > 20<<20 {
		t.Fatalf("global limits broken: %d blocks %d bytes", st.BigCacheBlocks, st.BigCacheBytes)
	}
	// A block bigger than the site byte limit is not cached.
	config.siteCacheBytes = 4 << 20
	x := a.Alloc(6 << 20)
	Free(x)
	if seg := regLookup(addrOf(x)); seg.kind != kindFreed {
		t.Fatal("a block over the site byte limit was cached")
	}
	checkStats(t, "oversize")
}

func TestBigCacheOff(t *testing.T) {
	config := withConfig(t)
	config.bigCacheBytes = 0
	before := ReadStats()
	for range 3 {
		Free(Alloc(3 << 20))
	}
	st := checkStats(t, "off")
	if st.BigCacheBlocks != 0 || st.BigCacheHits != before.BigCacheHits || st.Munmaps-before.Munmaps < 3 {
		t.Fatalf("BigCache off: %d cached, %d hits, %d munmaps", st.BigCacheBlocks, st.BigCacheHits-before.BigCacheHits, st.Munmaps-before.Munmaps)
	}
}

func TestRoutingThreshold(t *testing.T) {
	config := withConfig(t)
	site := NewSite("test-threshold")
	defer site.setThreshold(0)
	site.setThreshold(256 << 10)
	if isLarge(keep(t, site.Alloc(256<<10))) || !isLarge(keep(t, site.Alloc(256<<10+1))) || !isLarge(keep(t, site.Alloc(1<<20))) ||
		!isLarge(keep(t, site.Calloc(300<<10))) {
		t.Fatal("site threshold 256 KiB not honoured")
	}
	site.setThreshold(1) // clamped to 64 KiB
	if isLarge(keep(t, site.Alloc(64<<10))) || !isLarge(keep(t, site.Alloc(64<<10+16))) {
		t.Fatal("threshold not clamped to 64 KiB")
	}
	if st := ReadStats(); st.Sites[0].LargeThreshold != 1<<20 {
		t.Fatalf("default threshold %d", st.Sites[0].LargeThreshold)
	}
	// The option moves every site's default, plain Alloc included.
	site.setThreshold(0)
	config.largeThreshold = 128 << 10
	configuredThreshold.Store(128 << 10) // what storeSnapshot caches
	if !isLarge(keep(t, Alloc(512<<10))) || !isLarge(keep(t, site.Alloc(200<<10))) || isLarge(keep(t, Alloc(100<<10))) ||
		!isLarge(keep(t, Calloc(200<<10))) {
		t.Fatal("HAKMEM_LARGE_THRESHOLD not honoured")
	}
	checkStats(t, "threshold")
	var warn strings.Builder
	var st configState
	st.envMode, st.envVals = readEnv(func(k string) (string, bool) { return "4096", k == "HAKMEM_LARGE_THRESHOLD" }, &warn)
	if p := buildSnapshot(&st); warn.Len() != 0 || p.largeThreshold != maxSmall {
		t.Fatalf("threshold 4096 KiB: %d, %q", p.largeThreshold, warn.String())
	}
}

// keep frees b when the test ends.
func keep(t *testing.T, b []byte) []byte {
	t.Cleanup(func() { Free(b) })
	return b
}

func TestFreePolicyStages(t *testing.T) {
	config := withConfig(t)
	hour := time.Hour.Nanoseconds()
	config.warmNs, config.coldNs, config.decayNs = hour, 2*hour, 3*hour
	config.segmentCache = 8
	Release()
	StopScavenger()
	b := Alloc(4 << 20)
	seg := regLookup(addrOf(b))
	// Empty a segment into the segment cache too.
	mid := Alloc(1 << 20)
	Free(mid)
	Release() // flush the per-P cache: the segment empties (and is unmapped)
	mid = Alloc(1 << 20)
	mseg := regLookup(addrOf(mid)).pages[(addrOf(mid)>>pageShift)&(pagesPerSegment-1)].seg
	for i := range b {
		b[i] = 1
	}
	Free(b)
	flushOwn()
	Free(mid)
	flushOwn()
	for i := range centrals {
		centrals[i].drain()
	}
	StopScavenger()
	heap.mu.Lock()
	t0 := max(seg.freedAt, mseg.freedAt) // µs apart: the stages are hours
	segCached := mseg.cached
	heap.mu.Unlock()
	if !seg.cached {
		t.Fatal("block not cached")
	}
	if !segCached {
		t.Log("the 1 MiB block's segment did not empty: only the large block is checked")
	}
	st0 := ReadStats()
	stage := func(at int64, wantTemp uint8, what string) {
		t.Helper()
		heap.scavenge(at, false)
		heap.mu.Lock()
		defer heap.mu.Unlock()
		if seg.temp != wantTemp || !seg.cached {
			t.Fatalf("%s: block temp %d cached %v, want %d", what, seg.temp, seg.cached, wantTemp)
		}
		if segCached && (mseg.temp != wantTemp || !mseg.cached) {
			t.Fatalf("%s: segment temp %d cached %v, want %d", what, mseg.temp, mseg.cached, wantTemp)
		}
	}
	stage(t0+hour/2, tempHot, "hot")
	stage(t0+hour, tempWarm, "warm")
	stage(t0+hour+1, tempWarm, "still warm")
	stage(t0+2*hour, tempCold, "cold")
	st := ReadStats()
	if st.MadviseFree-st0.MadviseFree < 1 || st.MadviseDontneed-st0.MadviseDontneed < 1 {
		if !osMapsGoHeap {
			t.Errorf("madvise calls: free %d dontneed %d", st.MadviseFree-st0.MadviseFree, st.MadviseDontneed-st0.MadviseDontneed)
		}
	}
	// A cold block is reused zeroed.
	c := Calloc(4 << 20)
	if addrOf(c) != seg.base {
		t.Fatal("cold block not reused")
	}
	for i, v := range c {
		if v != 0 {
			t.Fatalf("byte %d of a reused cold block is %d", i, v)
		}
	}
	Free(c)
	heap.mu.Lock()
	t1 := seg.freedAt
	heap.mu.Unlock()
	if next := heap.scavenge(t1, false); next <= 0 || next > hour {
		t.Errorf("next stage in %d ns, want within the warm age", next)
	}
	heap.scavenge(t1+3*hour, false)
	st = checkStats(t, "decayed")
	if st.BigCacheBlocks != 0 || st.SegmentsCached != 0 || st.BigCacheDecayed == st0.BigCacheDecayed {
		t.Errorf("after the decay: %d blocks, %d segments cached", st.BigCacheBlocks, st.SegmentsCached)
	}
	if next := heap.scavenge(t1+4*hour, false); next != -1 {
		t.Errorf("nothing cached, yet next = %d", next)
	}
}

// scavengerRunning reports whether a scavenger goroutine exists, from the
// stacks of all goroutines (a goleak-style check without the dependency).
func scavengerRunning() bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "hakmem.scavengerLoop")
}

func TestScavengerDecaysAndStops(t *testing.T) {
	config := withConfig(t)
	config.warmNs, config.coldNs, config.decayNs = 10*ms, 20*ms, 50*ms
	StopScavenger()
	if scavengerRunning() {
		t.Fatal("scavenger running after StopScavenger")
	}
	Free(Alloc(3 << 20)) // starts it
	if !scav.w.running.Load() {
		t.Fatal("a free into the BigCache did not start the scavenger")
	}
	deadline := time.Now().Add(2 * time.Second)
	for ReadStats().BigCacheBlocks != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the scavenger did not unmap the cached block within 2 s (decay 50 ms)")
		}
		time.Sleep(5 * time.Millisecond)
	}
	StopScavenger()
	StopScavenger() // idempotent
	for i := 0; scavengerRunning(); i++ {
		if i == 100 {
			t.Fatal("scavenger goroutine leaked after StopScavenger")
		}
		time.Sleep(time.Millisecond)
	}
	checkStats(t, "scavenged")
}

func TestMemoryLimit(t *testing.T) {
	withConfig(t)
	Release()
	defer SetMemoryLimit(SetMemoryLimit(-1))
	st := ReadStats()
	SetMemoryLimit(int64(st.MappedBytes) + 16<<20)
	a := Alloc(8 << 20)
	if _, err := TryAlloc(12 << 20); !errors.Is(err, ErrMemoryLimit) {
		t.Fatalf("over the limit: %v, want ErrMemoryLimit", err)
	}
	func() {
		defer func() {
			if err, _ := recover().(error); !errors.Is(err, ErrMemoryLimit) {
				t.Fatalf("Alloc over the limit panicked with %v", err)
			}
		}()
		Alloc(12 << 20)
	}()
	// A cached block of another site is unmapped to make room.
	Free(a)
	if ReadStats().BigCacheBlocks == 0 {
		t.Fatal("setup: block not cached")
	}
	b, err := NewSite("test-limit-other").TryAlloc(12 << 20)
	if err != nil {
		t.Fatalf("with the cache dropped the allocation fits: %v", err)
	}
	// Small allocations are limited too (new segments).
	var small [][]byte
	var serr error
	for range 100 {
		x, err := TryAlloc(512 << 10)
		if err != nil {
			serr = err
			break
		}
		small = append(small, x)
	}
	if !errors.Is(serr, ErrMemoryLimit) {
		t.Fatalf("small allocations past the limit: %v", serr)
	}
	if got := ReadStats(); got.MappedBytes > uint64(SetMemoryLimit(-1)) || got.LimitFailures-st.LimitFailures != 3 {
		t.Fatalf("mapped %d over the limit %d, failures %d", got.MappedBytes, SetMemoryLimit(-1), got.LimitFailures)
	}
	for _, x := range small {
		Free(x)
	}
	Free(b)
	checkStats(t, "limit")
	SetMemoryLimit(0)
	Free(Alloc(64 << 20))
}

func TestMapFailures(t *testing.T) {
	withConfig(t)
	defer osMapFailAt.Store(0)
	site := NewSite("test-map-failures")
	site.setThreshold(128 << 10)
	defer site.setThreshold(0)
	sizes := []int{300 << 10, 3 << 20, 600 << 10, 200 << 10, 5 << 20, 40 << 10, 2 << 20, 900 << 10, 17 << 20}
	for n := int64(1); n <= 24; n++ {
		Release()
		osMapFailAt.Store(n)
		var held [][]byte
		failed := false
		for round := range 4 {
			for _, sz := range sizes {
				var b []byte
				var err error
				if round%2 == 0 {
					b, err = TryAlloc(sz)
				} else {
					b, err = site.TryAlloc(sz)
				}
				if err != nil {
					if !errors.Is(err, ErrOutOfMemory) {
						t.Fatalf("n=%d: %v, want ErrOutOfMemory", n, err)
					}
					failed = true
					continue
				}
				b[0], b[len(b)-1] = 1, 2
				held = append(held, b)
			}
		}
		osMapFailAt.Store(0)
		if n <= 4 && !failed {
			t.Fatalf("n=%d: no allocation failed", n)
		}
		checkStats(t, "after failures")
		for _, b := range held {
			Free(b)
		}
		b := Alloc(3 << 20) // the next allocation succeeds
		Free(b)
		checkStats(t, "freed")
	}
}

func TestSizeTooLarge(t *testing.T) {
	before := ReadStats()
	for _, n := range []int{MaxAlloc + 1, math.MaxInt, math.MaxInt - 4095} {
		if _, err := TryAlloc(n); !errors.Is(err, ErrSizeTooLarge) {
			t.Fatalf("TryAlloc(%d): %v", n, err)
		}
		if _, err := TryCalloc(n); !errors.Is(err, ErrSizeTooLarge) {
			t.Fatalf("TryCalloc(%d): %v", n, err)
		}
		b := Alloc(3 << 20)
		if _, err := TryRealloc(b, n); !errors.Is(err, ErrSizeTooLarge) {
			t.Fatalf("TryRealloc(%d): %v", n, err)
		}
		Free(b)
	}
	if st := ReadStats(); st.Mmaps-before.Mmaps > 3 {
		t.Fatalf("impossible sizes made %d mappings", st.Mmaps-before.Mmaps)
	}
	if roundLarge(MaxAlloc) < MaxAlloc || roundLarge(MaxAlloc-1) != MaxAlloc {
		t.Fatal("rounding MaxAlloc overflows")
	}
}

func TestReallocLarge(t *testing.T) {
	withConfig(t)
	before := ReadStats()
	b := Alloc(3 << 20)
	fill := func(b []byte, n int) {
		for i := 0; i < n; i += 4096 {
			b[i] = byte(i >> 12)
		}
	}
	check := func(b []byte, n int, what string) {
		t.Helper()
		for i := 0; i < n; i += 4096 {
			if b[i] != byte(i>>12) {
				t.Fatalf("%s: byte %d lost", what, i)
			}
		}
	}
	fill(b, len(b))
	b = Realloc(b, 9<<20) // grow: in place or moved, never copied on Linux
	check(b, 3<<20, "grow")
	if cap(b) != 9<<20 || !isLarge(b) {
		t.Fatalf("grown block cap %d", cap(b))
	}
	fill(b, len(b))
	b = Realloc(b, 2<<20) // shrink in place
	check(b, 2<<20, "shrink")
	b = Realloc(b, 40<<20)
	check(b, 2<<20, "grow again")
	checkStats(t, "realloc")
	if st := ReadStats(); !osMapsGoHeap && runtimeHasMremap() && st.Mremaps-before.Mremaps < 3 {
		t.Errorf("mremaps %d, want 3", st.Mremaps-before.Mremaps)
	}
	b = Realloc(b, 100<<10) // large to small: copies
	if isLarge(b) || len(b) != 100<<10 {
		t.Fatal("shrink to a small class stayed large")
	}
	Free(b)
	checkStats(t, "realloc freed")
}

func runtimeHasMremap() bool { return osRemapSupported }

func TestTHPPolicy(t *testing.T) {
	config := withConfig(t)
	config.bigCacheBytes = 0
	for _, tc := range []struct {
		mode              int
		wantLarge, wantSg bool
	}{{thpOff, false, false}, {thpAuto, true, false}, {thpOn, true, true}} {
		config.thp = tc.mode
		Release()
		st0 := ReadStats()
		Free(Alloc(4 << 20))
		st1 := ReadStats()
		// a new segment: allocate until one is mapped
		var held [][]byte
		for ReadStats().Segments == st1.Segments {
			held = append(held, Alloc(1<<20))
		}
		st2 := ReadStats()
		for _, b := range held {
			Free(b)
		}
		if osMapsGoHeap || !osRemapSupported {
			continue // no madvise here
		}
		if got := st1.MadviseHugepage > st0.MadviseHugepage; got != tc.wantLarge {
			t.Errorf("THP %d: large block advised %v", tc.mode, got)
		}
		if got := st2.MadviseHugepage > st1.MadviseHugepage; got != tc.wantSg {
			t.Errorf("THP %d: segment advised %v", tc.mode, got)
		}
	}
}

// TestBigCacheVMHitRate runs the VM scenario's shape (10 x {alloc 2 MiB,
// write every page, free}) and wants at least 9 hits in 10.
func TestBigCacheVMHitRate(t *testing.T) {
	withConfig(t)
	Release()
	st0 := ReadStats()
	for range 10 {
		b := Alloc(2 << 20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		Free(b)
	}
	st := ReadStats()
	hits, misses := st.BigCacheHits-st0.BigCacheHits, st.BigCacheMisses-st0.BigCacheMisses
	if hits < 9 || hits+misses != 10 {
		t.Fatalf("vm shape: %d hits, %d misses", hits, misses)
	}
}

// TestReallocLargeFailures injects a mapping failure at each step of a
// growing Realloc (the fresh range mremap moves into, then the copying
// fallback's mapping) and under the memory limit: each TryRealloc either
// succeeds with the contents kept or fails leaving b allocated and intact.
func TestReallocLargeFailures(t *testing.T) {
	config := withConfig(t)
	config.bigCacheBytes = 0 // every growth needs a mapping
	defer osMapFailAt.Store(0)
	defer SetMemoryLimit(SetMemoryLimit(-1))
	check := func(b []byte, what string) {
		t.Helper()
		for i := 0; i < 3<<20; i += 4096 {
			if b[i] != byte(i>>12) {
				t.Fatalf("%s: byte %d lost", what, i)
			}
		}
	}
	for step := int64(0); step <= 3; step++ {
		b := Alloc(3 << 20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = byte(i >> 12)
		}
		var limit bool
		if step == 3 {
			SetMemoryLimit(int64(ReadStats().MappedBytes) + 4<<20)
			limit = true
		} else {
			osMapFailAt.Store(step + 1)
		}
		nb, err := TryRealloc(b, 16<<20)
		osMapFailAt.Store(0)
		SetMemoryLimit(0)
		switch {
		case err == nil:
			check(nb, "grown")
			Free(nb)
		case limit && errors.Is(err, ErrMemoryLimit), !limit && errors.Is(err, ErrOutOfMemory):
			check(b, "after a failed Realloc")
			if UsableSize(b) != 3<<20 {
				t.Fatalf("failed Realloc changed the block")
			}
			Free(b)
		default:
			t.Fatalf("step %d: %v", step, err)
		}
		checkStats(t, "realloc failure")
	}
}

// TestLargeStress runs large and pooled allocations on several goroutines
// and sites while the scavenger cools, drops and unmaps cached blocks
// every few milliseconds, with Realloc in the mix. Every block carries a
// pattern checked before it is freed: a block whose pages the free policy
// dropped while in use would lose it.
func TestLargeStress(t *testing.T) {
	config := withConfig(t)
	config.warmNs, config.coldNs, config.decayNs = 1*ms, 2*ms, 4*ms
	config.siteCacheBlocks, config.bigCacheBlocks = 4, 8
	const workers = 4
	rounds := 300
	if testing.Short() {
		rounds = 100
	}
	sites := []*Site{nil, NewSite("stress-a"), NewSite("stress-b")}
	done := make(chan error, workers)
	for w := range workers {
		go func() {
			r := rand.New(rand.NewPCG(uint64(w), 99))
			var held [][]byte
			stamp := func(b []byte) {
				v := byte(addrOf(b) >> 12)
				for i := 0; i < len(b); i += 4096 {
					b[i] = v
				}
			}
			ok := func(b []byte) bool {
				v := byte(addrOf(b) >> 12)
				for i := 0; i < len(b); i += 4096 {
					if b[i] != v {
						return false
					}
				}
				return true
			}
			for range rounds {
				size := []int{300 << 10, 1<<20 + 1, 2 << 20, 3<<20 + 12345, 6 << 20}[r.IntN(5)]
				var b []byte
				if s := sites[r.IntN(len(sites))]; s != nil {
					b = s.Alloc(size)
				} else {
					b = Alloc(size)
				}
				stamp(b)
				held = append(held, b)
				if r.IntN(4) == 0 {
					i := r.IntN(len(held))
					if !ok(held[i]) {
						done <- errors.New("a held block lost its pattern before Realloc")
						return
					}
					nb := Realloc(held[i], []int{2 << 20, 5 << 20, 500 << 10}[r.IntN(3)])
					held[i] = nb[:cap(nb)]
					stamp(held[i])
				}
				for len(held) > 3 || (len(held) > 0 && r.IntN(3) == 0) {
					i := r.IntN(len(held))
					if !ok(held[i]) {
						done <- errors.New("a held block lost its pattern")
						return
					}
					Free(held[i])
					held[i] = held[len(held)-1]
					held = held[:len(held)-1]
				}
				if r.IntN(50) == 0 {
					time.Sleep(3 * time.Millisecond) // let blocks age through the stages
				}
			}
			for _, b := range held {
				if !ok(b) {
					done <- errors.New("a held block lost its pattern at the end")
					return
				}
				Free(b)
			}
			done <- nil
		}()
	}
	for range workers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	st := checkStats(t, "stress")
	t.Logf("BigCache hits %d misses %d evictions %d decayed %d; madvise free %d dontneed %d; mremaps %d; passes %d",
		st.BigCacheHits, st.BigCacheMisses, st.BigCacheEvictions, st.BigCacheDecayed, st.MadviseFree, st.MadviseDontneed, st.Mremaps, st.ScavengerPasses)
}

// TestScavengerWokenEarly: the scavenger asleep until a far deadline (a
// free slab page, due after the 5 s decay) is woken by a block whose first
// stage (WARM, 50 ms) falls due sooner.
func TestScavengerWokenEarly(t *testing.T) {
	config := withConfig(t)
	config.warmNs, config.coldNs, config.decayNs = 50*ms, 5000*ms, 5000*ms
	Release()
	StopScavenger()
	a, b := Alloc(512<<10), Alloc(512<<10)
	if regLookup(addrOf(a)) != regLookup(addrOf(b)) {
		t.Log("the two blocks are in different segments: the far deadline is not exercised")
	}
	Free(a) // dirty pages in a live segment: the scavenger sleeps ~5 s
	time.Sleep(20 * time.Millisecond)
	c := Alloc(3 << 20)
	seg := regLookup(addrOf(c))
	Free(c)
	deadline := time.Now().Add(2 * time.Second)
	for {
		heap.mu.Lock()
		temp := seg.temp
		heap.mu.Unlock()
		if temp >= tempWarm {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the block was not cooled within 2 s (warm 50 ms): the scavenger slept through")
		}
		time.Sleep(5 * time.Millisecond)
	}
	Free(b)
}

// TestSiteCachePolicy: a site's cache policy scales its BigCache limits
// (lean a quarter, hold four times, within the global limits) and its
// free-policy times, for its own blocks only.
func TestSiteCachePolicy(t *testing.T) {
	config := withConfig(t)
	hour := time.Hour.Nanoseconds()
	config.warmNs, config.coldNs, config.decayNs = hour, 2*hour, 3*hour
	config.siteCacheBlocks, config.siteCacheBytes = 8, 64<<20
	config.bigCacheBlocks, config.bigCacheBytes = 64, 1<<30
	lean, hold := NewSite("test-cachepol-lean"), NewSite("test-cachepol-hold")
	if lean.id >= maxSites || hold.id >= maxSites {
		t.Skip("too many sites")
	}
	setSiteCacheStyle(lean.id, cacheLean)
	setSiteCacheStyle(hold.id, cacheHold)
	t.Cleanup(func() {
		setSiteCacheStyle(lean.id, cacheDefault)
		setSiteCacheStyle(hold.id, cacheDefault)
	})
	if b, _ := siteLimits(config, lean.id); b != 2 {
		t.Errorf("lean: %d blocks, want 8/4 = 2", b)
	}
	if b, by := siteLimits(config, hold.id); b != 32 || by != 256<<20 {
		t.Errorf("hold: %d blocks %d bytes, want 32 and 256 MiB", b, by)
	}
	if w, c, d := stageTimes(config, hold.id); w != 4*hour || c != 8*hour || d != 12*hour {
		t.Errorf("hold times %d %d %d", w, c, d)
	}
	cached := func(s *Site, n int) int {
		var bs [][]byte
		for range n {
			bs = append(bs, s.Alloc(2<<20))
		}
		for _, b := range bs {
			Free(b)
		}
		heap.mu.Lock()
		defer heap.mu.Unlock()
		return heap.big.sites[s.id].list.n
	}
	if n := cached(lean, 6); n != 2 {
		t.Errorf("lean site keeps %d blocks, want 2", n)
	}
	if n := cached(hold, 20); n != 20 {
		t.Errorf("hold site keeps %d blocks, want all 20 (limit 32)", n)
	}
	checkStats(t, "cache policies")
	// Times: an hour and a half after the frees a default block is WARM,
	// a lean one (stages at 15, 30, 45 minutes) unmapped, a hold one HOT.
	d := NewSite("test-cachepol-default")
	Free(d.Alloc(2 << 20))
	heap.mu.Lock()
	var t0 int64
	for s := heap.big.lru.head; s != nil; s = s.q[qLRU].next {
		t0 = max(t0, s.freedAt)
	}
	heap.mu.Unlock()
	StopScavenger()
	heap.scavenge(t0+hour+hour/2, false)
	heap.mu.Lock()
	nl, nh, nd := heap.big.sites[lean.id].list.n, heap.big.sites[hold.id].list.n, heap.big.sites[d.id].list.n
	var hotHold, warmDefault = true, true
	for s := heap.big.sites[hold.id].list.head; s != nil; s = s.q[qPrimary].next {
		hotHold = hotHold && s.temp == tempHot
	}
	for s := heap.big.sites[d.id].list.head; s != nil; s = s.q[qPrimary].next {
		warmDefault = warmDefault && s.temp == tempWarm
	}
	heap.mu.Unlock()
	if nl != 0 || nh != 20 || nd != 1 || !hotHold || !warmDefault {
		t.Errorf("after 1.5 h: lean %d blocks (want 0), hold %d (20) hot %v, default %d (1) warm %v", nl, nh, hotHold, nd, warmDefault)
	}
	checkStats(t, "cache policy times")
}
