package hakmem_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/hakmem-go/hakmem"
)

// Size landmarks of the contract (see the package documentation).
const (
	kiB = 1 << 10
	miB = 1 << 20

	tinyMax  = 1 * kiB  // sizes up to this are "tiny"
	midMax   = 32 * kiB // sizes up to this are "mid" (bridge classes follow)
	l25Min   = 64 * kiB // the l2.5 tier starts here ...
	largeMin = 1*miB + 1
	pageSize = 4096
)

// addr is the address of a slice's first element (its data pointer).
func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// pattern is the byte expected at offset i of a block filled with seed.
func pattern(seed uint64, i int) byte {
	x := seed + uint64(i)*0x9E3779B97F4A7C15
	x ^= x >> 29
	return byte(x) ^ byte(x>>8)
}

// fill writes the seed's pattern over all of b.
func fill(b []byte, seed uint64) {
	for i := range b {
		b[i] = pattern(seed, i)
	}
}

// checkFill reports the first offset of b that does not hold the seed's
// pattern, or -1.
func checkFill(b []byte, seed uint64) int {
	for i := range b {
		if b[i] != pattern(seed, i) {
			return i
		}
	}
	return -1
}

// blockSeed derives a fill seed from a block's address, size and a stream seed,
// so that two blocks that overlap by mistake disagree on their contents.
func blockSeed(b []byte, seed uint64) uint64 {
	return uint64(addr(b))*0xBF58476D1CE4E5B9 ^ uint64(len(b))*0x94D049BB133111EB ^ seed
}

// isZero reports the first non-zero offset of b, or -1.
func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}

// asHakErr checks that err is a *hakmem.Error matching want and returns it.
func asHakErr(t testing.TB, err error, want error, what string) *hakmem.Error {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want %v", what, want)
		return nil
	}
	var he *hakmem.Error
	if !errors.As(err, &he) {
		t.Errorf("%s: error %v (%T) is not a *hakmem.Error", what, err, err)
		return nil
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: error %q does not match %q", what, err, want)
	}
	if he.Err == nil {
		t.Errorf("%s: *hakmem.Error with nil Err: %+v", what, *he)
	}
	if he.Error() == "" {
		t.Errorf("%s: empty message", what)
	}
	return he
}

// recovered runs f and returns the value it panicked with (nil when it did
// not panic) and whether it panicked.
func recovered(f func()) (v any, panicked bool) {
	panicked = true
	func() {
		defer func() { v = recover() }()
		f()
		panicked = false
	}()
	return v, panicked
}

// mustPanic runs f, which must panic with a *hakmem.Error matching want.
func mustPanic(t testing.TB, want error, what string, f func()) *hakmem.Error {
	t.Helper()
	v, panicked := recovered(f)
	if !panicked {
		t.Errorf("%s: did not panic, want a panic with %v", what, want)
		return nil
	}
	err, ok := v.(error)
	if !ok {
		t.Errorf("%s: panicked with %T %v, want a *hakmem.Error", what, v, v)
		return nil
	}
	return asHakErr(t, err, want, what)
}

// mustNotPanic runs f and fails the test with the panic value if it panics.
func mustNotPanic(t testing.TB, what string, f func()) {
	t.Helper()
	if v, panicked := recovered(f); panicked {
		t.Errorf("%s: unexpected panic: %v", what, v)
	}
}

// checkWorks verifies that the allocator still serves every tier correctly:
// allocate, write, read back and free a block of each kind.
func checkWorks(t testing.TB) {
	t.Helper()
	sizes := []int{1, 16, 100, 1024, 3000, 32 * kiB, 48 * kiB, 100 * kiB, 1 * miB, 3*miB + 7}
	var held [][]byte
	for i, n := range sizes {
		b, err := hakmem.TryAlloc(n)
		if err != nil {
			t.Fatalf("allocator broken: TryAlloc(%d): %v", n, err)
		}
		if len(b) != n {
			t.Fatalf("allocator broken: TryAlloc(%d) has len %d", n, len(b))
		}
		fill(b, uint64(i))
		held = append(held, b)
	}
	for i, b := range held {
		if off := checkFill(b, uint64(i)); off >= 0 {
			t.Errorf("allocator broken: block of %d bytes corrupted at %d", len(b), off)
		}
		if err := hakmem.TryFree(b); err != nil {
			t.Fatalf("allocator broken: TryFree of a %d-byte block: %v", len(b), err)
		}
	}
}

// statsIdentity checks MappedBytes == InUse + Cached + Free on a quiescent
// allocator.
func statsIdentity(t testing.TB, s hakmem.Stats, when string) {
	t.Helper()
	if sum := s.InUseBytes + s.CachedBytes + s.FreeBytes; s.MappedBytes != sum {
		t.Errorf("%s: MappedBytes %d != InUseBytes %d + CachedBytes %d + FreeBytes %d (= %d, diff %d)",
			when, s.MappedBytes, s.InUseBytes, s.CachedBytes, s.FreeBytes, sum, int64(s.MappedBytes)-int64(sum))
	}
}

// setProcs sets GOMAXPROCS and restores it when the test ends.
func setProcs(t testing.TB, n int) {
	old := runtime.GOMAXPROCS(n)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

// sizeName formats a byte count for subtest names.
func sizeName(n int) string {
	switch {
	case n >= miB && n%miB == 0:
		return fmt.Sprintf("%dMiB", n/miB)
	case n >= kiB && n%kiB == 0:
		return fmt.Sprintf("%dKiB", n/kiB)
	}
	return fmt.Sprintf("%dB", n)
}

// Package-level sinks that make benchmark allocations escape.
var (
	sinkOff   bool // never set: escape's store happens only in the compiler's view
	sinkBytes []byte
)

//go:noinline
func escape(b []byte) {
	if sinkOff {
		sinkBytes = b
	}
}

// childEnv names the test a child process was started to run.
const childEnv = "HAKMEM_TEST_CHILD"

// isolate runs the calling (top-level) test in a child process, so that a
// crash of the allocator fails that test only, not the whole test binary. It
// returns true in the child, where the test body should run, and false in
// the parent, which has already reported the child's result.
func isolate(t *testing.T) bool {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return true
	}
	args := []string{"-test.run=^" + t.Name() + "$", "-test.count=1", "-test.v"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name(), "GOTRACEBACK=single")
	out, err := cmd.CombinedOutput()
	if err != nil {
		const keep = 3000
		if len(out) > 2*keep {
			out = slices.Concat(out[:keep], []byte("\n...\n"), out[len(out)-keep:])
		}
		t.Errorf("%s failed in its child process (%v):\n%s", t.Name(), err, out)
		return false
	}
	if testing.Verbose() {
		t.Logf("child process:\n%s", out)
	}
	return false
}

// raceFrees plays rounds in which two goroutines free one block at the same
// moment. For round r, block(r) allocates the block on the calling
// goroutine; each racing goroutine passes its TryFree result to freed
// (called concurrently); once both have freed, settled(r, ok) runs with
// how many of the two frees succeeded. With stagger, the second goroutine
// first spins for a time that varies with the round, so that its checks
// land anywhere in the first free's work.
func raceFrees(rounds int, stagger bool, block func(r int) []byte, freed func(err error), settled func(r, ok int)) {
	var (
		cur   atomic.Pointer[[]byte]
		round atomic.Int64
		done  [2]atomic.Int64
		nok   atomic.Int64
		spin  atomic.Int64
		wg    sync.WaitGroup
	)
	for g := 0; g < 2; g++ {
		wg.Go(func() {
			for r := int64(1); r <= int64(rounds); r++ {
				for i := 0; round.Load() < r; i++ {
					if i > 1000 {
						runtime.Gosched()
					}
				}
				if stagger {
					for i := 0; i < int(r*int64(g)*7919%4000); i++ {
						spin.Add(1)
					}
				}
				err := hakmem.TryFree(*cur.Load())
				if err == nil {
					nok.Add(1)
				}
				freed(err)
				done[g].Store(r)
			}
		})
	}
	for r := 1; r <= rounds; r++ {
		b := block(r)
		cur.Store(&b)
		ok0 := nok.Load()
		round.Store(int64(r))
		for done[0].Load() < int64(r) || done[1].Load() < int64(r) {
			runtime.Gosched()
		}
		settled(r, int(nok.Load()-ok0))
	}
	wg.Wait()
}
