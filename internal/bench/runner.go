package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Config says what a battle runs.
type Config struct {
	Scenarios  []Scenario    // in order, parameters final
	Allocators []string      // Go adapters, in interleaving order
	Native     NativeHarness // nil: no native peers
	Runs       int           // measured runs per (scenario, allocator), >= 1
	Warmups    int           // discarded runs before them, >= 0
	Args       []string      // the command line, for the provenance
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
		k := len(c.Allocators)
		if sc.Native != "" {
			k += peers
		}
		n += k * (c.Runs + c.Warmups)
	}
	return n
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
		Settings:   Settings{Runs: cfg.Runs, Warmups: cfg.Warmups, Allocators: cfg.Allocators, Native: cfg.Native != nil},
	}
	var cs []*contender
	missing := map[string]string{} // adapters whose allocator is not installed -> why
	for _, name := range cfg.Allocators {
		a, err := NewAllocator(name)
		if errors.Is(err, ErrNotInstalled) {
			missing[name] = err.Error()
			cs = append(cs, &contender{name: name})
			continue
		}
		if err != nil {
			return nil, err
		}
		cs = append(cs, &contender{name: name, alloc: a})
	}
	defer func() {
		for _, c := range cs {
			if cl, ok := c.alloc.(Closer); ok {
				_ = cl.Close()
			}
		}
	}()
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

		round := make([]*contender, 0, len(cs)+len(natives))
		var entries []*Entry
		for _, c := range cs {
			c.entry = &Entry{Scenario: sc.Name, Allocator: c.name, Status: "ok", ChecksumOK: true}
			entries = append(entries, c.entry)
			if why, ok := missing[c.name]; ok {
				c.entry.Status, c.entry.Note = "not installed", why
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
				if c.alloc != nil {
					r, err = runGo(ctx, sc, c.alloc)
				} else {
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

// runGo makes one run of a scenario with a Go adapter and measures it. A
// panic in the allocator (on the calling goroutine) becomes an error.
func runGo(ctx context.Context, sc Scenario, a Allocator) (r Run, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	settle(a)
	method := resetPeakRSS()
	r.BaseRSS = readRSS()
	sr, hasStats := a.(StatsReader)
	var st0 *AllocatorStats
	if hasStats {
		st0 = sr.ReadStats()
	}
	var m meter
	raw, err := sc.Kind.run()(ctx, a, sc.Params, &m)
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
	return r, nil
}
