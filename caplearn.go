package hakmem

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The per-class per-P cache capacity learner (issue 6; hakmem's "capacity
// learner", done globally rather than per site). The generated table
// (sizeclasses.go) gives every class a per-P cap and a batch; a program
// whose bursts of one class are larger than the cap thrashes: its P
// refills a batch from the central list on allocation and flushes one back
// on free, over and over, a lock and a batch moved each time. The learner
// watches for that and raises the cap of such a class, under a memory
// budget; it lowers a cap again when the class stays calm, or when the
// budget shrinks.
//
// Measurement, on the slow paths only. A P counts, per class, its refills
// (an allocation found its list empty and went to the central list) and
// its flushes (a free found the list over its cap and sent a batch back);
// allocSmallSlow and freeSmallSlow do the adds, the fast paths in
// malloc.go do nothing new. Hits are derived: the per-P allocs and frees
// counters minus the misses.
//
// Decision, off the allocating goroutines: the learner goroutine
// (learnerLoop) calls capTick every tick, and in live learning mode
// (HAKMEM_LEARNING=live: the Learning and Research modes) capStep closes a
// window of at least capMinWindowNs. For each class it sums over the Ps the
// window's operations and its capacity misses: per P, 2 x min(refills,
// flushes). Only a P that both refilled and flushed the class in the
// window sent blocks to the central list that it then had to fetch back,
// which a bigger cap would have avoided; a producer P only refills and a
// consumer P only flushes, and no cap can help them, so that traffic
// raises nothing. Then, per class (capState.decide):
//   - capacity hit rate 1 - capMisses/ops below the target (HAKMEM_CAP_TARGET,
//     with at least capMinOps operations): double the cap, up to the
//     class's ceiling, if the budget has room for the new cap on every P;
//     the classes missing most go first;
//   - capacity misses under a quarter of the allowed rate (or fewer than
//     capMinOps operations) for a run of calm windows: halve the cap, down
//     to the generated one. The run starts at capCalmWindows; a halving
//     that brought the misses back (a raise in the next window) doubles it,
//     up to capCalmMax, and one that held resets it. The per-P list length
//     is not visible off the P, so this probe is how the learner finds that
//     a smaller cap would do;
//   - over budget (mapped memory shrank): halve the classes that reserve
//     the most bytes first until it fits.
//
// The budget bounds what the raised caps may hold beyond the generated
// ones, counted at their worst (every P's list full): the sum over classes
// of (cap - generated cap) x block size x Ps stays at or under
// max(HAKMEM_CAP_BUDGET_MB, mapped / capBudgetDiv).
//
// Publication: the decided caps go into capLearn.target, one atomic per
// class, and capLearn.gen is bumped. A P compares its capGen with gen on
// each slow path and, when they differ, copies the targets into its own
// freeList.cap and cuts what a lowered cap leaves over, flushing it to the
// central lists after unpinning (pcache.syncCaps). freeList.cap is still
// written only by the P's owner, under pin; the learner never touches a
// P's lists. A P that takes no slow path keeps its old caps until it does
// (its lists are then not thrashing, and Release flushes them anyway).
//
// The per-P stacks are slot arrays (pcache.go), made for the caps in force
// when the cache is made; syncCaps grows a class's array when its target
// rises above it (freeList.grow, once, to capCeiling at the scale in
// force), and clamps the target to the array if that mapping fails.
// The engine's change to slot arrays and to a plain claim in Free left
// what the learner measures unchanged (refills and flushes per P and
// class, in blocks), so it was adapted, not retired: its caps are still
// counted in blocks, policy files written before load as they did, and a
// flush still costs a lock and a batch, which is what it saves.
//
// Modes: live learns and applies; frozen keeps the caps learned so far;
// off puts every class back to the generated cap (capSetMode, from
// config.go's publish).
//
// Policy files (policyfile.go): SavePolicy writes the decided caps that
// are above the generated ones (capSaved), keyed by block size; LoadPolicy
// installs a file's caps as the decided ones and publishes them like a
// window's decision (capLoad). In off mode they are only recorded: the
// generated caps stay in force until a mode with learning is set, and
// capSetMode then publishes them.
//
// Lock order: capLearn.mu is taken alone (capStep reads the mapped bytes
// under heap.mu before taking it); it guards capLearn.st. The targets and
// gen are atomics, read without a lock.

const (
	// capMaxFactor bounds a learned cap at 16 times the generated one (four
	// doublings): the generated caps were sized for ordinary bursts, and a
	// burst sixteen times larger is a working set, better served by the
	// central lists than parked per P.
	capMaxFactor = 16
	// capMaxClassBytes also bounds a learned cap at 1 MiB of blocks per
	// class per P (never below the generated cap): a quarter of the 4 MiB
	// tcmalloc allowed a whole thread cache, so no one class of one P can
	// hold more than half a segment.
	capMaxClassBytes = 1 << 20
	// capBudgetDiv: the budget is at least mapped/8. Size-class rounding
	// already may waste up to 12.5% of a block (sizeclasses.go), so the
	// learned caps may cost at most as much again, however large the heap.
	capBudgetDiv = 8
	// capMinOps: a class with fewer operations in a window (at least 50 ms,
	// so under 20,000 a second) is not raised: even if every operation
	// missed, ~150 ns a trip, it would cost the program under 0.3% of a CPU.
	capMinOps = 1000
	// capMinWindowNs is the shortest window. The learner ticks every
	// 100 ms (learnSettings.tickNs) but wakes sooner when a site's window
	// fills; 50 ms keeps such wake-ups from closing windows too short to
	// count 1000 operations of a busy class.
	capMinWindowNs = int64(50 * time.Millisecond)
	// capCalmWindows calm windows in a row let a raised cap halve (0.8 s
	// at 100 ms), so a pause in a phased program does not undo its caps.
	capCalmWindows = 8
	// capCalmMax bounds the backoff after failed halvings: one window of
	// thrash in 256 (25.6 s) costs under 0.4% of the class's time.
	capCalmMax = 256
	// capCalmDiv: a window is calm when its capacity miss rate is under a
	// quarter of the allowed rate (1 - target): comfortably above target,
	// with room for noise before a halving would be undone.
	capCalmDiv = 4
)

// capLearn is the learner's published state and its decision state.
var capLearn struct {
	// target[c] is class c's per-P cap in blocks, or 0 for the generated
	// cap. Written by capStep and capSetMode under mu; read by every P on
	// its slow path (syncCaps) and by growCaches, without a lock.
	target [numClasses]atomic.Uint32
	// gen is bumped after every change of target; a P whose capGen differs
	// applies the targets. Written under mu.
	gen atomic.Uint64

	mu sync.Mutex // guards st
	st capState   // decisions and per-P counter snapshots; guarded by mu
}

// capState is the learner's decision state. Tests make their own and call
// decide with synthetic inputs.
type capState struct {
	caps   [numClasses]uint32 // decided cap, blocks (0 until init)
	calm   [numClasses]int    // calm windows in a row
	need   [numClasses]int    // calm windows a halving needs now (capCalmWindows .. capCalmMax)
	probed [numClasses]bool   // the last decision halved the cap: a raise now means the probe failed
	init   bool               // caps and need hold the generated values

	seen   [][numClasses]capSeen // per P (by cache id): the counters at the end of the last window
	last   int64                 // clock at the end of the last window, ns
	raises uint64                // caps doubled, since start
	lowers uint64                // caps halved (calm or over budget; not capSetMode's resets)
}

// capSeen is one P's counters for one class at the end of a window.
type capSeen struct{ allocs, frees, refills, flushes uint64 }

// capInput is one class's evidence for one window, summed over the Ps.
type capInput struct {
	ops       uint64 // allocations and frees through the per-P lists
	misses    uint64 // refills and flushes
	capMisses uint64 // 2 x min(refills, flushes) of each P: the misses a bigger cap would have saved
}

// capMissCtr counts one class's slow-path trips of one P. Written by the
// P's owner (under pin) on the slow paths; read by the learner and
// ReadStats.
type capMissCtr struct {
	refills counter // allocations that refilled the list from the central list
	flushes counter // frees that flushed a batch to the central list
}

// defaultCap is class c's generated per-P cap, scaled by pcache_scale.
func defaultCap(c int, scale int) uint32 { return uint32(int(classes[c].cap) * scale / 100) }

// capCeiling is the most the learner gives class c: see capMaxFactor and
// capMaxClassBytes. A class without per-P caching (cap 0) stays at 0.
func capCeiling(c int, def uint32) uint32 {
	if def == 0 {
		return 0
	}
	return max(def, min(def*capMaxFactor, uint32(capMaxClassBytes/classes[c].size)))
}

// capOf is the cap a P should give class c now.
func capOf(c int, scale int) uint32 {
	if checkOn() { // hook: checked mode has no per-P caching (check.go)
		return 0
	}
	if t := capLearn.target[c].Load(); t != 0 {
		return t
	}
	return defaultCap(c, scale)
}

// syncCaps brings pc's caps to the published targets when they changed
// since pc last looked, and returns pc pinned: pc itself, or, when a
// lowered cap left blocks over, the cache of the P pinned after flushing
// them (the excess is cut under pin and handed to the central lists
// unpinned). Called by the slow paths with pc pinned.
//
//go:noinline
func syncCaps(pc *pcache) *pcache {
	var buf [maxBatch]uintptr
	for {
		gen := capLearn.gen.Load()
		if pc.capGen != gen {
			pc.capGen = gen
			scale := cfg().pcacheScale
			for c := range pc.lists {
				l := &pc.lists[c]
				want := capOf(c, scale)
				l.grow(c, scale, want)
				l.cap = min(want, l.max)
			}
		}
		c, k := pc.excess(buf[:])
		if k == 0 {
			return pc
		}
		unpin(pc)
		centrals[c].put(buf[:k])
		pc = pinSlow()
	}
}

// excess cuts up to len(buf) blocks from the first list of pc over its cap.
func (pc *pcache) excess(buf []uintptr) (c int, k uint32) {
	for c := range pc.lists {
		l := &pc.lists[c]
		if l.n > l.cap {
			k = min(l.n-l.cap, uint32(len(buf)))
			l.cut(buf[:k])
			pc.moved[c].out.add(uint64(k))
			return c, k
		}
	}
	return 0, 0
}

// capWake starts the learner goroutine from a refill in live learning
// mode, so that plain Alloc traffic, which never samples a site, gets its
// caps learned. One atomic load when learning is not live.
func capWake() {
	if cfg().learning == learnLive && !learner.bg.running.Load() && !learner.env.Load().manual {
		learner.bg.start(learnerLoop)
	}
}

// capTick is the learner goroutine's hook: in live mode, a window at least
// capMinWindowNs long is closed and decided.
func capTick() {
	if cfg().learning != learnLive {
		return
	}
	capLearn.mu.Lock()
	due := now()-capLearn.st.last >= capMinWindowNs
	capLearn.mu.Unlock()
	if due {
		capStep()
	}
}

// capStep closes a window now: it reads every P's counters, decides, and
// publishes the caps that changed. The first call only takes the counters'
// snapshot that starts the first window.
func capStep() {
	ensureInit()
	p := cfg()
	budget := capBudget(p, currentMapped())
	nP := len(*caches.Load())
	capLearn.mu.Lock()
	defer capLearn.mu.Unlock()
	s := &capLearn.st
	first := s.last == 0
	s.last = now()
	in := s.collect()
	if first {
		return // the counters since the start are no window: this one starts now
	}
	if s.decide(&in, p.pcacheScale, p.capTarget, nP, budget) {
		s.publish(p.pcacheScale)
	}
}

// currentMapped is Stats.MappedBytes, under heap.mu alone.
func currentMapped() uint64 {
	heap.mu.Lock()
	defer heap.mu.Unlock()
	return uint64(heap.nsegments)*segmentSize + heap.largeSize + heap.big.lru.bytes
}

// capBudget is the byte budget for learned caps: the configured floor or
// mapped/capBudgetDiv, whichever is larger.
func capBudget(p *policy, mapped uint64) uint64 {
	return max(uint64(p.capBudget), mapped/capBudgetDiv)
}

// collect reads every P's counters and returns the window's inputs, the
// counters since the last call. Caller holds capLearn.mu.
func (s *capState) collect() [numClasses]capInput {
	var in [numClasses]capInput
	cs := *caches.Load()
	for len(s.seen) < len(cs) {
		s.seen = append(s.seen, [numClasses]capSeen{})
	}
	for i, pc := range cs {
		seen := &s.seen[i]
		for c := range pc.lists {
			l := &pc.lists[c]
			cur := capSeen{allocs: l.allocs.load(), frees: l.frees.load(),
				refills: pc.misses[c].refills.load(), flushes: pc.misses[c].flushes.load()}
			prev := seen[c]
			seen[c] = cur
			r, f := cur.refills-prev.refills, cur.flushes-prev.flushes
			in[c].ops += cur.allocs - prev.allocs + cur.frees - prev.frees
			in[c].misses += r + f
			in[c].capMisses += 2 * min(r, f)
		}
	}
	return in
}

// setup gives every class its generated cap, once.
func (s *capState) setup(scale int) {
	if s.init {
		return
	}
	for c := range s.caps {
		s.caps[c] = defaultCap(c, scale)
		s.need[c] = capCalmWindows
	}
	s.init = true
}

// extra is what the caps above the generated ones reserve, worst case,
// on nP Ps, in bytes.
func (s *capState) extra(c int, scale, nP int) uint64 {
	return uint64(s.caps[c]-min(s.caps[c], defaultCap(c, scale))) * uint64(classes[c].size) * uint64(nP)
}

// decide applies one window's inputs (see the comment at the top of the
// file) and reports whether any cap changed. target is the capacity hit
// rate to reach (0 .. 1); budget is in bytes; nP is the number of Ps.
func (s *capState) decide(in *[numClasses]capInput, scale int, target float64, nP int, budget uint64) bool {
	s.setup(scale)
	changed := false
	var total uint64
	for c := range s.caps {
		total += s.extra(c, scale, nP)
	}
	// Over budget: halve the classes reserving the most, largest first.
	for total > budget {
		big := -1
		for c := range s.caps {
			if s.extra(c, scale, nP) > 0 && (big < 0 || s.extra(c, scale, nP) > s.extra(big, scale, nP)) {
				big = c
			}
		}
		if big < 0 {
			break
		}
		total -= s.extra(big, scale, nP)
		s.caps[big] = max(s.caps[big]/2, defaultCap(big, scale))
		total += s.extra(big, scale, nP)
		s.calm[big], s.probed[big] = 0, false
		s.lowers++
		changed = true
	}
	allowed := 1 - target
	var raise []int
	for c := range s.caps {
		x := &in[c]
		var rate float64
		if x.ops > 0 {
			rate = float64(x.capMisses) / float64(x.ops)
		}
		switch {
		case x.ops >= capMinOps && rate > allowed:
			s.calm[c] = 0
			if s.probed[c] { // the halving brought the misses back
				s.need[c] = min(2*s.need[c], capCalmMax)
			}
			s.probed[c] = false
			if s.caps[c] < capCeiling(c, defaultCap(c, scale)) {
				raise = append(raise, c)
			}
		case x.ops < capMinOps || rate*capCalmDiv <= allowed:
			s.calm[c]++
			if s.probed[c] && s.calm[c] >= s.need[c] { // the halving held
				s.need[c], s.probed[c] = capCalmWindows, false
			}
			def := defaultCap(c, scale)
			if s.caps[c] > def && s.calm[c] >= s.need[c] {
				total -= s.extra(c, scale, nP)
				s.caps[c] = max(s.caps[c]/2, def)
				total += s.extra(c, scale, nP)
				s.calm[c], s.probed[c] = 0, true
				s.lowers++
				changed = true
			}
		default:
			s.calm[c] = 0
		}
	}
	// The classes missing most first; each raise must fit the budget.
	rate := func(c int) float64 { return float64(in[c].capMisses) / float64(in[c].ops) }
	slices.SortStableFunc(raise, func(a, b int) int {
		switch ra, rb := rate(a), rate(b); {
		case ra > rb:
			return -1
		case ra < rb:
			return 1
		}
		return 0
	})
	for _, c := range raise {
		old := s.caps[c]
		s.caps[c] = min(2*old, capCeiling(c, defaultCap(c, scale)))
		grown := uint64(s.caps[c]-old) * uint64(classes[c].size) * uint64(nP)
		if total+grown > budget {
			s.caps[c] = old
			continue
		}
		total += grown
		s.raises++
		changed = true
	}
	return changed
}

// publish stores the decided caps as targets and bumps gen. Caller holds
// capLearn.mu.
func (s *capState) publish(scale int) {
	for c := range s.caps {
		t := s.caps[c]
		if t == defaultCap(c, scale) {
			t = 0
		}
		capLearn.target[c].Store(t)
	}
	capLearn.gen.Add(1)
}

// capSetMode applies a learning mode to the caps: off puts every class
// back to its generated cap (what was learned is forgotten); frozen and
// live keep them, and publish the caps recorded while off (LoadPolicy;
// otherwise the targets are already the decided caps and only gen moves).
// Called by publish (config.go) when the mode changes.
func capSetMode(m int) {
	capLearn.mu.Lock()
	defer capLearn.mu.Unlock()
	s := &capLearn.st
	if m != learnOff {
		if s.init {
			s.publish(cfg().pcacheScale)
		}
		return
	}
	s.init = false
	s.setup(cfg().pcacheScale)
	clear(s.calm[:])
	clear(s.probed[:])
	s.publish(cfg().pcacheScale)
}

// capSaved returns, by class, the decided caps above the generated ones
// (0 for the others), for SavePolicy. A cap is written at most at its
// ceiling, so that this run's LoadPolicy accepts what it saved even after
// pcache_scale changed.
func capSaved(scale int) [numClasses]uint32 {
	var out [numClasses]uint32
	capLearn.mu.Lock()
	defer capLearn.mu.Unlock()
	s := &capLearn.st
	if !s.init {
		return out // nothing decided: every class has its generated cap
	}
	for c, v := range s.caps {
		if def := defaultCap(c, scale); v > def {
			out[c] = min(v, capCeiling(c, def))
		}
	}
	return out
}

// capLoad installs caps (by class, blocks; 0 for the generated cap, each
// checked by LoadPolicy to lie from the generated cap to capCeiling) as
// the decided caps, with the calm runs started afresh, and publishes them
// unless learning is off (capSetMode publishes them when it is switched
// on). The mode is read under capLearn.mu: a concurrent switch's
// capSetMode runs after this and sees the new caps.
func capLoad(caps *[numClasses]uint32, scale int) {
	capLearn.mu.Lock()
	defer capLearn.mu.Unlock()
	s := &capLearn.st
	s.init = false
	s.setup(scale)
	for c, v := range caps {
		if v != 0 {
			s.caps[c] = v
		}
	}
	clear(s.calm[:])
	clear(s.probed[:])
	if cfg().learning != learnOff {
		s.publish(scale)
	}
}

// readCapStats fills the learner's part of st: per class the cap, the
// generated cap, misses and hit rate; the per-P cached bytes (pcached: per
// class, blocks), the bytes the learned caps reserve and the budget.
// ReadStats calls it after the per-class counts.
func readCapStats(st *Stats, pcached *[numClasses]int64) {
	p := cfg()
	cs := *caches.Load()
	for _, pc := range cs {
		for c := range pc.misses {
			st.Classes[c].Refills += pc.misses[c].refills.load()
			st.Classes[c].Flushes += pc.misses[c].flushes.load()
		}
	}
	for c := range st.Classes {
		x := &st.Classes[c]
		def := defaultCap(c, p.pcacheScale)
		x.DefaultCap, x.Cap = int(def), int(capOf(c, p.pcacheScale))
		if ops := x.Allocs + x.Frees; ops > 0 {
			x.HitRate = float64(ops-min(ops, x.Refills+x.Flushes)) / float64(ops)
		}
		st.PerPCachedBytes += uint64(max(pcached[c], 0)) * uint64(classes[c].size)
		st.CapExtraBytes += uint64(x.Cap-min(x.Cap, int(def))) * uint64(classes[c].size) * uint64(len(cs))
	}
	st.CapBudgetBytes = capBudget(p, st.MappedBytes)
	capLearn.mu.Lock()
	st.CapRaises, st.CapLowers = capLearn.st.raises, capLearn.st.lowers
	capLearn.mu.Unlock()
}
