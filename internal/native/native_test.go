package native

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// Pinned checksums of the spec's determinism check (seed 4141, first 10,000
// ops of worker 0). The Go scenarios must produce the same numbers.
const (
	larsonChecksum        = 11571691352236878973 // larson, default arguments
	randomMixed400Sum     = 13746757275004200297 // random-mixed slots=400
	randomMixed8192Sum    = 3879035517396467718  // random-mixed slots=8192
	jsonChecksumExtension = 4059055026285137957  // json: our extension, (0, 65536) x 1000
)

var checksumCases = []struct {
	scenario string
	params   map[string]string
	want     uint64
}{
	{"larson", nil, larsonChecksum},
	{"larson", map[string]string{"seed": "4141", "min": "8", "max": "1000", "chunks": "5000", "rounds": "100", "threads": "2", "seconds": "5"}, larsonChecksum},
	{"random-mixed", map[string]string{"slots": "400", "seed": "4141"}, randomMixed400Sum},
	{"random-mixed", map[string]string{"slots": "8192", "seed": "4141"}, randomMixed8192Sum},
	{"random-mixed-400", nil, randomMixed400Sum},
	{"random-mixed-8192", map[string]string{"steps": "10"}, randomMixed8192Sum},
	{"json", nil, jsonChecksumExtension},
}

func TestGoChecksumPinned(t *testing.T) {
	for _, c := range checksumCases {
		got, err := GoChecksum(c.scenario, c.params)
		if err != nil {
			t.Fatalf("GoChecksum(%s, %v): %v", c.scenario, c.params, err)
		}
		if got != c.want {
			t.Errorf("GoChecksum(%s, %v) = %d, want %d", c.scenario, c.params, got, c.want)
		}
	}
	if _, err := GoChecksum("nope", nil); err == nil {
		t.Error("GoChecksum accepted an unknown scenario")
	}
	if _, err := GoChecksum("larson", map[string]string{"bogus": "1"}); err == nil {
		t.Error("GoChecksum accepted an unknown key")
	}
}

// TestSplitmix64 pins the PRNG's first outputs for state 0 (the published
// splitmix64 reference values).
func TestSplitmix64(t *testing.T) {
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}
	s := splitmix64(0)
	for i, w := range want {
		if got := s.next(); got != w {
			t.Fatalf("output %d = %#x, want %#x", i, got, w)
		}
	}
}

// needHarness builds the harness or skips the test when there is no compiler.
func needHarness(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bin, err := Build(ctx)
	if errors.Is(err, ErrNoCompiler) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return bin
}

func TestBuildCachesAndReuses(t *testing.T) {
	bin := needHarness(t)
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Build(context.Background())
	if err != nil || again != bin {
		t.Fatalf("second Build = %q, %v; want %q", again, err, bin)
	}
	fi2, _ := os.Stat(bin)
	if !fi2.ModTime().Equal(fi.ModTime()) {
		t.Error("second Build rebuilt the harness instead of reusing it")
	}
	if !strings.Contains(bin, "native-"+sourceHash()) {
		t.Errorf("harness %s is not under native-%s", bin, sourceHash())
	}
}

func TestBuildWithoutCompiler(t *testing.T) {
	old := cacheRoot
	dir := t.TempDir()
	cacheRoot = func() string { return dir }
	defer func() { cacheRoot = old }()
	t.Setenv("CC", "/nonexistent/cc")
	_, err := Build(context.Background())
	if !errors.Is(err, ErrNoCompiler) || !strings.Contains(err.Error(), "install-peers.sh") {
		t.Fatalf("Build without a compiler: %v; want ErrNoCompiler naming scripts/install-peers.sh", err)
	}
}

func TestHarnessChecksumsMatchGo(t *testing.T) {
	needHarness(t)
	ctx := context.Background()
	cases := append(checksumCases, []struct {
		scenario string
		params   map[string]string
		want     uint64
	}{
		{"mir", nil, 0}, {"vm", nil, 0}, {"mixed", nil, 0},
		{"larson", map[string]string{"seed": "7", "min": "1", "max": "1", "chunks": "3"}, 0},
		{"random-mixed", map[string]string{"slots": "20000", "seed": "0"}, 0},
	}...)
	for _, c := range cases {
		got, err := Checksum(ctx, c.scenario, c.params)
		if err != nil {
			t.Fatalf("Checksum(%s, %v): %v", c.scenario, c.params, err)
		}
		goSum, err := GoChecksum(c.scenario, c.params)
		if err != nil {
			t.Fatal(err)
		}
		if got != goSum {
			t.Errorf("%s %v: C checksum %d, Go checksum %d", c.scenario, c.params, got, goSum)
		}
		if c.want != 0 && got != c.want {
			t.Errorf("%s %v: C checksum %d, pinned %d", c.scenario, c.params, got, c.want)
		}
	}
	if _, err := Checksum(ctx, "nope", nil); err == nil || !strings.Contains(err.Error(), "unknown scenario") {
		t.Errorf("Checksum of an unknown scenario: %v", err)
	}
	if _, err := Checksum(ctx, "larson", map[string]string{"bogus": "1"}); err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("Checksum with an unknown key: %v", err)
	}
}

func TestPeersListed(t *testing.T) {
	peers := Peers()
	want := []string{"glibc", "mimalloc", "jemalloc", "tcmalloc"}
	if len(peers) != len(want) {
		t.Fatalf("Peers() = %v", peers)
	}
	for i, p := range peers {
		if p.Name != want[i] {
			t.Errorf("peer %d = %s, want %s", i, p.Name, want[i])
		}
		if p.Installed && p.Name != "glibc" && !isFile(p.Lib) {
			t.Errorf("%s installed but Lib %q is not a file", p.Name, p.Lib)
		}
		t.Logf("%-9s installed=%-5v %s", p.Name, p.Installed, p.Lib)
	}
	if !peers[0].Installed || peers[0].Lib != "" {
		t.Errorf("glibc = %+v, want installed with no library", peers[0])
	}
}

// TestPeersRun runs a tiny json and larson under every installed peer and
// checks that the peer's library really defined malloc in the harness.
func TestPeersRun(t *testing.T) {
	needHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, p := range Peers() {
		if !p.Installed {
			t.Logf("skipping %s: %s not found (run scripts/install-peers.sh)", p.Name, p.Lib)
			continue
		}
		s, err := Run(ctx, p.Name, "json", nil)
		if err != nil {
			t.Fatalf("%s json: %v", p.Name, err)
		}
		if s.Peer != p.Name || s.Scenario != "json" || s.Ops != 1000 || s.NsMedian <= 0 || s.PeakRSS == 0 {
			t.Errorf("%s json: implausible sample %+v", p.Name, s)
		}
		if s.Checksum != jsonChecksumExtension {
			t.Errorf("%s json: checksum %d, want %d", p.Name, s.Checksum, uint64(jsonChecksumExtension))
		}
		s, err = Run(ctx, p.Name, "larson", map[string]string{"seconds": "0.2", "threads": "2"})
		if err != nil {
			t.Fatalf("%s larson: %v", p.Name, err)
		}
		if s.Ops == 0 || s.OpsPerSec <= 0 || s.Seconds < 0.2 {
			t.Errorf("%s larson: implausible sample %+v", p.Name, s)
		}
		if s.Checksum != larsonChecksum {
			t.Errorf("%s larson: checksum %d, want %d", p.Name, s.Checksum, uint64(larsonChecksum))
		}
		if p.Name != "glibc" && !sameFile(s.MallocLib, p.Lib) {
			t.Errorf("%s: malloc came from %s, want %s", p.Name, s.MallocLib, p.Lib)
		}
		t.Logf("%-9s larson %.1f M ops/s (0.2 s, 2 threads); json median %.0f ns; malloc from %s",
			p.Name, s.OpsPerSec/1e6, s.NsMedian, s.MallocLib)
	}
}

// TestRunRandomMixed: a short random-mixed run reports the pinned checksum.
func TestRunRandomMixed(t *testing.T) {
	needHarness(t)
	s, err := Run(context.Background(), "glibc", "random-mixed", map[string]string{"slots": "8192", "steps": "20000"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Ops != 20000 || s.Checksum != randomMixed8192Sum {
		t.Errorf("random-mixed: ops %d checksum %d; want 20000, %d", s.Ops, s.Checksum, uint64(randomMixed8192Sum))
	}
}

// TestRunDetectsUnloadedPeer: a peer whose library does not load (ld.so only
// warns and goes on with glibc) must fail with ErrPeerNotLoaded, not be
// reported as that peer's result.
func TestRunDetectsUnloadedPeer(t *testing.T) {
	needHarness(t)
	bogus := Peer{Name: "mimalloc", Lib: t.TempDir() + "/libmimalloc.so.2", Installed: true}
	_, err := runPeer(context.Background(), bogus, "json", nil)
	if !errors.Is(err, ErrPeerNotLoaded) {
		t.Fatalf("run under an unloadable library: %v; want ErrPeerNotLoaded", err)
	}
	t.Log(err)
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, "hoard", "json", nil); err == nil || !strings.Contains(err.Error(), "unknown peer") {
		t.Errorf("unknown peer: %v", err)
	}
	missing := Peer{Name: "jemalloc", Lib: "libjemalloc.so.2"}
	if _, err := runPeer(ctx, missing, "json", nil); !errors.Is(err, ErrPeerNotInstalled) {
		t.Errorf("peer not installed: %v; want ErrPeerNotInstalled", err)
	}
}

func TestFindLibFromLdconfigOutput(t *testing.T) {
	dir := t.TempDir()
	lib := dir + "/libfake.so.9"
	if err := os.WriteFile(lib, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	arch := ldconfigArch["amd64"]
	if a, ok := ldconfigArch[goarch()]; ok {
		arch = a
	}
	cache := []byte("42 libs found in cache `/etc/ld.so.cache'\n" +
		"\tlibfake.so.9 (libc6,OTHERARCH) => /nonexistent/libfake.so.9\n" +
		"\tlibfake.so.9 (libc6," + arch + ") => " + lib + "\n")
	if got := findLib("libfake.so.9", cache); got != lib {
		t.Errorf("findLib = %q, want %q", got, lib)
	}
	if got := findLib("libnothere.so.1", cache); got != "" {
		t.Errorf("findLib of a missing library = %q", got)
	}
}
