package native

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Sample is the result of one harness run.
type Sample struct {
	Scenario, Peer                    string
	Ops                               uint64  // operations timed (larson, random-mixed: steps)
	Seconds, OpsPerSec                float64 // wall time of the measured phase, Ops/Seconds
	NsMedian, NsP95, NsP99            float64 // ns per op; larson, random-mixed: per batch of 64 steps
	MinorFaults, MajorFaults, PeakRSS uint64  // faults during the run (getrusage delta); peak RSS in bytes
	Checksum                          uint64  // FNV-1a of the first 10,000 ops (spec "Checksum")
	MallocLib                         string  // the shared object that defined malloc in the harness
}

// report is the JSON line the harness prints.
type report struct {
	Scenario     string  `json:"scenario"`
	Ops          uint64  `json:"ops"`
	Seconds      float64 `json:"seconds"`
	OpsPerSec    float64 `json:"ops_per_sec"`
	NsMedian     float64 `json:"ns_median"`
	NsP95        float64 `json:"ns_p95"`
	NsP99        float64 `json:"ns_p99"`
	MinorFaults  uint64  `json:"minor_faults"`
	MajorFaults  uint64  `json:"major_faults"`
	PeakRSSBytes uint64  `json:"peak_rss_bytes"`
	Checksum     uint64  `json:"checksum"`
	Allocator    string  `json:"allocator"`
	MallocLib    string  `json:"malloc_lib"`
}

// Run runs one scenario of the harness under the named peer (see Peers) and
// returns its measurements. params are the harness's key=value arguments
// (seconds, min, max, chunks, rounds, seed, threads, slots, steps). Run fails
// with ErrPeerNotLoaded when the harness reports that malloc came from another
// library than the peer's: a result is never attributed to the wrong allocator.
func Run(ctx context.Context, peer, scenario string, params map[string]string) (Sample, error) {
	p, ok := lookupPeer(peer)
	if !ok {
		return Sample{}, fmt.Errorf("native: unknown peer %q (known: %s)", peer, peerNames())
	}
	return runPeer(ctx, p, scenario, params)
}

func runPeer(ctx context.Context, p Peer, scenario string, params map[string]string) (Sample, error) {
	if !p.Installed {
		return Sample{}, fmt.Errorf("native: %s: %s not found: %w", p.Name, p.Lib, ErrPeerNotInstalled)
	}
	bin, err := Build(ctx)
	if err != nil {
		return Sample{}, err
	}
	out, err := harness(ctx, bin, p.Lib, append([]string{scenario}, args(params)...))
	if err != nil {
		return Sample{}, fmt.Errorf("native: %s under %s: %w", scenario, p.Name, err)
	}
	var r report
	if err := json.Unmarshal(lastLine(out), &r); err != nil {
		return Sample{}, fmt.Errorf("native: %s under %s: parsing %q: %v", scenario, p.Name, lastLine(out), err)
	}
	if err := verifyLoaded(p, r); err != nil {
		return Sample{}, err
	}
	return Sample{
		Scenario: scenario, Peer: p.Name,
		Ops: r.Ops, Seconds: r.Seconds, OpsPerSec: r.OpsPerSec,
		NsMedian: r.NsMedian, NsP95: r.NsP95, NsP99: r.NsP99,
		MinorFaults: r.MinorFaults, MajorFaults: r.MajorFaults, PeakRSS: r.PeakRSSBytes,
		Checksum: r.Checksum, MallocLib: r.MallocLib,
	}, nil
}

// verifyLoaded checks that malloc in the harness came from the peer's library.
func verifyLoaded(p Peer, r report) error {
	if r.Allocator != p.Name {
		return fmt.Errorf("native: asked for %s (LD_PRELOAD=%q) but the harness's malloc is %s from %s: %w",
			p.Name, p.Lib, r.Allocator, r.MallocLib, ErrPeerNotLoaded)
	}
	if p.Lib != "" && !sameFile(p.Lib, r.MallocLib) {
		return fmt.Errorf("native: asked for %s from %s but the harness's malloc came from %s: %w",
			p.Name, p.Lib, r.MallocLib, ErrPeerNotLoaded)
	}
	return nil
}

// sameFile reports whether two library paths name the same file (after
// symbolic links: /lib may be a link to /usr/lib, a soname to a versioned file).
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// Checksum runs the harness in checksum mode: the FNV-1a 64 checksum of the
// first 10,000 operations of the scenario's draw sequence (spec "Checksum"),
// computed by the C code from its PRNG alone. GoChecksum computes the same in Go.
func Checksum(ctx context.Context, scenario string, params map[string]string) (uint64, error) {
	bin, err := Build(ctx)
	if err != nil {
		return 0, err
	}
	out, err := harness(ctx, bin, "", append([]string{"checksum", scenario}, args(params)...))
	if err != nil {
		return 0, fmt.Errorf("native: checksum %s: %w", scenario, err)
	}
	line := string(lastLine(out))
	v, err := strconv.ParseUint(line, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("native: checksum %s: parsing %q: %v", scenario, line, err)
	}
	return v, nil
}

// harness runs bin with args, LD_PRELOAD set to preload (or removed when
// empty), and returns its standard output.
func harness(ctx context.Context, bin, preload string, argv []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, argv...)
	env := make([]string, 0, len(os.Environ())+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LD_PRELOAD=") {
			env = append(env, kv)
		}
	}
	if preload != "" {
		env = append(env, "LD_PRELOAD="+preload)
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s %s: %v: %s", filepath.Base(bin), strings.Join(argv, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// args turns params into sorted key=value arguments.
func args(params map[string]string) []string {
	out := make([]string, 0, len(params))
	for k, v := range params {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// lastLine returns the last non-empty line of out.
func lastLine(out []byte) []byte {
	out = bytes.TrimSpace(out)
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return bytes.TrimSpace(out)
}
