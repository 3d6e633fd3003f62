package hakmem

import (
	"fmt"
	"io"
	"sort"
)

// The leak report: the blocks the program holds, grouped by where they
// were allocated. In checked mode every block has a record (check_rec.go)
// with its allocating caller, and a sampled one its stack: the report is
// exact. Otherwise it comes from the heap profile's live samples
// (heapprof.go), scaled: an estimate, and a block no sample fell on is
// not named. The counts that tell whether anything leaked are exact in
// every mode (Stats.LiveBlocks, Stats.LiveBytes; package hakmemtest
// compares them), the stacks only name the leaks.

// Leak is one group of live blocks with the same allocating stack.
type Leak struct {
	// Stack is the allocating stack (hakmem's frames left out), or, for a
	// checked block without a sampled stack, the allocating call alone.
	Stack []uintptr
	// Blocks and Bytes (lengths asked for) are exact when Exact, else
	// estimated from the profile's samples.
	Blocks, Bytes int64
	Exact         bool
}

// Leaks returns the live blocks grouped by allocating stack, the most
// bytes first: a snapshot, best taken when no goroutine allocates.
func Leaks() []Leak {
	ensureInit()
	groups := map[string]*Leak{}
	add := func(stack []uintptr, blocks, bytes int64, exact bool) {
		key := fmt.Sprint(exact, stack)
		g := groups[key]
		if g == nil {
			g = &Leak{Stack: stack, Exact: exact}
			groups[key] = g
		}
		g.Blocks += blocks
		g.Bytes += bytes
	}
	if checkOn() {
		stacks := map[uint32][]uintptr{}
		forEachLiveRec(func(r *checkRec) {
			if r.astk != 0 {
				s, ok := stacks[r.astk]
				if !ok {
					s = stackTab.stack(r.astk)
					stacks[r.astk] = s
				}
				add(s, 1, int64(r.size), true)
				return
			}
			add([]uintptr{r.apc}, 1, int64(r.size), true)
		})
	}
	for _, s := range heapSamples() {
		if s.values[2] > 0 {
			add(s.stack, s.values[2], s.values[3], false)
		}
	}
	out := make([]Leak, 0, len(groups))
	for _, g := range groups {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return fmt.Sprint(out[i].Stack) < fmt.Sprint(out[j].Stack)
	})
	return out
}

// WriteLeaks writes Leaks for people: one group per paragraph, its counts
// and its stack.
func WriteLeaks(w io.Writer) error {
	return writeLeaks(w, Leaks())
}

func writeLeaks(w io.Writer, leaks []Leak) error {
	for _, l := range leaks {
		how := "exact, checked mode"
		if !l.Exact {
			how = "estimated from heap profile samples"
		}
		if _, err := fmt.Fprintf(w, "%d bytes in %d blocks (%s) allocated at\n%s\n", l.Bytes, l.Blocks, how, stackString(l.Stack, "\t")); err != nil {
			return err
		}
	}
	return nil
}

// forEachLiveRec calls f with the record of every live checked block (not
// guarded ones'... every record in state recLive). Records are read
// without locks: a block allocated or freed meanwhile may be missed or
// seen.
func forEachLiveRec(f func(*checkRec)) {
	recMu.Lock()
	var chunks []uintptr
	for i := range recDir {
		leaf := recDir[i].Load()
		if leaf == nil {
			continue
		}
		for j := range leaf {
			if leaf[j].Load() != 0 {
				chunks = append(chunks, (uintptr(i)<<regL2Bits|uintptr(j))<<segmentShift)
			}
		}
	}
	recMu.Unlock()
	for _, base := range chunks {
		// Only the records of the chunk's blocks now: a slab's are
		// contiguous, the rest of the array is never touched.
		seg := regLookup(base)
		if seg == nil || seg.base != base {
			continue
		}
		switch seg.kind {
		case kindLarge:
			if r := recFor(base); r != nil && r.state.Load() == recLive {
				f(r)
			}
		case kindSmall:
			for pg := range seg.pages {
				s := seg.pages[pg]
				if s == nil || s.base != base+uintptr(pg)<<pageShift {
					continue // a free page, or not a slab's first
				}
				for i := uintptr(0); i < uintptr(s.nblocks); i++ {
					if r := recFor(s.base + i*s.size); r != nil && r.state.Load() == recLive {
						f(r)
					}
				}
			}
		}
	}
}

// liveCounts is Stats.LiveBlocks and LiveBytes: in checked mode its own
// counts, else the engine's blocks in use (small and large) and the
// sampled blocks of the heap profile.
func liveCounts(st *Stats) {
	prof.mu.Lock()
	sblocks, sbytes := prof.smallBlocks, prof.smallBytes
	prof.mu.Unlock()
	if cfg().check {
		st.LiveBlocks, st.LiveBytes = sblocks, sbytes
		for i := range chk.shards {
			sh := &chk.shards[i]
			sh.mu.Lock()
			st.LiveBlocks += sh.liveBlocks
			st.LiveBytes += sh.liveBytes
			sh.mu.Unlock()
		}
		for _, pc := range *caches.Load() { // blocks allocated from the per-P free stacks (checkTake)
			st.LiveBlocks += int64(pc.chkLiveBlocks.load())
			st.LiveBytes += int64(pc.chkLiveBytes.load())
		}
		return
	}
	var n int64
	for _, c := range st.Classes {
		n += int64(c.InUse) // sampled blocks included (profileStats)
	}
	st.LiveBlocks = n + int64(st.LargeBlocks)
	st.LiveBytes = int64(st.InUseBytes)
}
