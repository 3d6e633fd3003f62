package bench

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// recorder wraps an allocator: it counts allocations and frees, checks that
// every freed slice was handed out and is freed once, and can record the
// sequence of sizes asked for.
type recorder struct {
	Allocator
	allocs, frees atomic.Int64
	mu            sync.Mutex
	live          map[*byte]int // first byte -> size, guarded by mu
	sizes         []int         // requested sizes in order (single-goroutine scenarios), guarded by mu
	bad           []string      // misuse seen, guarded by mu
}

func newRecorder(a Allocator) *recorder { return &recorder{Allocator: a, live: map[*byte]int{}} }

func (r *recorder) Alloc(n int) []byte {
	b := r.Allocator.Alloc(n)
	r.allocs.Add(1)
	r.mu.Lock()
	r.live[&b[0]] = n
	r.sizes = append(r.sizes, n)
	r.mu.Unlock()
	return b
}

func (r *recorder) Free(b []byte) {
	r.mu.Lock()
	if n, ok := r.live[&b[0]]; !ok || n != len(b) {
		r.bad = append(r.bad, "free of a block not live or with another length")
	}
	delete(r.live, &b[0])
	r.mu.Unlock()
	r.frees.Add(1)
	r.Allocator.Free(b)
}

// tiny shrinks a scenario's parameters so that every kind runs in a few
// milliseconds (and under the race detector).
func tiny(sc Scenario) Scenario {
	p := &sc.Params
	switch sc.Kind {
	case KindBlocks:
		p.Iterations = min(p.Iterations, 20)
	case KindLarson:
		p.Seconds, p.Chunks, p.Rounds = 0.02, 200, 2
	case KindRandomMixed:
		p.Steps = 2000
	case KindXmalloc:
		p.Seconds = 0.02
	case KindGCPressure:
		*p = p.WithLive(1 << 20)
	case KindLearning:
		p.Steps, p.Window = 2000, 500
	case KindGCFootprint:
		p.Held, p.Cycles = []int64{1 << 20}, 2
	}
	sc.Params = p.Resolved(sc.Kind)
	return sc
}

// TestScenariosRunOnEveryAdapter runs every scenario, shrunk, on every
// adapter through a recorder: all blocks are freed exactly once, ops are
// counted, and the measured phase is marked.
func TestScenariosRunOnEveryAdapter(t *testing.T) {
	for _, sc := range Scenarios() {
		sc := tiny(sc)
		for _, name := range AllocatorNames() {
			t.Run(sc.Name+"/"+name, func(t *testing.T) {
				a := newOrSkip(t, name)
				if cl, ok := a.(Closer); ok {
					defer cl.Close()
				}
				rec := newRecorder(a)
				var m meter
				raw, err := sc.Kind.run()(context.Background(), rec, sc.Params, &m)
				if err != nil {
					t.Fatal(err)
				}
				if !m.started || !m.stopped {
					t.Fatal("measured phase not marked")
				}
				if raw.ops == 0 {
					t.Fatal("no ops counted")
				}
				if got, want := rec.allocs.Load(), rec.frees.Load(); got != want || len(rec.live) != 0 {
					t.Fatalf("%d allocs, %d frees, %d blocks still live", got, want, len(rec.live))
				}
				if len(rec.bad) > 0 {
					t.Fatal(rec.bad[0])
				}
			})
		}
	}
}

// TestDeterminism: the same seed gives the same operation sequence, another
// seed a different one, and the run's checksum is the one computed from the
// PRNG alone.
func TestDeterminism(t *testing.T) {
	sc, _ := LookupScenario("random-mixed-400")
	sc.Params.Steps = 20000
	run := func(seed uint64) ([]int, uint64) {
		p := sc.Params
		p.Seed = seed
		rec := newRecorder(goAlloc{})
		var m meter
		raw, err := runRandomMixed(context.Background(), rec, p, &m)
		if err != nil || !raw.hasSum {
			t.Fatalf("run: %v (checksum %v)", err, raw.hasSum)
		}
		return rec.sizes, raw.checksum
	}
	s1, c1 := run(4141)
	s2, c2 := run(4141)
	s3, c3 := run(4142)
	if !slices.Equal(s1, s2) || c1 != c2 {
		t.Fatal("same seed, different operation sequences")
	}
	if slices.Equal(s1, s3) || c1 == c3 {
		t.Fatal("different seeds, same operation sequence")
	}
	if c1 != wantRandomMixed400 {
		t.Fatalf("run checksum %#x, spec checksum %#x", c1, uint64(wantRandomMixed400))
	}

	// larson: worker 0's checksum from a real (multi-goroutine) run.
	lsc, _ := LookupScenario("larson")
	p := lsc.Params.Resolved(lsc.Kind)
	p.Rounds = 1     // a successor takes over after every 5000 steps
	p.Seconds = 0.15 // worker 0 needs 5000 steps (10,000 ops with the fill)
	var m meter
	raw, err := runLarson(context.Background(), syncPoolFresh(), p, &m)
	if err != nil {
		t.Fatal(err)
	}
	if !raw.hasSum {
		t.Skip("larson worker 0 made fewer than 5000 steps (slow machine or race detector)")
	}
	if raw.checksum != wantLarsonChecksum {
		t.Fatalf("larson run checksum %#x, spec %#x", raw.checksum, uint64(wantLarsonChecksum))
	}
}

func syncPoolFresh() Allocator { return &syncPoolAlloc{} }

// TestRunGoMeasures checks that runGo fills the measurements.
func TestRunGoMeasures(t *testing.T) {
	sc := tiny(mustScenario(t, "json"))
	r, err := runGo(context.Background(), sc, goAlloc{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops != 20 || r.NsPerOp <= 0 || r.NsMedian != r.NsPerOp || r.Seconds <= 0 || r.OpsPerSec <= 0 {
		t.Fatalf("bad run: %+v", r)
	}
	if r.RSSMethod != rssNone && r.PeakRSS == 0 {
		t.Fatalf("peak RSS missing with method %s", r.RSSMethod)
	}
}

func mustScenario(t *testing.T, name string) Scenario {
	t.Helper()
	sc, err := LookupScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestCancel: a cancelled context stops a timed scenario with an error.
func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sc := mustScenario(t, "larson")
	p := sc.Params.Resolved(sc.Kind)
	p.Seconds = 5
	var m meter
	if _, err := runLarson(ctx, goAlloc{}, p, &m); err == nil {
		t.Fatal("cancelled larson returned no error")
	}
}

// strandingAlloc models the failure xmalloc exists to expose: frees land in
// a cache the allocating side never sees, so memory is never reused.
type strandingAlloc struct {
	mu       sync.Mutex
	stranded [][]byte // guarded by mu; kept alive on purpose
}

func (*strandingAlloc) Name() string { return "stranding" }
func (*strandingAlloc) Alloc(n int) []byte {
	b := make([]byte, n)
	touchEnds(b)
	return b
}
func (s *strandingAlloc) Free(b []byte) {
	s.mu.Lock()
	s.stranded = append(s.stranded, b)
	s.mu.Unlock()
}

// TestXmallocShowsGrowth: an allocator that strands the consumers' frees
// shows RSS growth many times larger than a well-behaved one.
func TestXmallocShowsGrowth(t *testing.T) {
	if testing.Short() {
		t.Skip("measures RSS over 0.2 s")
	}
	if readRSS() == 0 {
		t.Skip("no /proc/self/status")
	}
	sc := mustScenario(t, "xmalloc")
	p := sc.Params.Resolved(sc.Kind)
	p.Seconds = 0.2
	growth := func(a Allocator) float64 {
		var m meter
		raw, err := runXmalloc(context.Background(), a, p, &m)
		if err != nil {
			t.Fatal(err)
		}
		return raw.extra["rss_growth_bytes"]
	}
	bad := growth(&strandingAlloc{})
	good := growth(&syncPoolAlloc{})
	t.Logf("RSS growth: stranding %.0f B, syncpool %.0f B", bad, good)
	if bad < 8<<20 || bad < 8*good {
		t.Fatalf("stranding allocator grew %.0f B (syncpool %.0f B): growth not exposed", bad, good)
	}
}
