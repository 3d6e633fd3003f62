package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
)

// Config says what a battle runs.
type Config struct {
	Scenarios  []Scenario    // in order, parameters final
	Allocators []string      // Go adapters, in interleaving order
	Native     NativeHarness // nil: no native peers
	Runs       int           // measured runs per (scenario, allocator), >= 1
	Warmups    int           // discarded runs before them, >= 0
	Args       []string      // the command line, for the provenance
	Notes      []string      // what the caller changed in hakmem's configuration, and why (Provenance.Notes)
	// Progress, if set, is called after every run (warm-ups included)
	// with the number done, the total and a label.
	Progress func(done, total int, label string)
}

// TotalRuns is the number of runs the battle will make (for progress).
func (c *Config) TotalRuns() int {
	n := 0
	peers := 0
	if c.Native != nil {
		for _, p := range c.Native.Peers() {
			if p.Installed {
				peers++
			}
		}
	}
	for _, sc := range c.Scenarios {
		k := 0
		for _, name := range c.ScenarioAllocators(sc) {
			if supports(name, sc.Kind) {
				k++
			}
		}
		if sc.Native != "" {
			k += peers
		}
		n += k * (c.Runs + c.Warmups)
	}
	return n
}

// AllAllocators are every adapter the battle runs, each once, in the
// order they first appear in the scenarios' lists (ScenarioAllocators).
func (c *Config) AllAllocators() []string {
	var out []string
	seen := map[string]bool{}
	for _, sc := range c.Scenarios {
		for _, name := range c.ScenarioAllocators(sc) {
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out
}

// ScenarioAllocators are the Go adapters that run scenario sc: its own
// list when it has one, else the battle's.
func (c *Config) ScenarioAllocators(sc Scenario) []string {
	if len(sc.Allocators) > 0 {
		return sc.Allocators
	}
	return c.Allocators
}

// contender is one column of the interleaving: a Go adapter or a native peer.
type contender struct {
	name   string
	alloc  Allocator // nil for native peers
	native string    // the native peer's name
	entry  *Entry    // the entry being filled for the current scenario
}

// RunBattle runs the battle: per scenario, Warmups warm-up rounds then Runs
// measured rounds, each round running every contender once in the same
// order (A B C A B C ...), so that slow drifts of the machine hit all of
// them alike.
func RunBattle(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Runs < 1 {
		return nil, fmt.Errorf("runs must be at least 1, got %d", cfg.Runs)
	}
	res := &Result{
		Schema:     SchemaVersion,
		Provenance: CollectProvenance(cfg.Args),
		Settings:   Settings{Runs: cfg.Runs, Warmups: cfg.Warmups, Native: cfg.Native != nil},
	}
	res.Provenance.Notes = append([]string(nil), cfg.Notes...)
	// One contender per adapter name, shared by the scenarios that run it:
	// the battle's list first, then the names only a scenario lists.
	byName := map[string]*contender{}
	var cs []*contender
	missing := map[string]string{} // adapters whose allocator is not installed -> why
	defer func() {
		for _, c := range cs {
			if cl, ok := c.alloc.(Closer); ok {
				_ = cl.Close()
			}
		}
	}()
	for _, name := range cfg.AllAllocators() {
		c := &contender{name: name}
		a, err := NewAllocator(name)
		switch {
		case errors.Is(err, ErrNotInstalled), errors.Is(err, ErrNotBuilt):
			missing[name] = err.Error()
		case err != nil:
			return nil, err
		default:
			c.alloc = a
		}
		byName[name] = c
		cs = append(cs, c)
		res.Settings.Allocators = append(res.Settings.Allocators, name)
	}
	var natives []NativePeer
	if cfg.Native != nil {
		natives = cfg.Native.Peers()
	}

	total, done := cfg.TotalRuns(), 0
	progress := func(label string) {
		done++
		if cfg.Progress != nil {
			cfg.Progress(done, total, label)
		}
	}

	for _, sc := range cfg.Scenarios {
		sc.Params = sc.Params.Resolved(sc.Kind)
		res.Scenarios = append(res.Scenarios, sc)
		want, hasWant := ExpectedChecksum(sc.Kind, sc.Params)

		var scs []*contender
		for _, name := range cfg.ScenarioAllocators(sc) {
			scs = append(scs, byName[name])
		}
		round := make([]*contender, 0, len(scs)+len(natives))
		var entries []*Entry
		for _, c := range scs {
			c.entry = &Entry{Scenario: sc.Name, Allocator: c.name, Status: "ok", ChecksumOK: true}
			entries = append(entries, c.entry)
			if why, ok := missing[c.name]; ok {
				c.entry.Status, c.entry.Note = "not installed", why
				if strings.HasPrefix(why, ErrNotBuilt.Error()) {
					c.entry.Status = "not built"
				}
				continue
			}
			if !supports(c.name, sc.Kind) {
				c.entry.Status = "not supported"
				continue
			}
			round = append(round, c)
		}
		for _, p := range natives {
			e := &Entry{Scenario: sc.Name, Allocator: nativeName(p.Name), Native: true, Status: "ok", ChecksumOK: true}
			entries = append(entries, e)
			switch {
			case !p.Installed:
				e.Status, e.Note = "not installed", p.Lib+" not found"
			case sc.Native == "":
				e.Status = "not supported"
			default:
				round = append(round, &contender{name: e.Allocator, native: p.Name, entry: e})
			}
		}

		for i := 0; i < cfg.Warmups+cfg.Runs; i++ {
			warm := i < cfg.Warmups
			for _, c := range round {
				if c.entry.Status != "ok" {
					continue
				}
				label := fmt.Sprintf("%s/%s", sc.Name, c.name)
				var r Run
				var err error
				switch {
				case c.alloc != nil && sc.Kind == KindGCFootprint:
					r, err = runFootprint(ctx, sc, c.alloc) // one child process per point
				case c.alloc != nil:
					r, err = runGo(ctx, sc, c.alloc)
				default:
					var s NativeSample
					s, err = cfg.Native.Run(ctx, c.native, sc.Native, sc.Params.Native())
					r = nativeRun(sc.Kind, s)
				}
				progress(label)
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				if err != nil {
					c.entry.Status = "error: " + err.Error()
					continue
				}
				if warm {
					continue
				}
				if hasWant && r.Checksum != 0 && uint64(r.Checksum) != want {
					c.entry.ChecksumOK = false
				}
				c.entry.Runs = append(c.entry.Runs, r)
			}
		}
		for _, e := range entries {
			e.summarize()
			res.Entries = append(res.Entries, *e)
		}
	}
	var order []string
	for _, sc := range res.Scenarios {
		order = append(order, sc.Name)
	}
	res.Ranking = Rank(res.Entries, order)
	return res, nil
}

// settle brings the process back to a quiet state before a run: a full GC
// that also returns freed heap to the OS, then the allocator's own release.
func settle(a Allocator) {
	runtime.GC()
	debug.FreeOSMemory()
	if s, ok := a.(Settler); ok {
		s.Settle()
	}
}

// siteSeq numbers the sites of sited runs (Kind.wantsSite), so that every
// run, in every battle of the process, learns on a fresh site.
var siteSeq atomic.Uint64

// runGo makes one run of a scenario with a Go adapter and measures it. A
// panic in the allocator (on the calling goroutine) becomes an error. For a
// kind that wants sites, an adapter that can (Siter) runs on a fresh site;
// its hooks (Settle, ReadStats, AfterRun) stay with the adapter.
func runGo(ctx context.Context, sc Scenario, a Allocator) (r Run, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	settle(a)
	if ar, ok := a.(AfterRunner); ok {
		defer ar.AfterRun()
	}
	use := a
	if s, ok := a.(Siter); ok && sc.Kind.wantsSite() {
		name := fmt.Sprintf("hakmem-bench/%s/%s/%d", sc.Name, a.Name(), siteSeq.Add(1))
		if use, err = s.WithSite(name); err != nil {
			return Run{}, err
		}
	}
	method := resetPeakRSS()
	r.BaseRSS = readRSS()
	sr, hasStats := a.(StatsReader)
	var st0 *AllocatorStats
	if hasStats {
		st0 = sr.ReadStats()
	}
	var m meter
	raw, err := sc.Kind.run()(ctx, use, sc.Params, &m)
	if err != nil {
		return Run{}, err
	}
	if !m.started || !m.stopped {
		return Run{}, fmt.Errorf("scenario %s did not mark its measured phase", sc.Name)
	}
	if method != rssNone {
		r.PeakRSS = readPeakRSS()
	}
	r.RSSMethod = method
	if hasStats {
		st := sr.ReadStats().delta(st0)
		r.Allocator = &st
	}

	r.Ops = raw.ops
	r.Seconds = raw.seconds
	if r.Seconds == 0 {
		r.Seconds = m.seconds()
	}
	if r.Seconds > 0 {
		r.OpsPerSec = float64(r.Ops) / r.Seconds
	}
	if raw.lat != nil {
		ls := Summarize(raw.lat)
		r.NsMedian, r.NsP95, r.NsP99 = ls.Median, ls.P95, ls.P99
		r.NsPerOp = ls.Median
	} else if r.Ops > 0 {
		r.NsPerOp = 1e9 * r.Seconds / float64(r.Ops)
	}
	r.MinorFaults = m.after.minflt - m.before.minflt
	r.MajorFaults = m.after.majflt - m.before.majflt
	r.GCCycles = m.after.gcCycles - m.before.gcCycles
	r.GCCPUSeconds = m.after.gcCPU - m.before.gcCPU
	r.GCPauseP99 = pauseQuantile(m.before.pauses, m.after.pauses, 0.99)
	if raw.hasSum {
		r.Checksum = Hex64(raw.checksum)
	}
	r.Extra = raw.extra
	r.Series = raw.series
	r.Footprint = raw.footprint
	return r, nil
}
