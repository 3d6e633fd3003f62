package bench

import "context"

// The native C yardstick lives in package internal/native (another
// engineer's work, cgo). The battle reaches it through this small interface
// so that the tool builds and runs without it; cmd/hakmem plugs the real
// package in. The types mirror internal/native's.
type (
	// NativeHarness runs the spec's scenarios in C against the system's
	// allocators.
	NativeHarness interface {
		Peers() []NativePeer
		Run(ctx context.Context, peer, scenario string, params map[string]string) (NativeSample, error)
	}
	// NativePeer is one C allocator (glibc, mimalloc, jemalloc, tcmalloc).
	NativePeer struct {
		Name      string // "glibc", "mimalloc", "jemalloc", "tcmalloc"
		Lib       string // shared library, e.g. libmimalloc.so.2
		Installed bool   // the library was found
	}
	// NativeSample is one native run.
	NativeSample struct {
		Scenario, Peer           string
		Ops                      uint64
		Seconds, OpsPerSec       float64
		NsMedian, NsP95, NsP99   float64 // per-op latency, block scenarios only
		MinorFaults, MajorFaults uint64
		PeakRSS                  uint64 // bytes
		Checksum                 uint64
	}
)

// nativeName is the allocator name a native peer gets in results:
// "native-mimalloc", distinct from the cgo adapters ("cgo-mimalloc").
func nativeName(peer string) string { return "native-" + peer }

// nativeRun turns a native sample into a Run.
func nativeRun(kind Kind, s NativeSample) Run {
	r := Run{
		Ops:         s.Ops,
		Seconds:     s.Seconds,
		OpsPerSec:   s.OpsPerSec,
		NsMedian:    s.NsMedian,
		NsP95:       s.NsP95,
		NsP99:       s.NsP99,
		MinorFaults: s.MinorFaults,
		MajorFaults: s.MajorFaults,
		PeakRSS:     s.PeakRSS,
		RSSMethod:   "native",
		Checksum:    Hex64(s.Checksum),
	}
	if r.OpsPerSec == 0 && r.Seconds > 0 {
		r.OpsPerSec = float64(r.Ops) / r.Seconds
	}
	if kind == KindBlocks {
		r.NsPerOp = s.NsMedian
	} else if r.Ops > 0 {
		r.NsPerOp = 1e9 * r.Seconds / float64(r.Ops)
	}
	return r
}
