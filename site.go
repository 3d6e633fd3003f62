package hakmem

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Site is a named allocation site: hakmem's call site, the label of an
// allocation's purpose. Declare one per purpose, once:
//
//	var jsonBuffers = hakmem.NewSite("json-buffers")
//	buf := jsonBuffers.Alloc(64 << 10)
//
// Blocks from a site are ordinary blocks: free them with Free. A site counts
// its traffic (ReadStats().Sites), has its own list in the BigCache (a
// large block freed goes back to the site that allocated it) and its own
// routing threshold between the pooled classes and the large path. A nil
// *Site is the default site, the one plain Alloc uses; sites beyond the
// first 256 share the default site's BigCache list and threshold.
type Site struct {
	name string
	id   int32 // index of its per-P counters; >= maxSites uses shared
	// shared counters for sites beyond maxSites, atomically updated
	allocs, bytes atomic.Uint64
	// threshold is the site's routing threshold in bytes: requests above
	// it (and all above maxSmall) take the large path. 0 follows
	// HAKMEM_LARGE_THRESHOLD. Atomic, so that a policy (the learning layer)
	// may move it while the site allocates; see setThreshold.
	threshold atomic.Uintptr
	// fixed is set by SetThreshold: the program chose the threshold, so
	// the learning layer neither samples the site nor publishes over it.
	fixed atomic.Bool
}

// minLargeThreshold is the lowest routing threshold: the first L2.5 class
// (64 KiB). Requests up to it always use the pooled classes, and the slow
// path only looks a site up for bigger ones.
const minLargeThreshold = 64 << 10

// siteByID finds a site with per-P counters (id < maxSites) from its id, for
// the slow path's threshold and BigCache. Written once per site by NewSite.
var siteByID [maxSites]atomic.Pointer[Site]

// siteThreshold is the routing threshold of site sid, in bytes.
func siteThreshold(sid int32) uintptr {
	if s := siteByID[sid].Load(); s != nil {
		if t := s.threshold.Load(); t != 0 {
			return t
		}
	}
	if t := configuredThreshold.Load(); t != 0 {
		return t
	}
	ensureInit()
	return uintptr(cfg().largeThreshold)
}

// routedLarge reports whether a request of size bytes (at most maxSmall)
// from site sid is above the site's threshold, so takes the large path.
// Plain Alloc does not ask (its fast path stays as it is): a block already
// in a per-P cache of such a class serves it, and only a miss is routed.
func routedLarge(size int, sid int32) bool {
	return size > minLargeThreshold && size <= maxSmall && uintptr(size) > siteThreshold(sid)
}

// setThreshold moves the site's routing threshold to n bytes, clamped to
// [minLargeThreshold, maxSmall]; n == 0 goes back to the default. Blocks
// already in per-P caches of the classes above it are still used.
func (s *Site) setThreshold(n uintptr) {
	if n != 0 {
		n = min(max(n, minLargeThreshold), maxSmall)
	}
	if s.threshold.Load() != n { // the learner republishes every window: a store would take the line from every P that reads it
		s.threshold.Store(n)
	}
}

// SetThreshold fixes the site's routing threshold to n bytes: requests
// above n (and every request above 1 MiB) get their own mapping and the
// site's BigCache; requests up to n use the pooled size classes. n must lie
// in [64 KiB, 1 MiB]; 0 gives the choice back (the HAKMEM_LARGE_THRESHOLD
// default, or what the learning layer learns for the site). A site with a
// fixed threshold is not learned: its learning state, if any, is kept but
// not applied until SetThreshold(0). Blocks already cached per P in the
// classes above n are still used. A nil *Site is the default site.
func (s *Site) SetThreshold(n int) error {
	if n != 0 && (n < minLargeThreshold || n > maxSmall) {
		return fmt.Errorf("hakmem: Site(%q).SetThreshold(%d): want 0 or a threshold in [%d, %d] bytes", s.Name(), n, minLargeThreshold, maxSmall)
	}
	s = s.orDefault()
	if s.id >= maxSites {
		return fmt.Errorf("hakmem: Site(%q).SetThreshold: only the first %d sites have a threshold of their own; this one shares the default site's", s.Name(), maxSites)
	}
	s.fixed.Store(n != 0)
	s.setThreshold(uintptr(n))
	if n == 0 {
		setSiteCacheStyle(s.id, cacheDefault) // a policy fixed by SetBigCachePolicy goes too
		learnRepublish(s)                     // learn.go: what was learned applies again
	}
	return nil
}

// SetBigCachePolicy fixes the BigCache policy of the site's large blocks:
// "default" (the configured per-site limits and free stages), "lean" (a
// quarter of the limits, every stage four times sooner) or "hold" (four
// times the limits, every stage four times later), the policies the
// learning layer chooses among. Like SetThreshold it takes the site from
// the learner: neither its threshold nor its policy is learned until
// SetThreshold(0) gives both back (the policy goes back to what was
// learned, or the default). A nil *Site is the default site.
func (s *Site) SetBigCachePolicy(name string) error {
	p := -1
	for i, n := range cacheStyleNames {
		if n == name {
			p = i
		}
	}
	if p < 0 {
		return fmt.Errorf("hakmem: Site(%q).SetBigCachePolicy(%q): want one of %q", s.Name(), name, cacheStyleNames)
	}
	s = s.orDefault()
	if s.id >= maxSites {
		return fmt.Errorf("hakmem: Site(%q).SetBigCachePolicy: only the first %d sites have a policy of their own; this one shares the default site's", s.Name(), maxSites)
	}
	s.fixed.Store(true)
	setSiteCacheStyle(s.id, cacheStyle(p))
	return nil
}

// Threshold is the routing threshold in force at the site, in bytes:
// fixed by SetThreshold, learned, or the default.
func (s *Site) Threshold() int {
	return int(siteThreshold(s.orDefault().sid()))
}

// orDefault is s, or the default site for a nil *Site.
func (s *Site) orDefault() *Site {
	if s != nil {
		return s
	}
	return siteByID[0].Load()
}

var sites struct {
	mu     sync.Mutex
	list   []*Site // by id; list[0] is the default site
	byName map[string]*Site
}

func init() {
	sites.list = []*Site{{name: "default"}}
	sites.byName = map[string]*Site{"default": sites.list[0]}
	siteByID[0].Store(sites.list[0])
}

// NewSite returns the site with that name, creating it on first use; the
// same name always gives the same *Site.
func NewSite(name string) *Site {
	sites.mu.Lock()
	defer sites.mu.Unlock()
	if s, ok := sites.byName[name]; ok {
		return s
	}
	s := &Site{name: name, id: int32(len(sites.list))}
	sites.list = append(sites.list, s)
	if s.id < maxSites {
		siteByID[s.id].Store(s)
	}
	sites.byName[name] = s
	return s
}

// Name is the name the site was created with.
func (s *Site) Name() string {
	if s == nil {
		return "default"
	}
	return s.name
}

// sid is the id passed down the allocation path: 0 for the default site and
// for sites counted in shared counters.
func (s *Site) sid() int32 {
	if s == nil || s.id >= maxSites {
		return 0
	}
	return s.id
}

// countShared counts traffic of sites beyond maxSites.
func (s *Site) countShared(size int) {
	if s != nil && s.id >= maxSites && size > 0 {
		s.allocs.Add(1)
		s.bytes.Add(uint64(size))
	}
}

// Alloc is hakmem.Alloc, counted for this site.
func (s *Site) Alloc(size int) []byte {
	b, err := s.alloc(size, false, "Site.Alloc")
	if err != nil {
		panic(err)
	}
	return b
}

// Calloc is hakmem.Calloc, counted for this site.
func (s *Site) Calloc(size int) []byte {
	b, err := s.alloc(size, true, "Site.Calloc")
	if err != nil {
		panic(err)
	}
	return b
}

// TryAlloc is hakmem.TryAlloc, counted for this site.
func (s *Site) TryAlloc(size int) ([]byte, error) { return s.alloc(size, false, "Site.TryAlloc") }

func (s *Site) alloc(size int, zero bool, op string) ([]byte, error) {
	sid := s.sid()
	if !zero && !routedLarge(size, sid) {
		if p, usable, tick := allocFastTick(size, sid, s == nil || s.id < maxSites); p != 0 {
			if tick {
				s.learnHit(size, usable) // learn.go: one pooled hit in the period, while learning is live
			}
			s.countShared(size)
			return bytesAt(p, uintptr(size), usable), nil
		}
	}
	var sample missSample
	if size > minLargeThreshold && learner.on.Load() {
		sample = learnMissStart() // learn.go: one slow path in the period is drawn and timed
	}
	var b []byte
	var err error
	if zero {
		b, err = calloc(size, sid, op)
	} else {
		b, err = allocSlow(size, sid, op)
	}
	if err == nil {
		s.countShared(size)
		if sample.env != nil {
			s.learnRecord(size, b, sample.env.clock()-sample.t0, sample.env)
		}
	}
	return b, err
}

// countLargeAlloc counts a large allocation (the small ones are counted by
// the per-P lists).
func countLargeAlloc(sid int32, size uintptr) {
	largeAllocs.Add(1)
	if sid != 0 {
		pc := pinSlow()
		pc.countSite(sid, size)
		unpin(pc)
	}
}

func countLargeFree() { largeFrees.Add(1) }

// Large-path counters: the large path makes a system call per operation, so
// an atomic add is noise there.
var largeAllocs, largeFrees atomic.Uint64
