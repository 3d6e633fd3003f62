package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"time"
)

// gc-footprint: what memory held in an allocator costs the Go garbage
// collector, against the amount held. For every allocator and every point
// of Params.Held, a fresh child process (footprint_child.go):
//
//  1. settles (as before every run), then forces Cycles GC cycles and reads
//     the baseline: GC CPU per forced cycle, the scannable heap and the
//     live heap of the process holding nothing;
//  2. allocates the point: Held bytes in LiveBlock-byte blocks (64 KiB),
//     and for realism Held/SmallDiv bytes in SmallBlock-byte blocks (1/8 in
//     256 B), interleaved, the first byte of each block touched so that it
//     is really mapped (64 KiB blocks touched at their first page only:
//     4 GiB of them is 256 MiB of RSS);
//  3. forces one GC (so that the allocation's own cycles are over), then
//     Cycles more, and reads the same figures again.
//
// An off-heap allocator's blocks are not referenced from the Go heap (the
// child never frees them: it exits); a Go-heap adapter's blocks are kept in
// a [][]byte, without which the collector would free them: that index is
// part of what holding memory on the Go heap costs.
//
// Each point runs in its own process so that no GC state (heap goal, spans,
// hakmem's metadata) leaks from one point or allocator to the next.

// The gc-footprint defaults.
const (
	footprintBlock      = 64 << 10 // the held blocks
	footprintSmallBlock = 256      // the realism blocks
	footprintSmallDiv   = 8        // Held/8 bytes in SmallBlock blocks
	footprintCycles     = 5        // forced GC cycles per measurement
	// footprintGoHeapCap caps the Go-heap adapters' points when the
	// physical memory is unknown (no /proc/meminfo).
	footprintGoHeapCap = 2 << 30
)

var (
	// footprintHeld are the points of a full run: 0.5, 1, 2, 4 GiB.
	footprintHeld = []int64{512 << 20, 1 << 30, 2 << 30, 4 << 30}
	// footprintQuickHeld are the points of a --quick run.
	footprintQuickHeld = []int64{64 << 20, 128 << 20}
	// footprintAllocators are the scenario's own entries: hakmem, an mmap
	// reference that has no metadata at all, the Go heap, and
	// modernc.org/memory.
	footprintAllocators = []string{"hakmem", "raw-mmap", "go-heap", "modernc"}
)

// footprintParams are gc-footprint's parameters with the given points.
func footprintParams(held []int64) Params {
	return Params{Held: append([]int64(nil), held...), LiveBlock: footprintBlock,
		SmallBlock: footprintSmallBlock, SmallDiv: footprintSmallDiv, Cycles: footprintCycles}
}

// QuickFootprint returns p with gc-footprint's smaller --quick points (64
// and 128 MiB instead of 0.5, 1, 2 and 4 GiB).
func (p Params) QuickFootprint() Params {
	p.Held = append([]int64(nil), footprintQuickHeld...)
	return p
}

// footprintEstimate guesses one run (a sweep over the points, one child
// each) in seconds: ~0.1 s to start and settle a child, ~0.8 s per GiB
// held to allocate, touch, mark and unmap (measured on the 2-core VM: 6.4 s
// for the 7.5 GiB of a full run).
func footprintEstimate(p Params) float64 {
	s := 0.0
	for _, h := range p.Held {
		s += 0.1 + 0.8*float64(h)/(1<<30)
	}
	return s
}

// FootprintPoint is one point of a gc-footprint run: what one child
// process measured before and after taking HeldBytes (Run.Footprint).
type FootprintPoint struct {
	// HeldBytes is the point: bytes held in Block-byte blocks; the child
	// also holds SmallBytes in SmallBlock-byte blocks.
	HeldBytes  int64 `json:"held_bytes"`
	SmallBytes int64 `json:"small_bytes,omitempty"`
	Blocks     int64 `json:"blocks,omitempty"` // blocks allocated, both sizes
	// Skipped says why the point was not measured ("" when it was); Error
	// why its child failed (the point is then not measured either).
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
	// Cycles is the number of forced GC cycles measured after the
	// allocation (runtime/metrics /gc/cycles/total delta).
	Cycles int `json:"cycles,omitempty"`
	// GCCPUPerCycle and BaseGCCPUPerCycle: /cpu/classes/gc/total:cpu-seconds
	// over the forced cycles divided by their number, holding the point
	// and holding nothing (the same process before it allocated), seconds.
	GCCPUPerCycle     float64 `json:"gc_cpu_per_cycle_s,omitempty"`
	BaseGCCPUPerCycle float64 `json:"base_gc_cpu_per_cycle_s,omitempty"`
	// CyclesSeconds is the wall time of the forced cycles after the
	// allocation.
	CyclesSeconds float64 `json:"cycles_seconds,omitempty"`
	// ScanHeap and BaseScanHeap: /gc/scan/heap:bytes after the cycles,
	// holding the point and holding nothing; LiveHeap and BaseLiveHeap
	// the same for /gc/heap/live:bytes.
	ScanHeap     uint64 `json:"scan_heap_bytes,omitempty"`
	BaseScanHeap uint64 `json:"base_scan_heap_bytes,omitempty"`
	LiveHeap     uint64 `json:"live_heap_bytes,omitempty"`
	BaseLiveHeap uint64 `json:"base_live_heap_bytes,omitempty"`
	// RSS and BaseRSS: the child's VmRSS after the cycles and before the
	// allocation; PeakRSS its VmHWM at the end.
	RSS     uint64 `json:"rss_bytes,omitempty"`
	BaseRSS uint64 `json:"base_rss_bytes,omitempty"`
	PeakRSS uint64 `json:"peak_rss_bytes,omitempty"`
	// HoldSeconds is the time taken to allocate and touch the blocks.
	HoldSeconds float64 `json:"hold_seconds,omitempty"`
	// Mappings is the number of the child's memory mappings holding the
	// point (lines of /proc/self/maps; 0 when unknown): an allocator with
	// one mapping per block meets vm.max_map_count (65530 by default).
	Mappings int `json:"mappings,omitempty"`
}

// Measured reports whether the point was measured (not skipped).
func (pt FootprintPoint) Measured() bool { return pt.Skipped == "" && pt.Error == "" && pt.Cycles > 0 }

// GCCPUGrowth is the GC CPU per forced cycle added by holding the point.
func (pt FootprintPoint) GCCPUGrowth() float64 { return pt.GCCPUPerCycle - pt.BaseGCCPUPerCycle }

// ScanGrowth is the scannable heap added by holding the point, bytes (may
// be negative by a little: the runtime's own buffers vary).
func (pt FootprintPoint) ScanGrowth() float64 { return float64(pt.ScanHeap) - float64(pt.BaseScanHeap) }

// LiveGrowth is the live heap added by holding the point, bytes.
func (pt FootprintPoint) LiveGrowth() float64 { return float64(pt.LiveHeap) - float64(pt.BaseLiveHeap) }

// The runtime/metrics gc-footprint reads.
const (
	metricScanHeap = "/gc/scan/heap:bytes"
	metricLiveHeap = "/gc/heap/live:bytes"
)

// gcReading is the collector's state at one instant.
type gcReading struct {
	cycles   uint64  // completed GC cycles
	cpu      float64 // GC CPU seconds so far
	scanHeap uint64  // scannable heap, bytes
	liveHeap uint64  // live heap marked by the last GC, bytes
	t        time.Time
}

func readGC() gcReading {
	s := []metrics.Sample{{Name: metricGCCycles}, {Name: metricGCCPU}, {Name: metricScanHeap}, {Name: metricLiveHeap}}
	metrics.Read(s)
	var g gcReading
	if s[0].Value.Kind() == metrics.KindUint64 {
		g.cycles = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindFloat64 {
		g.cpu = s[1].Value.Float64()
	}
	if s[2].Value.Kind() == metrics.KindUint64 {
		g.scanHeap = s[2].Value.Uint64()
	}
	if s[3].Value.Kind() == metrics.KindUint64 {
		g.liveHeap = s[3].Value.Uint64()
	}
	g.t = time.Now()
	return g
}

// cpuPerCycle is the GC CPU per completed cycle between two readings and
// the number of cycles; 0, 0 when no cycle completed.
func cpuPerCycle(before, after gcReading) (float64, int) {
	n := int(after.cycles - before.cycles)
	if after.cycles <= before.cycles {
		return 0, 0
	}
	return (after.cpu - before.cpu) / float64(n), n
}

// forceGC runs n full GC cycles and reads the collector before and after.
func forceGC(n int) (before, after gcReading) {
	before = readGC()
	for range n {
		runtime.GC()
	}
	return before, readGC()
}

// footprintCounts are the numbers of large and small blocks of a point.
func footprintCounts(p Params, held int64) (big, small int64) {
	big = held / int64(p.LiveBlock)
	if p.SmallDiv > 0 && p.SmallBlock > 0 {
		small = held / int64(p.SmallDiv) / int64(p.SmallBlock)
	}
	return big, small
}

// reserver is an allocator that can map the whole amount up front
// (raw-mmap: one mmap for the point).
type reserver interface{ Reserve(n int64) error }

// holdBlocks allocates a point's blocks from a, the small ones interleaved
// with the large ones, and touches each block's first byte. With keep it
// returns them (the Go heap needs the references, and a run that frees
// needs them too); else nil.
func holdBlocks(ctx context.Context, a Allocator, p Params, held int64, keep bool) (kept [][]byte, n int64, err error) {
	big, small := footprintCounts(p, held)
	if r, ok := a.(reserver); ok {
		if err := r.Reserve(big*int64(p.LiveBlock) + small*int64(align16(p.SmallBlock))); err != nil {
			return nil, 0, err
		}
	}
	if keep {
		kept = make([][]byte, 0, big+small)
	}
	take := func(size int) {
		b := a.Alloc(size)
		b[0] = 1
		if keep {
			kept = append(kept, b)
		}
		n++
	}
	var s int64
	for i := int64(0); i < big; i++ {
		if i&1023 == 0 && ctx.Err() != nil {
			return kept, n, ctx.Err()
		}
		take(p.LiveBlock)
		for ; s*big < (i+1)*small; s++ {
			take(p.SmallBlock)
		}
	}
	for ; s < small; s++ { // no large block (a point under one block)
		take(p.SmallBlock)
	}
	return kept, n, nil
}

// align16 rounds n up to a multiple of 16.
func align16(n int) int { return (n + 15) &^ 15 }

// measurePoint measures one point in this process: the baseline first,
// then the point held. It returns the blocks it kept (keep) for the caller
// to free, or to keep alive.
func measurePoint(ctx context.Context, a Allocator, p Params, held int64, keep bool) (FootprintPoint, [][]byte, error) {
	cycles := max(p.Cycles, 1)
	pt := FootprintPoint{HeldBytes: held}
	_, small := footprintCounts(p, held)
	pt.SmallBytes = small * int64(p.SmallBlock)

	settle(a)
	b0, b1 := forceGC(cycles)
	pt.BaseGCCPUPerCycle, _ = cpuPerCycle(b0, b1)
	pt.BaseScanHeap, pt.BaseLiveHeap = b1.scanHeap, b1.liveHeap
	pt.BaseRSS = readRSS()

	t := time.Now()
	kept, n, err := holdBlocks(ctx, a, p, held, keep)
	pt.HoldSeconds = time.Since(t).Seconds()
	pt.Blocks = n
	if err != nil {
		return pt, kept, err
	}
	runtime.GC() // the cycles the allocation started are over
	h0, h1 := forceGC(cycles)
	pt.GCCPUPerCycle, pt.Cycles = cpuPerCycle(h0, h1)
	pt.CyclesSeconds = h1.t.Sub(h0.t).Seconds()
	pt.ScanHeap, pt.LiveHeap = h1.scanHeap, h1.liveHeap
	pt.RSS, pt.PeakRSS = readRSS(), readPeakRSS()
	pt.Mappings = countMappings()
	runtime.KeepAlive(kept)
	return pt, kept, nil
}

// countMappings counts the lines of /proc/self/maps (0 when unreadable).
func countMappings() int {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0
	}
	return bytes.Count(data, []byte{'\n'})
}

// runGCFootprintInProcess runs gc-footprint's points one after the other
// in this process, freeing each point's blocks before the next: the
// scenario's contract on any adapter (tests). The battle runs every point
// in a child process instead (runFootprint), where GC state cannot leak
// from one point to the next. One op per forced cycle.
func runGCFootprintInProcess(ctx context.Context, a Allocator, p Params, m *meter) (rawRun, error) {
	var pts []FootprintPoint
	var ops uint64
	m.start()
	for _, held := range p.Held {
		pt, kept, err := measurePoint(ctx, a, p, held, true)
		freeAll(a, kept)
		if err != nil {
			m.stop()
			return rawRun{}, err
		}
		pts = append(pts, pt)
		ops += uint64(pt.Cycles)
	}
	m.stop()
	return rawRun{ops: ops, footprint: pts}, nil
}

// onGoHeap reports whether a's blocks live on the Go heap, so that they
// must stay referenced to stay held.
func onGoHeap(a Allocator) bool {
	switch a.(type) {
	case goAlloc, goHeapAlloc, *syncPoolAlloc:
		return true
	}
	return false
}

// footprintRun turns a run's points into a Run: its primary figure
// (NsPerOp) is the GC CPU per forced cycle, in ns, at the largest point
// measured; Ops, Seconds, GCCycles, GCCPUSeconds and the RSS figures are
// that point's too.
func footprintRun(pts []FootprintPoint) (Run, error) {
	r := Run{RSSMethod: "child", Footprint: pts}
	last := -1
	for i, pt := range pts {
		if pt.Measured() {
			last = i
		}
	}
	if last < 0 {
		return r, fmt.Errorf("no point measured")
	}
	pt := pts[last]
	r.Ops = uint64(pt.Cycles)
	r.Seconds = pt.CyclesSeconds
	if r.Seconds > 0 {
		r.OpsPerSec = float64(r.Ops) / r.Seconds
	}
	r.NsPerOp = pt.GCCPUPerCycle * 1e9
	r.GCCycles = uint64(pt.Cycles)
	r.GCCPUSeconds = pt.GCCPUPerCycle * float64(pt.Cycles)
	r.PeakRSS, r.BaseRSS = pt.PeakRSS, pt.BaseRSS
	r.Extra = map[string]float64{
		"held_bytes":             float64(pt.HeldBytes),
		"scan_heap_growth_bytes": pt.ScanGrowth(),
		"live_heap_growth_bytes": pt.LiveGrowth(),
		"gc_cpu_growth_s":        pt.GCCPUGrowth(),
	}
	return r, nil
}
