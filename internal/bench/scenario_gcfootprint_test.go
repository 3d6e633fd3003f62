package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// TestMain lets this test binary serve as a gc-footprint child (the
// battle starts os.Executable again, one process per point) and as a
// learning-suite child.
func TestMain(m *testing.M) {
	if code, ok := FootprintChild(os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	if code, ok := LearningSuiteChild(os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// tinyFootprint is gc-footprint with points of 1 and 2 MiB and two
// forced cycles: a child takes a few tens of milliseconds.
func tinyFootprint(t *testing.T) Scenario {
	t.Helper()
	sc := mustScenario(t, "gc-footprint")
	sc.Params.Held, sc.Params.Cycles = []int64{1 << 20, 2 << 20}, 2
	return sc
}

// TestFootprintScenario: named only, its own allocators, --quick sizes.
func TestFootprintScenario(t *testing.T) {
	sc := mustScenario(t, "gc-footprint")
	if !sc.NamedOnly || sc.Kind != KindGCFootprint {
		t.Fatalf("gc-footprint: %+v", sc)
	}
	for _, d := range DefaultBattleScenarios() {
		if d.Kind == KindGCFootprint {
			t.Fatal("gc-footprint is in the default battle")
		}
	}
	if !slices.Equal(sc.Allocators, []string{"hakmem", "raw-mmap", "go-heap", "modernc"}) {
		t.Fatalf("allocators %v", sc.Allocators)
	}
	if err := CheckAllocators(sc.Allocators); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sc.Params.Held, []int64{512 << 20, 1 << 30, 2 << 30, 4 << 30}) {
		t.Fatalf("held %v", sc.Params.Held)
	}
	q := sc.Params.QuickFootprint()
	if !slices.Equal(q.Held, []int64{64 << 20, 128 << 20}) || slices.Equal(sc.Params.Held, q.Held) {
		t.Fatalf("quick held %v (full %v)", q.Held, sc.Params.Held)
	}
	sc.Params = q
	if s := ParamsString(sc); !strings.Contains(s, "0.0625, 0.125 GiB") || !strings.Contains(s, "--quick") {
		t.Fatalf("quick params string %q", s)
	}
	if sc.EstimateSeconds() <= 0 {
		t.Fatal("no estimate")
	}
}

// TestRawMmap: the reservation serves the blocks (16-byte aligned,
// disjoint, writable), Alloc maps more past it, Close unmaps.
func TestRawMmap(t *testing.T) {
	a, err := NewAllocator("raw-mmap")
	if err != nil {
		t.Skip(err)
	}
	r := a.(reserver)
	if err := r.Reserve(1 << 20); err != nil {
		t.Fatal(err)
	}
	var prevEnd uintptr
	var first uintptr
	for i, n := range []int{64 << 10, 256, 1, 100, 64 << 10} {
		b := a.Alloc(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("Alloc(%d): len %d cap %d", n, len(b), cap(b))
		}
		p := uintptr(unsafe.Pointer(&b[0]))
		if i == 0 {
			first = p
		}
		if p%16 != 0 || p < prevEnd {
			t.Fatalf("block %d at %#x: misaligned or overlapping the previous one (ends %#x)", i, p, prevEnd)
		}
		if p-first >= 1<<20 {
			t.Fatalf("block %d outside the reservation", i)
		}
		b[0], b[n-1] = 1, 2
		prevEnd = p + uintptr(n)
		a.Free(b) // does nothing
	}
	big := a.Alloc(2 << 20) // past the reservation: a new mapping
	big[len(big)-1] = 3
	if cl, ok := a.(Closer); !ok || cl.Close() != nil {
		t.Fatal("Close failed")
	}
}

// TestCPUPerCycle: the GC CPU delta divided by the cycles that completed.
func TestCPUPerCycle(t *testing.T) {
	b := gcReading{cycles: 10, cpu: 1.0}
	a := gcReading{cycles: 15, cpu: 1.005}
	got, n := cpuPerCycle(b, a)
	if n != 5 || got < 0.000999 || got > 0.001001 {
		t.Fatalf("cpuPerCycle = %g over %d cycles, want 1ms over 5", got, n)
	}
	if got, n := cpuPerCycle(a, a); got != 0 || n != 0 {
		t.Fatalf("no cycle: %g, %d", got, n)
	}
	pt := FootprintPoint{GCCPUPerCycle: 3e-3, BaseGCCPUPerCycle: 1e-3, ScanHeap: 10 << 20, BaseScanHeap: 1 << 20,
		LiveHeap: 1 << 20, BaseLiveHeap: 2 << 20, Cycles: 5}
	if pt.GCCPUGrowth() != 2e-3 || pt.ScanGrowth() != 9<<20 || pt.LiveGrowth() != -(1<<20) || !pt.Measured() {
		t.Fatalf("growths %g %g %g", pt.GCCPUGrowth(), pt.ScanGrowth(), pt.LiveGrowth())
	}
	// The real metrics: forced cycles are counted.
	before, after := forceGC(2)
	if _, n := cpuPerCycle(before, after); n < 2 {
		t.Fatalf("forceGC(2) completed %d cycles", n)
	}
}

// TestFootprintSkip: the RSS estimate and the half-of-physical-memory rule.
func TestFootprintSkip(t *testing.T) {
	p := footprintParams(footprintHeld)
	// 1 GiB off-heap: 16384 first pages (64 MiB) + 128 MiB of small blocks.
	if got := footprintRSSEstimate(p, 1<<30, false); got != 192<<20 {
		t.Fatalf("off-heap estimate %d", got)
	}
	if got := footprintRSSEstimate(p, 1<<30, true); got != 1<<30+128<<20 {
		t.Fatalf("go-heap estimate %d", got)
	}
	limit := int64(12 << 30) // a 24 GiB machine
	if why := footprintSkip(p, 4<<30, true, limit); why != "" {
		t.Fatalf("4 GiB of Go heap skipped on 24 GiB: %s", why)
	}
	if why := footprintSkip(p, 4<<30, true, 2<<30); !strings.Contains(why, "half the physical memory") {
		t.Fatalf("4 GiB of Go heap on 4 GiB of memory: %q", why)
	}
	if why := footprintSkip(p, 4<<30, false, 2<<30); why != "" {
		t.Fatalf("4 GiB off-heap (768 MiB RSS) skipped with a 2 GiB limit: %s", why)
	}
	if why := footprintSkip(p, 4<<30, true, 0); !strings.Contains(why, "capped") {
		t.Fatalf("unknown memory, 4 GiB of Go heap: %q", why)
	}
	if why := footprintSkip(p, 2<<30, true, 0); why != "" {
		t.Fatalf("unknown memory, 2 GiB of Go heap: %q", why)
	}
	if got := memTotal([]byte("MemTotal:       24609152 kB\nMemFree:  1 kB\n")); got != 24609152<<10 {
		t.Fatalf("memTotal %d", got)
	}
}

// TestHoldBlocks: the counts, the interleaving and the touch.
func TestHoldBlocks(t *testing.T) {
	p := footprintParams([]int64{1 << 20})
	kept, n, err := holdBlocks(context.Background(), goHeapAlloc{}, p, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	// 16 blocks of 64 KiB, 512 of 256 B (128 KiB), 32 after each large one.
	if n != 16+512 || len(kept) != int(n) {
		t.Fatalf("%d blocks, %d kept", n, len(kept))
	}
	if len(kept[0]) != 64<<10 || len(kept[1]) != 256 || len(kept[33]) != 64<<10 || kept[0][0] != 1 || kept[1][0] != 1 {
		t.Fatal("blocks not interleaved or not touched")
	}
	if kept, _, _ := holdBlocks(context.Background(), goHeapAlloc{}, p, 1<<20, false); kept != nil {
		t.Fatal("kept without keep")
	}
}

// TestFootprintChildProtocol: a child measures a point and prints it; the
// parent reads it; a missing or bad line is an error.
func TestFootprintChildProtocol(t *testing.T) {
	if runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no processes")
	}
	sc := tinyFootprint(t)
	exe, err := footprintExe()
	if err != nil {
		t.Fatal(err)
	}
	pt, err := startChild(context.Background(), exe, footprintSpec{Allocator: "go-heap", Held: 2 << 20, Params: sc.Params})
	if err != nil {
		t.Fatal(err)
	}
	if !pt.Measured() || pt.HeldBytes != 2<<20 || pt.Cycles < 2 || pt.Blocks != 32+1024 {
		t.Fatalf("point %+v", pt)
	}
	if pt.LiveGrowth() < 2<<20 {
		t.Fatalf("go-heap holding 2.25 MiB: live heap grew %.0f B", pt.LiveGrowth())
	}
	if _, err := startChild(context.Background(), exe, footprintSpec{Allocator: "nosuch", Held: 1 << 20, Params: sc.Params}); err == nil ||
		!strings.Contains(err.Error(), "unknown allocator") {
		t.Fatalf("unknown allocator in a child: %v", err)
	}
	if _, err := parseChildOutput([]byte("hello\n")); err == nil {
		t.Fatal("no result line accepted")
	}
	if _, err := parseChildOutput([]byte(footprintMarker + "{bad\n")); err == nil {
		t.Fatal("bad result line accepted")
	}
	var out, errs bytes.Buffer
	if _, ok := FootprintChild(&out, &errs); ok {
		t.Fatal("this process is not a child")
	}
	// A run whose children all fail has no point: an error; the points
	// say why.
	if _, err := runFootprint(context.Background(), sc, namedAlloc{goAlloc{}, "nosuch"}); err == nil {
		t.Fatal("a run with every child failing succeeded")
	}
	if got := childReason("runtime/cgo: pthread_create failed: Resource temporarily unavailable\nSIGABRT: abort\n"); !strings.Contains(got, "pthread_create") ||
		!strings.Contains(got, "max_map_count") {
		t.Fatalf("childReason: %q", got)
	}
	if got := childReason("noise\ngc-footprint child: modernc, 4.00 GiB: boom\n"); got != ": gc-footprint child: modernc, 4.00 GiB: boom" {
		t.Fatalf("childReason: %q", got)
	}
	if childReason("") != "" {
		t.Fatal("childReason of nothing")
	}
}

// namedAlloc renames an adapter (a child is started by name).
type namedAlloc struct {
	Allocator
	name string
}

func (n namedAlloc) Name() string { return n.name }

// TestFootprintBattle runs gc-footprint, tiny, through the battle: every
// allocator measured in children, go-heap's heap grows and the off-heap
// ones' does not; raw-mmap and go-heap are "not supported" elsewhere.
func TestFootprintBattle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 8 child processes")
	}
	sc := tinyFootprint(t)
	js := tiny(mustScenario(t, "json"))
	res, err := RunBattle(context.Background(), Config{Scenarios: []Scenario{sc, js},
		Allocators: []string{"hakmem", "raw-mmap", "go-heap", "modernc"}, Runs: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hakmem", "raw-mmap", "go-heap", "modernc"} {
		e := res.Lookup("gc-footprint", name)
		if e == nil || e.Status != "ok" || len(e.Runs) != 1 || len(e.Runs[0].Footprint) != 2 {
			t.Fatalf("%s: %+v", name, e)
		}
		r := e.Runs[0]
		if r.NsPerOp <= 0 || r.GCCycles < 2 || r.RSSMethod != "child" || r.Extra["held_bytes"] != 2<<20 {
			t.Fatalf("%s: run %+v", name, r)
		}
		growth := r.Footprint[1].LiveGrowth()
		t.Logf("%s: live heap +%.0f B, scan heap +%.0f B, GC CPU/cycle %.0f ns", name, growth, r.Footprint[1].ScanGrowth(), r.NsPerOp)
		switch name {
		case "go-heap":
			if growth < 2<<20 {
				t.Fatalf("go-heap holding 2.25 MiB: live heap +%.0f B", growth)
			}
		case "raw-mmap":
			if growth > 256<<10 {
				t.Fatalf("raw-mmap: live heap +%.0f B", growth)
			}
		}
	}
	for _, name := range []string{"raw-mmap", "go-heap"} {
		if e := res.Lookup("json", name); e == nil || e.Status != "not supported" {
			t.Fatalf("json/%s: %+v", name, e)
		}
	}
	if e := res.Lookup("json", "hakmem"); e == nil || e.Status != "ok" {
		t.Fatalf("json/hakmem: %+v", e)
	}

	var table, html, js2 bytes.Buffer
	if err := WriteTable(&table, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{footprintTitle, "GiB held", "GC CPU/cycle", "vs empty", "go-heap", "0.001953"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if err := WriteHTML(&html, res); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(html.String(), "<svg"); n < 3 { // two footprint charts + json's bars
		t.Errorf("%d charts in the report", n)
	}
	if err := res.WriteJSON(&js2); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(js2.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if e := back.Lookup("gc-footprint", "hakmem"); e == nil || len(e.Runs[0].Footprint) != 2 || e.Runs[0].Footprint[1].Cycles < 2 {
		t.Fatalf("JSON round trip lost the points: %+v", e)
	}
}

// TestFootprintOutputs renders a synthetic result: a skipped point is
// named in the table and the HTML, the chart has a line per allocator.
func TestFootprintOutputs(t *testing.T) {
	sc := mustScenario(t, "gc-footprint")
	r := &Result{Schema: SchemaVersion, Settings: Settings{Runs: 1}, Scenarios: []Scenario{sc}}
	mk := func(alloc string, perGiB float64, skipLast bool) Entry {
		var pts []FootprintPoint
		for i, h := range sc.Params.Held {
			g := float64(h) / (1 << 30)
			pt := FootprintPoint{HeldBytes: h, Cycles: 5, BaseGCCPUPerCycle: 300e-6, GCCPUPerCycle: 300e-6 + perGiB*g,
				BaseScanHeap: 200 << 10, ScanHeap: 200<<10 + uint64(6<<20*g), BaseLiveHeap: 400 << 10, LiveHeap: 400<<10 + uint64(6<<20*g),
				RSS: uint64(h / 5)}
			if skipLast && i == len(sc.Params.Held)-1 {
				pt = FootprintPoint{HeldBytes: h, Skipped: "skipped: would need ~4.50 GiB RSS, over half the physical memory (4.00 GiB)"}
			}
			pts = append(pts, pt)
		}
		run, err := footprintRun(pts)
		if err != nil {
			t.Fatal(err)
		}
		e := Entry{Scenario: sc.Name, Allocator: alloc, Status: "ok", ChecksumOK: true, Runs: []Run{run}}
		e.summarize()
		return e
	}
	mc := mk("modernc", 0, false)
	failed := append([]FootprintPoint(nil), mc.Runs[0].Footprint...)
	failed[3] = FootprintPoint{HeldBytes: failed[3].HeldBytes, Error: "child exit status 2: runtime/cgo: pthread_create failed"}
	run2, err := footprintRun(failed)
	if err != nil {
		t.Fatal(err)
	}
	mc.Runs = append(mc.Runs, run2)
	r.Entries = []Entry{mk("hakmem", 2e-3, false), mk("go-heap", 20e-3, true), mc,
		{Scenario: sc.Name, Allocator: "raw-mmap", Status: "not installed", ChecksumOK: true}}
	var table, html bytes.Buffer
	if err := WriteTable(&table, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{footprintTitle, "hakmem", "+24.0 MiB", "+8.0ms", "go-heap", "half the physical memory", "not installed",
		"failed in 1 of 2 run(s), medians of the others: child exit status 2"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if err := WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "GiB held", "GC CPU per forced cycle", "hakmem", "go-heap", "half the physical memory"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	// go-heap's primary figure is its largest measured point (2 GiB).
	if e := r.Lookup(sc.Name, "go-heap"); e.Runs[0].Extra["held_bytes"] != 2<<30 {
		t.Fatalf("go-heap's run stands for %v bytes", e.Runs[0].Extra["held_bytes"])
	}
	if a := footprintPoints(r.Lookup(sc.Name, "modernc")); a[3].N != 1 || a[3].Fails != 1 || a[2].N != 2 {
		t.Fatalf("modernc's points %+v", a)
	}
	if _, err := footprintRun([]FootprintPoint{{HeldBytes: 1, Skipped: "x"}}); err == nil {
		t.Fatal("a run with no point measured")
	}
}
