package hakmem

import (
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"unsafe"
)

// census is a slow recount of everything the allocator holds, made by
// walking every structure instead of reading counters. It also checks the
// structural invariants on the way: every free block carries its cookie,
// sits in a slab of its class at a block boundary, and is on exactly one
// list; every list's length field matches its links.
type census struct {
	mapped, inUse, cached, free uint64
	segments, slabs, large      int
	bigBlocks                   int    // large blocks in the BigCache
	bigBytes                    uint64 // their bytes
	segCached                   int    // empty segments in the segment cache
}

// takeCensus needs quiescence: no other goroutine may allocate or free.
func takeCensus(t *testing.T) census {
	t.Helper()
	var cn census
	seen := map[uintptr]string{} // free block -> where it was found
	mark := func(p uintptr, where string, class uint8) {
		if prev, dup := seen[p]; dup {
			t.Fatalf("free block %#x on two lists: %s and %s", p, prev, where)
		}
		seen[p] = where
		if loadWord(p+8) != p^cookieKey {
			t.Fatalf("free block %#x (%s) lacks its cookie", p, where)
		}
		seg := regLookup(p)
		if seg == nil || seg.kind != kindSmall {
			t.Fatalf("free block %#x (%s) outside small segments", p, where)
		}
		s := seg.pages[(p>>pageShift)&(pagesPerSegment-1)]
		if s == nil || s.class != class || (p-s.base)%s.size != 0 || (p-s.base)/s.size >= uintptr(s.nblocks) {
			t.Fatalf("free block %#x (%s) not a block of class %d", p, where, class)
		}
	}
	walk := func(bs []uintptr, where string, class uint8) uint64 {
		for _, p := range bs {
			mark(p, where, class)
		}
		return uint64(len(bs))
	}

	var cachedBlocks [numClasses]uint64
	for _, pc := range *caches.Load() {
		for c := range pc.lists {
			l := &pc.lists[c]
			if l.n > l.max || l.cap > l.max {
				t.Fatalf("P %d class %d: n %d cap %d beyond the %d slots", pc.id, c, l.n, l.cap, l.max)
			}
			cachedBlocks[c] += walk(unsafe.Slice((*uintptr)(ptr(l.slots)), l.n), "per-P stack", uint8(c))
		}
	}
	// Live Heaps: their stacks and the bitmaps of the slabs they own.
	heapSlabs := map[*slab]bool{}
	bitmapFree := func(s *slab) []uintptr {
		var free []uintptr
		for i := uintptr(0); i < maxSlabBlocks; i++ {
			if s.freeMap[i/64]&(1<<(i%64)) != 0 {
				if i >= uintptr(s.nblocks) {
					t.Fatalf("slab %#x: free bit %d beyond its %d blocks", s.base, i, s.nblocks)
				}
				free = append(free, s.base+i*s.size)
			}
		}
		if uint32(len(free)) != s.nfree {
			t.Fatalf("slab %#x: nfree %d but %d bits", s.base, s.nfree, len(free))
		}
		return free
	}
	heaps.mu.Lock()
	nlive := 0
	for r := heaps.live; r != nil; r = r.next {
		nlive++
		for c := range r.lists {
			l := &r.lists[c]
			if l.n > l.max || l.cap > l.max {
				t.Fatalf("heap %p class %d: n %d cap %d beyond the %d slots", r, c, l.n, l.cap, l.max)
			}
			cachedBlocks[c] += walk(unsafe.Slice((*uintptr)(ptr(l.slots)), l.n), "heap stack", uint8(c))
			for k, head := range [2]*slab{r.avail[c], r.full[c]} {
				var prev *slab
				for s := head; s != nil; s = s.next {
					if s.prev != prev || s.heap.Load() != uintptr(unsafe.Pointer(r)) || s.class != uint8(c) || (k == 0) != (s.nfree > 0) || heapSlabs[s] {
						t.Fatalf("heap %p class %d: slab %#x on list %d with heap %#x class %d nfree %d", r, c, s.base, k, s.heap.Load(), s.class, s.nfree)
					}
					heapSlabs[s] = true
					prev = s
					cachedBlocks[c] += walk(bitmapFree(s), "heap slab bitmap", uint8(c))
					if s.inh != nil { // inherited blocks: live, counted (heap_orphan.go)
						n := 0
						for w := range s.inh {
							n += bits.OnesCount64(s.inh[w])
							if s.inh[w]&s.freeMap[w] != 0 || (w+1)*64 > int(s.nblocks) && s.inh[w]>>max(int(s.nblocks)-w*64, 0) != 0 {
								t.Fatalf("slab %#x: inherited bits %#x on word %d free %#x", s.base, s.inh[w], w, s.freeMap[w])
							}
						}
						if n == 0 || uint32(n) != s.ninh {
							t.Fatalf("slab %#x: %d inherited bits, ninh %d", s.base, n, s.ninh)
						}
					}
				}
			}
		}
	}
	if nlive != heaps.nlive {
		t.Fatalf("%d live heaps linked, %d counted", nlive, heaps.nlive)
	}
	heaps.mu.Unlock()

	slabsOfClass := map[uint8]int{}
	for c := range centrals {
		ct := &centrals[c]
		ct.mu.Lock()
		// Unlocked on the way out, Fatalf included: a census failure must
		// fail the test, not hang the cleanup's Release on this lock.
		unlock := sync.OnceFunc(ct.mu.Unlock)
		defer unlock()
		cachedBlocks[c] += walk(ct.xfer[:ct.nxfer*int(classes[c].batch)], "transfer cache", uint8(c))
		for s := ct.partial; s != nil; s = s.next {
			if s.nfree == 0 || s.class != uint8(c) {
				t.Fatalf("class %d: slab %#x on the partial list with nfree %d class %d", c, s.base, s.nfree, s.class)
			}
			cachedBlocks[c] += walk(bitmapFree(s), "slab free bitmap", uint8(c))
		}
		// Orphans: ended heaps' slabs no heap adopted (heap_orphan.go).
		norphans, orphanFree := 0, uint64(0)
		var prev *slab
		for s := ct.orphans; s != nil; s = s.next {
			if s.prev != prev || s.heap.Load() != orphanHeap || s.class != uint8(c) || s.inh != nil || heapSlabs[s] {
				t.Fatalf("class %d: orphan %#x with prev ok %v heap %#x class %d inh %p", c, s.base, s.prev == prev, s.heap.Load(), s.class, s.inh)
			}
			heapSlabs[s] = true
			prev = s
			norphans++
			orphanFree += uint64(s.nfree)
			cachedBlocks[c] += walk(bitmapFree(s), "orphan bitmap", uint8(c))
		}
		if norphans != int(ct.norphans.Load()) || orphanFree != ct.orphanFree {
			t.Fatalf("class %d: %d orphans with %d free blocks linked, counters %d %d", c, norphans, orphanFree, ct.norphans.Load(), ct.orphanFree)
		}
		unlock()
	}

	heap.mu.Lock()
	var segs []*segment
	heap.forEachSegment(func(s *segment) { segs = append(segs, s) })
	var retiredCached int
	heap.forEachRetired(func(s *segment) {
		if s.cached {
			retiredCached++
		}
	})
	freePages := heap.freePages
	heap.mu.Unlock()
	if retiredCached > 0 {
		t.Fatalf("%d retired segments still marked cached (Stats.SegmentsCached counts the cache only)", retiredCached)
	}
	for _, seg := range segs {
		if seg.cached {
			cn.segCached++
		}
		cn.segments++
		cn.mapped += segmentSize
		if seg.cached && !seg.used.empty() {
			t.Fatalf("cached segment %#x has pages in use", seg.base)
		}
		var used pageSet
		for i := 0; i < pagesPerSegment; i++ {
			s := seg.pages[i]
			if s == nil {
				cn.free += pageSize
				continue
			}
			used.set(i, 1, true)
			if s.base != seg.base+uintptr(i)<<pageShift {
				continue // not the slab's first page
			}
			cn.slabs++
			slabsOfClass[s.class]++
			if (s.heap.Load() != 0) != heapSlabs[s] {
				t.Fatalf("slab %#x names heap %#x, listed by a live heap: %v", s.base, s.heap.Load(), heapSlabs[s])
			}
			delete(heapSlabs, s)
			ci := &classes[s.class]
			if s.npages != ci.pages || s.nblocks != ci.nblocks || s.size != uintptr(ci.size) {
				t.Fatalf("slab %#x disagrees with class %d", s.base, s.class)
			}
			for k := 0; k < int(s.npages); k++ {
				if seg.pages[i+k] != s {
					t.Fatalf("slab %#x: page %d not mapped to it", s.base, i+k)
				}
			}
			cn.free += uint64(int(ci.pages)*pageSize - int(ci.nblocks)*int(ci.size))
		}
		if used != seg.used {
			t.Fatalf("segment %#x: used bitmap %x, pages say %x", seg.base, seg.used, used)
		}
	}
	if len(heapSlabs) != 0 {
		t.Fatalf("%d slabs listed by live heaps are not in any segment", len(heapSlabs))
	}
	if cn.free-slabTails(slabsOfClass) != freePages*pageSize {
		t.Fatalf("free pages: walked %d bytes, counter %d", cn.free-slabTails(slabsOfClass), freePages*pageSize)
	}
	for c := range centrals {
		if slabsOfClass[uint8(c)] != centrals[c].slabs {
			t.Fatalf("class %d: %d slabs in segments, central counts %d", c, slabsOfClass[uint8(c)], centrals[c].slabs)
		}
		total := uint64(slabsOfClass[uint8(c)]) * uint64(classes[c].nblocks)
		cn.cached += cachedBlocks[c] * uint64(classes[c].size)
		cn.inUse += (total - cachedBlocks[c]) * uint64(classes[c].size)
	}
	// Large blocks: walk the registry for their segments.
	largeSeen := map[*segment]bool{}
	for i := range registry {
		leaf := registry[i].Load()
		if leaf == nil {
			continue
		}
		for j := range leaf {
			if s := leaf[j].Load(); s != nil && s.kind == kindLarge && !largeSeen[s] {
				largeSeen[s] = true
				cn.mapped += uint64(s.largeSize)
				heap.mu.Lock()
				cached := s.cached
				heap.mu.Unlock()
				if cached {
					cn.bigBlocks++
					cn.bigBytes += uint64(s.largeSize)
					cn.cached += uint64(s.largeSize)
				} else {
					cn.large++
					cn.inUse += uint64(s.largeSize)
				}
			}
		}
	}
	checkBigCacheLists(t, largeSeen)
	return cn
}

// checkBigCacheLists checks that the BigCache's global LRU and site lists
// hold the same blocks, each cached and registered, with counts and bytes
// that match their links.
func checkBigCacheLists(t *testing.T, registered map[*segment]bool) {
	t.Helper()
	heap.mu.Lock()
	defer heap.mu.Unlock()
	inLRU := map[*segment]bool{}
	var n int
	var bytes uint64
	for s := heap.big.lru.head; s != nil; s = s.q[qLRU].next {
		if !s.cached || s.kind != kindLarge || !registered[s] || regLookup(s.base) != s {
			t.Fatalf("BigCache LRU: block %#x cached %v kind %d registered %v", s.base, s.cached, s.kind, registered[s])
		}
		inLRU[s] = true
		n++
		bytes += uint64(s.largeSize)
	}
	if n != heap.big.lru.n || bytes != heap.big.lru.bytes {
		t.Fatalf("BigCache LRU: %d blocks %d bytes linked, counters %d %d", n, bytes, heap.big.lru.n, heap.big.lru.bytes)
	}
	total := 0
	for sid := range heap.big.sites {
		q := &heap.big.sites[sid].list
		k, b := 0, uint64(0)
		for s := q.head; s != nil; s = s.q[qPrimary].next {
			if !inLRU[s] || s.site != int32(sid) {
				t.Fatalf("site %d list: block %#x not in the LRU or of site %d", sid, s.base, s.site)
			}
			k++
			b += uint64(s.largeSize)
		}
		if k != q.n || b != q.bytes {
			t.Fatalf("site %d list: %d blocks %d bytes linked, counters %d %d", sid, k, b, q.n, q.bytes)
		}
		total += k
	}
	if total != n {
		t.Fatalf("site lists hold %d blocks, the LRU %d", total, n)
	}
	for s := range registered {
		if s.cached != inLRU[s] {
			t.Fatalf("block %#x: cached %v, in the LRU %v", s.base, s.cached, inLRU[s])
		}
	}
}

func slabTails(n map[uint8]int) uint64 {
	var t uint64
	for c, k := range n {
		ci := &classes[c]
		t += uint64(k) * uint64(int(ci.pages)*pageSize-int(ci.nblocks)*int(ci.size))
	}
	return t
}

// checkStats compares ReadStats with a census and checks the identity.
func checkStats(t *testing.T, when string) Stats {
	t.Helper()
	StopScavenger() // it would unmap things between the two reads
	st := ReadStats()
	cn := takeCensus(t)
	if st.MappedBytes != st.InUseBytes+st.CachedBytes+st.FreeBytes {
		t.Errorf("%s: mapped %d != in use %d + cached %d + free %d", when, st.MappedBytes, st.InUseBytes, st.CachedBytes, st.FreeBytes)
	}
	if st.MappedBytes != cn.mapped || st.InUseBytes != cn.inUse || st.CachedBytes != cn.cached || st.FreeBytes != cn.free {
		t.Errorf("%s: stats mapped/inUse/cached/free = %d/%d/%d/%d, census %d/%d/%d/%d",
			when, st.MappedBytes, st.InUseBytes, st.CachedBytes, st.FreeBytes, cn.mapped, cn.inUse, cn.cached, cn.free)
	}
	if st.Segments != cn.segments || st.Slabs != cn.slabs || st.LargeBlocks != cn.large {
		t.Errorf("%s: stats segments/slabs/large = %d/%d/%d, census %d/%d/%d",
			when, st.Segments, st.Slabs, st.LargeBlocks, cn.segments, cn.slabs, cn.large)
	}
	if st.BigCacheBlocks != cn.bigBlocks || st.BigCacheBytes != cn.bigBytes || st.SegmentsCached != cn.segCached {
		t.Errorf("%s: stats BigCache %d blocks %d bytes, %d segments cached; census %d %d %d",
			when, st.BigCacheBlocks, st.BigCacheBytes, st.SegmentsCached, cn.bigBlocks, cn.bigBytes, cn.segCached)
	}
	if st.DroppedBytes > st.MappedBytes-st.InUseBytes || st.CommittedBytes != st.MappedBytes-st.DroppedBytes {
		t.Errorf("%s: dropped %d, committed %d, mapped %d, in use %d", when, st.DroppedBytes, st.CommittedBytes, st.MappedBytes, st.InUseBytes)
	}
	var sum SiteStats
	for _, s := range st.Sites {
		sum.BigCacheBlocks += s.BigCacheBlocks
		sum.BigCacheBytes += s.BigCacheBytes
		sum.BigCacheHits += s.BigCacheHits
		sum.BigCacheMisses += s.BigCacheMisses
		sum.BigCacheEvictions += s.BigCacheEvictions
		sum.BigCacheDecayed += s.BigCacheDecayed
	}
	if sum.BigCacheBlocks != st.BigCacheBlocks || sum.BigCacheBytes != st.BigCacheBytes || sum.BigCacheHits != st.BigCacheHits ||
		sum.BigCacheMisses != st.BigCacheMisses || sum.BigCacheEvictions != st.BigCacheEvictions || sum.BigCacheDecayed != st.BigCacheDecayed {
		t.Errorf("%s: per-site BigCache sums %+v != totals %d/%d/%d/%d/%d/%d", when, sum, st.BigCacheBlocks, st.BigCacheBytes,
			st.BigCacheHits, st.BigCacheMisses, st.BigCacheEvictions, st.BigCacheDecayed)
	}
	if st.Mode != cfg().mode.String() {
		t.Errorf("%s: Stats.Mode %q, policy %v", when, st.Mode, cfg().mode)
	}
	return st
}

// TestStatsEveryMode runs small and large traffic through a site in every
// mode (switched with SetMode) and checks the counters against the slow
// recount while blocks are held, after freeing, after a scavenger pass
// far in the future and after Release.
func TestStatsEveryMode(t *testing.T) {
	withConfig(t)
	saved := cfgState.apiMode
	t.Cleanup(func() {
		cfgState.mu.Lock()
		cfgState.apiMode = saved
		cfgState.mu.Unlock()
	})
	site := NewSite("stats-every-mode")
	prev := SetLogger(slog.New(slog.DiscardHandler)) // Research logs every map
	t.Cleanup(func() { SetLogger(prev) })
	for _, m := range modes {
		if err := SetMode(m); err != nil {
			t.Fatal(err)
		}
		StopScavenger()
		r := rand.New(rand.NewPCG(uint64(m), 1))
		var held [][]byte
		for i := 0; i < 400; i++ {
			n := 1 + r.IntN(64<<10)
			if i%50 == 0 {
				n = (2 + r.IntN(3)) << 20
			}
			held = append(held, site.Alloc(n))
		}
		checkStats(t, m.String()+" held")
		for _, b := range held {
			Free(b)
		}
		checkStats(t, m.String()+" freed")
		heap.scavenge(now()+int64(cfg().coldNs)+1, false) // everything cached turns COLD
		st := checkStats(t, m.String()+" cooled")
		if st.BigCacheBytes+uint64(st.SegmentsCached)*segmentSize > 0 && st.DroppedBytes == 0 {
			t.Errorf("%s: cached memory cooled but nothing counted dropped: %+v", m, st)
		}
		Release()
		checkStats(t, m.String()+" released")
		if st := ReadStats(); m == Research && (st.SlowAllocSizes == nil || st.SlowAllocTimed == 0) {
			t.Errorf("research: no slow-path size histogram or timing: %v, %d", st.SlowAllocSizes, st.SlowAllocTimed)
		}
	}
}

// TestStatsMatchCensus runs mixed traffic on several goroutines (so blocks
// cross Ps), then, quiescent, checks the counters against the slow recount
// at every stage: while holding blocks, after freeing, after Release.
func TestStatsMatchCensus(t *testing.T) {
	checkStats(t, "start")
	base := ReadStats()
	const workers = 4
	held := make([][][]byte, workers)
	var held0 uint64
	var wg sync.WaitGroup
	handoff := make(chan []byte, 1024)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			var mine [][]byte
			for i := 0; i < 3000; i++ {
				var n int
				switch r.IntN(20) {
				case 0:
					n = 1<<20 + r.IntN(3<<20) // large
				case 1, 2:
					n = 1024 + r.IntN(300<<10) // mid and l2.5
				default:
					n = 1 + r.IntN(1024) // tiny
				}
				b := Alloc(n)
				b[0], b[n-1] = 1, 2
				switch r.IntN(3) {
				case 0:
					mine = append(mine, b)
				case 1:
					select {
					case handoff <- b:
					default:
						Free(b)
					}
				default:
					Free(b)
				}
				select {
				case x := <-handoff:
					Free(x)
				default:
				}
			}
			held[w] = mine
		}()
	}
	wg.Wait()
	close(handoff)
	for x := range handoff {
		Free(x)
	}
	for _, m := range held {
		for _, b := range m {
			held0 += uint64(UsableSize(b))
		}
	}
	st := checkStats(t, "holding")
	if got := st.InUseBytes - base.InUseBytes; got != held0 {
		t.Errorf("in use grew by %d, the test holds %d usable bytes", got, held0)
	}
	if st.Allocs-base.Allocs != st.Frees-base.Frees+uint64(countHeld(held)) {
		t.Errorf("allocs %d - frees %d != held %d", st.Allocs-base.Allocs, st.Frees-base.Frees, countHeld(held))
	}
	for _, m := range held {
		for _, b := range m {
			Free(b)
		}
	}
	st = checkStats(t, "freed")
	if st.InUseBytes != base.InUseBytes {
		t.Errorf("in use %d after freeing everything, %d before", st.InUseBytes, base.InUseBytes)
	}
	Release()
	runtime.GC()
	st = checkStats(t, "released")
	if st.SegmentsCached != 0 || st.BigCacheBlocks != 0 {
		t.Errorf("%d segments and %d large blocks cached after Release", st.SegmentsCached, st.BigCacheBlocks)
	}
}

func countHeld(h [][][]byte) int {
	n := 0
	for _, m := range h {
		n += len(m)
	}
	return n
}

// forEachSegment calls f for every mapped segment, under heap.mu.
func (h *pageHeap) forEachSegment(f func(*segment)) {
	for _, s := range h.buckets {
		for ; s != nil; s = s.next {
			f(s)
		}
	}
	for s := h.cache.head; s != nil; s = s.q[qPrimary].next {
		f(s)
	}
	h.forEachRetired(f)
}

// forEachRetired calls f for every retired segment not yet unmapped.
// Caller holds heap.mu.
func (h *pageHeap) forEachRetired(f func(*segment)) {
	for s := h.retired.head; s != nil; s = s.q[qPrimary].next {
		f(s)
	}
	for _, s := range h.reaping {
		f(s)
	}
}
