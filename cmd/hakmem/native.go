package main

import (
	"context"

	"github.com/hakmem-go/hakmem/internal/bench"
	"github.com/hakmem-go/hakmem/internal/native"
)

// nativeHarness is the --native harness constructor; a variable so that tests
// can plug in a fake.
var nativeHarness = realNativeHarness

// realNativeHarness returns the native C yardstick for --native (package
// internal/native: it builds the C harness with the system compiler on first
// use and runs it under LD_PRELOAD, one process per run), and a note to print
// about it, "" when there is nothing to say.
func realNativeHarness() (bench.NativeHarness, string) {
	var missing []string
	for _, p := range native.Peers() {
		if !p.Installed {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) > 0 {
		return nativeAdapter{}, "--native: not installed: " + joinComma(missing) + " (scripts/install-peers.sh installs them); the battle carries on without them"
	}
	return nativeAdapter{}, ""
}

// nativeAdapter turns package native's types into the bench package's.
type nativeAdapter struct{}

func (nativeAdapter) Peers() []bench.NativePeer {
	var out []bench.NativePeer
	for _, p := range native.Peers() {
		out = append(out, bench.NativePeer{Name: p.Name, Lib: p.Lib, Installed: p.Installed})
	}
	return out
}

func (nativeAdapter) Run(ctx context.Context, peer, scenario string, params map[string]string) (bench.NativeSample, error) {
	s, err := native.Run(ctx, peer, scenario, params)
	if err != nil {
		return bench.NativeSample{}, err
	}
	return bench.NativeSample{
		Scenario: s.Scenario, Peer: s.Peer, Ops: s.Ops,
		Seconds: s.Seconds, OpsPerSec: s.OpsPerSec,
		NsMedian: s.NsMedian, NsP95: s.NsP95, NsP99: s.NsP99,
		MinorFaults: s.MinorFaults, MajorFaults: s.MajorFaults, PeakRSS: s.PeakRSS,
		Checksum: s.Checksum,
	}, nil
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
