// Package native runs hakmem's native C yardstick: hakmem-native
// (csrc/hakmem-native.c; native/ has its README and a Makefile), which
// performs the scenarios of the shared op-sequence spec with plain
// malloc/free, under one C allocator at a time.
//
// The C source is embedded in this package. Build compiles it with the system C compiler on first use into
// a cache directory keyed by a hash of the source and flags. Run starts it with
// LD_PRELOAD set to the peer's library (none for glibc) and checks, from the
// harness's own report of which shared object defines malloc, that the peer it
// meant to measure is the one that ran.
package native

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	_ "embed"
)

//go:embed csrc/hakmem-native.c
var source []byte

// cflags are the compiler flags of the harness. -fno-builtin-malloc/free keep
// the compiler from removing malloc/free pairs whose memory it can see is dead.
var cflags = []string{
	"-std=c11", "-O2", "-Wall", "-Wextra",
	"-fno-builtin-malloc", "-fno-builtin-free", "-pthread",
}

// ldlibs: dlsym/dladdr live in libdl before glibc 2.34 (an empty stub after).
var ldlibs = []string{"-ldl"}

// Errors that callers (and tests) tell apart with errors.Is.
var (
	// ErrNoCompiler: no C compiler was found to build the harness.
	ErrNoCompiler = errors.New("no C compiler found (set CC, or run scripts/install-peers.sh)")
	// ErrPeerNotInstalled: the peer's shared library was not found.
	ErrPeerNotInstalled = errors.New("peer not installed (run scripts/install-peers.sh)")
	// ErrPeerNotLoaded: the harness ran, but malloc was not the peer's.
	ErrPeerNotLoaded = errors.New("peer library was not loaded")
)

// HarnessName is the file name of the built harness.
const HarnessName = "hakmem-native"

var (
	buildMu sync.Mutex // serializes Build within the process

	// cacheRoot returns the directory under which native-<hash> folders live.
	// A variable so that tests can point it at a temporary directory.
	cacheRoot = func() string {
		if d, err := os.UserCacheDir(); err == nil {
			return filepath.Join(d, "hakmem")
		}
		return filepath.Join(os.TempDir(), "hakmem-cache")
	}
)

// sourceHash identifies a build: the source and the flags it is built with.
func sourceHash() string {
	h := sha256.New()
	h.Write(source)
	h.Write([]byte{0})
	h.Write([]byte(strings.Join(cflags, " ") + "|" + strings.Join(ldlibs, " ")))
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// compiler returns the C compiler command: $CC (which may carry arguments),
// else cc, gcc or clang from PATH.
func compiler() ([]string, error) {
	if cc := strings.Fields(os.Getenv("CC")); len(cc) > 0 {
		path, err := exec.LookPath(cc[0])
		if err != nil {
			return nil, fmt.Errorf("native: CC=%q: %v: %w", os.Getenv("CC"), err, ErrNoCompiler)
		}
		return append([]string{path}, cc[1:]...), nil
	}
	for _, name := range []string{"cc", "gcc", "clang"} {
		if path, err := exec.LookPath(name); err == nil {
			return []string{path}, nil
		}
	}
	return nil, fmt.Errorf("native: looked for $CC, cc, gcc, clang: %w", ErrNoCompiler)
}

// Build compiles the embedded harness source unless a build of the same source
// and flags is already in the cache, and returns the path of the executable.
// A cached build is used even when no compiler is installed any more.
func Build(ctx context.Context) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()

	dir := filepath.Join(cacheRoot(), "native-"+sourceHash())
	bin := filepath.Join(dir, HarnessName)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	cc, err := compiler()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("native: cache directory: %w", err)
	}
	src := filepath.Join(dir, HarnessName+".c")
	if err := os.WriteFile(src, source, 0o644); err != nil {
		return "", fmt.Errorf("native: writing source: %w", err)
	}
	// Compile to a temporary name and rename, so that an interrupted build
	// never leaves a half-written executable under the final name.
	tmp, err := os.CreateTemp(dir, HarnessName+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("native: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName) // no-op after a successful rename

	args := append(append(append([]string{}, cc[1:]...), cflags...), "-o", tmpName, src)
	args = append(args, ldlibs...)
	cmd := exec.CommandContext(ctx, cc[0], args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("native: compiling the harness with %s failed: %v\n%s", cc[0], err, out)
	}
	if err := os.Chmod(tmpName, 0o755); err != nil {
		return "", fmt.Errorf("native: %w", err)
	}
	if err := os.Rename(tmpName, bin); err != nil {
		return "", fmt.Errorf("native: %w", err)
	}
	return bin, nil
}
