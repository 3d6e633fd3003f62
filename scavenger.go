package hakmem

import (
	"log/slog"
	"math"
	"sync/atomic"
	"time"
)

// The scavenger returns idle memory to the OS by temperature. A cached
// large block or empty segment starts HOT (kept as it was freed, for
// reuse). Older than HAKMEM_WARM_MS it becomes WARM: madvise(MADV_FREE), the
// kernel may take the pages when it needs memory and reuse costs little.
// Older than HAKMEM_COLD_MS it becomes COLD: madvise(MADV_DONTNEED), the
// pages are gone and RSS falls now. Older than HAKMEM_DECAY_MS it is
// unmapped. Free slab pages inside live segments are dropped with
// MADV_DONTNEED once they have been free for the decay (purgeDirty), never
// on the slab free itself.
//
// One pass (heap.scavenge) does all of it under heap.mu, oldest first, so the
// madvise calls of one moment are batched together and no allocation can
// take a block while its pages are being dropped. The pass reports when
// the next stage falls due.
//
// The goroutine starts on the first free into a cache (or the first slab
// page freed in a live segment), sleeps until the next stage is due (or,
// with nothing waiting, until something is), is woken early only by
// something due before that, and stops with StopScavenger; a later free
// into a cache starts it again. Release runs a pass that treats everything
// as older than the decay.
//
// The clock is a parameter of the pass, so tests drive the stages with
// made-up times instead of sleeping.

// now is the hakmem clock: monotonic nanoseconds since start.
func now() int64 { return int64(time.Since(clockBase)) }

var clockBase = time.Now()

// scavengeMinSleep bounds the pass rate: stages falling due within this
// much of each other are handled by one pass.
const scavengeMinSleep = int64(time.Millisecond)

var scav struct {
	w    worker        // the goroutine (worker.go)
	kick chan struct{} // something falls due before wakeAt; buffered, never closed
	// wakeAt is when the sleeping goroutine will run its next pass, ns on
	// the hakmem clock (math.MaxInt64: not before a kick). Written by the
	// goroutine; read by scavengerKick, which wakes it only for something
	// due earlier, so a busy BigCache does not wake it on every free.
	wakeAt atomic.Int64
	passes atomic.Uint64 // passes run (Stats.ScavengerPasses), Release's included
}

func init() {
	scav.kick = make(chan struct{}, 1)
	scav.wakeAt.Store(math.MaxInt64)
}

// scavengerKick tells the scavenger that something was cached (or a page
// freed) whose first stage falls due at time due, starting the goroutine
// if needed. It may be called under heap.mu: it never blocks.
func scavengerKick(due int64) {
	if due >= scav.wakeAt.Load() && scav.w.running.Load() {
		return // the goroutine wakes in time anyway
	}
	if !scav.w.running.Load() {
		scav.w.start(scavengerLoop)
	}
	select {
	case scav.kick <- struct{}{}:
	default:
	}
}

// StopScavenger stops hakmem's background scavenger goroutine, and
// checked mode's quarantine sweep (check_sweep.go), if they run, and waits
// until they have exited. Cached memory then stays until Release, or until
// a later free into a cache starts the scavenger again (a later checked
// free, the sweep). Tests that check for leaked goroutines (goleak and the
// like) call it before the check, or ignore hakmem.scavengerLoop and
// hakmem.checkSweepLoop.
func StopScavenger() {
	scav.w.halt()
	checkSweeper.halt()
}

func scavengerLoop(stop, done chan struct{}) {
	defer close(done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		// Until the pass is over and wakeAt is set, every kick is sent
		// (and picked up by the select below): none is lost in between.
		scav.wakeAt.Store(math.MaxInt64)
		t := now()
		next := heap.scavenge(t, false)
		shareAfterUnmap() // the Go runtime may have the unmapped bytes (sharelimit.go)
		if next < 0 {
			select {
			case <-stop:
				return
			case <-scav.kick:
				continue
			}
		}
		next = max(next, scavengeMinSleep)
		scav.wakeAt.Store(t + next)
		timer.Reset(time.Duration(next))
		select {
		case <-stop:
			timer.Stop()
			return
		case <-scav.kick: // something falls due before the timer
			timer.Stop()
		case <-timer.C:
		}
	}
}

// scavenge runs one pass at time t (now(), or a test's clock): it cools
// and unmaps cached large blocks and empty segments by age, and purges free
// pages of live segments free for longer than the decay; ended heaps'
// slabs that no heap adopted within the decay join the central lists
// (heap_orphan.go). With all, every cached thing is unmapped, every free
// page purged and every orphan settled. It returns the time
// until the next stage falls due, or -1 when nothing is waiting.
func (h *pageHeap) scavenge(t int64, all bool) (next int64) {
	scav.passes.Add(1)
	next = -1
	due := func(at int64) {
		if d := at - t; next < 0 || d < next {
			next = max(d, 0)
		}
	}
	var unmap []*segment
	var cooled, purged int // for the debug log
	config := cfg()
	// Orphans first, so that what they free is unmapped and purged by this
	// pass, and outside heap.mu: settling one may free its slab (central.mu,
	// then heap.mu, the lock order). The snapshot's fields are read under
	// heap.mu (publish).
	h.mu.Lock()
	decay := config.decayNs
	h.mu.Unlock()
	if d := settleOrphans(t, decay, all); d >= 0 {
		due(t + d)
	}
	h.mu.Lock()
	for s := h.big.lru.tail; s != nil; {
		prev := s.q[qLRU].prev
		warm, cold, decay := stageTimes(config, s.site) // the site's cache policy (bigcache.go)
		if all || t-s.freedAt >= decay {
			h.big.unlink(s)
			h.big.decayed++
			h.big.sites[s.site].decayed++
			h.dropLarge(s)
			unmap = append(unmap, s)
		} else {
			before := s.temp
			due(cool(s, t, warm, cold, decay))
			cooled += int(s.temp - before)
		}
		s = prev
	}
	for s := h.cache.tail; s != nil; {
		prev := s.q[qPrimary].prev
		if all || t-s.freedAt >= config.decayNs {
			h.cache.remove(s)
			h.segDecayed++
			h.unmapSegment(s)
		} else {
			before := s.temp
			due(cool(s, t, config.warmNs, config.coldNs, config.decayNs))
			cooled += int(s.temp - before)
		}
		s = prev
	}
	if all || h.dirtySegs > 0 {
		for _, seg := range h.buckets {
			for ; seg != nil; seg = seg.next {
				if seg.dirtyAt == 0 {
					continue
				}
				if all || t-seg.dirtyAt >= config.decayNs {
					h.purgeDirty(seg)
					purged++
				} else {
					due(seg.dirtyAt + config.decayNs)
				}
			}
		}
	}
	h.mu.Unlock()
	for _, s := range unmap {
		osUnmap(s.base, s.largeSize) // large blocks only: segments are retired (retire.go)
		freeSegment(s)
	}
	h.reapRetired(all)
	if len(unmap) > 0 || cooled > 0 || purged > 0 || all {
		attrs := []slog.Attr{slog.Bool("release", all), slog.Int("unmapped", len(unmap)), slog.Int("cooled", cooled), slog.Int("purged", purged)}
		if next >= 0 {
			attrs = append(attrs, slog.Duration("next", time.Duration(next)))
		}
		config.logAttrs(debugVerbose, "scavenger pass", attrs...)
	}
	return next
}

// cool moves a cached segment or block to the temperature its age calls
// for under the stage times warm, cold and decay (ns after the free), and
// returns when its next stage falls due (its decay at the latest). Caller
// holds heap.mu.
func cool(s *segment, t, warm, cold, decay int64) (nextAt int64) {
	age := t - s.freedAt
	if age >= cold && s.temp < tempCold {
		osFree(s.base, s.span(), true)
		s.temp = tempCold
		if s.kind == kindSmall {
			s.purged.set(0, pagesPerSegment, true) // all dropped, whoever takes it
		}
	} else if age >= warm && s.temp < tempWarm {
		osFree(s.base, s.span(), false)
		s.temp = tempWarm
	}
	nextAt = s.freedAt + decay
	if s.temp < tempCold && cold < decay {
		nextAt = min(nextAt, s.freedAt+cold)
	}
	if s.temp < tempWarm && warm < decay {
		nextAt = min(nextAt, s.freedAt+warm)
	}
	return nextAt
}

// purgeDirty drops the free pages of a live segment that a slab gave back
// since the last purge, one madvise per run. Caller holds heap.mu.
func (h *pageHeap) purgeDirty(seg *segment) {
	for i := 0; i < pagesPerSegment; {
		if !seg.dirty.get(i) || seg.used.get(i) {
			i++
			continue
		}
		j := i
		for j < pagesPerSegment && seg.dirty.get(j) && !seg.used.get(j) {
			j++
		}
		osFree(seg.base+uintptr(i)<<pageShift, uintptr(j-i)<<pageShift, true)
		seg.purged.set(i, j-i, true)
		h.pagesPurged += uint64(j - i)
		i = j
	}
	h.setClean(seg)
}

// setClean empties seg's dirty set. Caller holds heap.mu.
func (h *pageHeap) setClean(seg *segment) {
	if seg.dirtyAt != 0 {
		h.dirtySegs--
	}
	seg.dirty, seg.dirtyAt = pageSet{}, 0
}
