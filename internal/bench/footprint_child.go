package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// The child-process protocol of gc-footprint. The battle (runFootprint)
// starts the running program again (os.Executable) once per (allocator,
// point), with the point in the environment variable footprintEnv as
// JSON. The program's main must call FootprintChild first thing: in a
// child it measures the point, prints one line "footprintMarker JSON" on
// stdout and returns the exit code. cmd/hakmem does; a test binary does it
// in TestMain.

const (
	// footprintEnv carries a child's footprintSpec. Not HAKMEM_-prefixed:
	// hakmem warns about HAKMEM_ variables it does not know.
	footprintEnv = "HAKMEMBENCH_GC_FOOTPRINT_CHILD"
	// footprintMarker starts the child's result line.
	footprintMarker = "gc-footprint-point: "
)

// footprintSpec is one child's work.
type footprintSpec struct {
	Allocator string `json:"allocator"`
	Held      int64  `json:"held"`
	Params    Params `json:"params"`
}

// footprintExe is the program started for a child (tests may change it).
var footprintExe = os.Executable

// FootprintChild runs a gc-footprint point when this process was started
// as a child for one (the environment says so), and reports whether it
// was. A program that runs the battle calls it first thing in main and
// exits with the code when isChild:
//
//	if code, ok := bench.FootprintChild(os.Stdout, os.Stderr); ok {
//		os.Exit(code)
//	}
func FootprintChild(stdout, stderr io.Writer) (code int, isChild bool) {
	v, ok := os.LookupEnv(footprintEnv)
	if !ok {
		return 0, false
	}
	os.Unsetenv(footprintEnv) // nothing this child starts is a child
	var spec footprintSpec
	if err := json.Unmarshal([]byte(v), &spec); err != nil {
		fmt.Fprintf(stderr, "gc-footprint child: bad %s: %v\n", footprintEnv, err)
		return 2, true
	}
	pt, err := childPoint(spec)
	if err != nil {
		fmt.Fprintf(stderr, "gc-footprint child: %s, %s: %v\n", spec.Allocator, fmtBytes(float64(spec.Held)), err)
		return 1, true
	}
	out, err := json.Marshal(pt)
	if err != nil {
		fmt.Fprintf(stderr, "gc-footprint child: %v\n", err)
		return 1, true
	}
	fmt.Fprintf(stdout, "%s%s\n", footprintMarker, out)
	return 0, true
}

// childPoint measures the spec's point in this process. A panic in the
// allocator becomes an error. The blocks are never freed: the process
// ends right after.
func childPoint(spec footprintSpec) (pt FootprintPoint, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	a, err := NewAllocator(spec.Allocator)
	if err != nil {
		return pt, err
	}
	pt, kept, err := measurePoint(context.Background(), a, spec.Params, spec.Held, onGoHeap(a))
	_ = kept // held until the process exits
	return pt, err
}

// runFootprint makes one gc-footprint run of the named adapter: one child
// process per point, in order. Points whose resident set could exceed
// half of the physical memory are skipped, with the reason in the point.
func runFootprint(ctx context.Context, sc Scenario, a Allocator) (Run, error) {
	if _, child := os.LookupEnv(footprintEnv); child {
		// A program that does not dispatch children (FootprintChild)
		// would otherwise start children of children.
		return Run{}, fmt.Errorf("this process is a gc-footprint child that did not call bench.FootprintChild")
	}
	exe, err := footprintExe()
	if err != nil {
		return Run{}, fmt.Errorf("cannot find the program to start children: %w", err)
	}
	limit := footprintRSSLimit()
	var pts []FootprintPoint
	for _, held := range sc.Params.Held {
		if why := footprintSkip(sc.Params, held, onGoHeap(a), limit); why != "" {
			pts = append(pts, FootprintPoint{HeldBytes: held, Skipped: why})
			continue
		}
		pt, err := startChild(ctx, exe, footprintSpec{Allocator: a.Name(), Held: held, Params: sc.Params})
		if ctx.Err() != nil {
			return Run{}, ctx.Err()
		}
		if err != nil {
			// The point failed in this run (modernc, one mapping per
			// 64 KiB block, can meet vm.max_map_count at 4 GiB); the
			// others still count.
			pt = FootprintPoint{HeldBytes: held, Error: err.Error()}
		}
		pts = append(pts, pt)
	}
	return footprintRun(pts)
}

// startChild runs one child and reads its point.
func startChild(ctx context.Context, exe string, spec footprintSpec) (FootprintPoint, error) {
	js, err := json.Marshal(spec)
	if err != nil {
		return FootprintPoint{}, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), footprintEnv+"="+string(js))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return FootprintPoint{}, ctx.Err()
	}
	pt, perr := parseChildOutput(stdout.Bytes())
	if runErr != nil || perr != nil {
		why := runErr
		if why == nil {
			why = perr
		}
		return FootprintPoint{}, fmt.Errorf("child %v%s", why, childReason(stderr.String()))
	}
	return pt, nil
}

// childReason picks from a failed child's stderr the line that says why:
// the child's own message, else the first line (the runtime's fatal
// error, the panic). A failure to create a thread or map memory gets a
// hint: an allocator with one mapping per block (modernc's 64 KiB blocks)
// meets vm.max_map_count at 4 GiB. "" when stderr is empty.
func childReason(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	why := lines[0]
	for _, l := range lines {
		if strings.HasPrefix(l, "gc-footprint child:") {
			why = l
			break
		}
	}
	if why == "" {
		return ""
	}
	why = truncate(why, 300)
	if strings.Contains(why, "pthread_create") || strings.Contains(why, "cannot allocate memory") ||
		strings.Contains(why, "out of memory") {
		why += " (memory mappings exhausted? see vm.max_map_count)"
	}
	return ": " + why
}

// truncate shortens s to n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// parseChildOutput finds the child's result line in its stdout.
func parseChildOutput(out []byte) (FootprintPoint, error) {
	var pt FootprintPoint
	found := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, footprintMarker); ok {
			if err := json.Unmarshal([]byte(rest), &pt); err != nil {
				return pt, fmt.Errorf("bad result line: %v", err)
			}
			found = true
		}
	}
	if !found {
		return pt, fmt.Errorf("no result line (does the program call bench.FootprintChild first thing in main?)")
	}
	return pt, nil
}

// footprintRSSLimit is the most resident memory a point may need: half of
// the physical memory (/proc/meminfo MemTotal); 0 when unknown.
func footprintRSSLimit() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	return memTotal(data) / 2
}

// memTotal reads MemTotal from /proc/meminfo's text, bytes (0 if absent).
func memTotal(meminfo []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// footprintRSSEstimate is the resident set a point adds: for an off-heap
// allocator the first page of every large block and all the small blocks;
// for the Go heap all of it (Go may zero the blocks, touching every page).
func footprintRSSEstimate(p Params, held int64, goHeap bool) int64 {
	big, small := footprintCounts(p, held)
	smallBytes := small * int64(p.SmallBlock)
	if goHeap {
		return big*int64(p.LiveBlock) + smallBytes
	}
	return big*min(int64(p.LiveBlock), 4096) + smallBytes
}

// footprintSkip says why a point is not run ("" when it is): its resident
// set could exceed limit (half the physical memory), or, with the limit
// unknown, a Go-heap point is above footprintGoHeapCap.
func footprintSkip(p Params, held int64, goHeap bool, limit int64) string {
	est := footprintRSSEstimate(p, held, goHeap)
	switch {
	case limit > 0 && est > limit:
		return fmt.Sprintf("skipped: would need ~%s RSS, over half the physical memory (%s)",
			fmtBytes(float64(est)), fmtBytes(float64(limit)))
	case limit <= 0 && goHeap && held > footprintGoHeapCap:
		return fmt.Sprintf("skipped: physical memory unknown, Go-heap points capped at %s", fmtBytes(footprintGoHeapCap))
	}
	return ""
}
