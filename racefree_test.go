package hakmem_test

import (
	"errors"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/hakmem-go/hakmem"
)

// TestRacingDoubleFreeNeverFaults races two frees of one block in every
// mode, with sizes whose slab holds one or two blocks (600 KiB .. 1 MiB),
// so that the winner's free can empty the slab and its segment while the
// loser is still checking the block. In Minimal mode (no segment cache) the
// winner used to unmap the segment under the loser, which then faulted
// reading the block: a fatal SIGSEGV, not a panic. Whatever the race gives,
// the process must not fault, the loser must get an error or succeed
// alone (or, once a round let both succeed, both may be refused a later
// copy of the block), and the allocator must keep working with its stats
// identities.
// It runs in a child process because the failure is a crash.
func TestRacingDoubleFreeNeverFaults(t *testing.T) {
	if raceEnabled {
		t.Skip("racing frees of one block are a data race in the program, and the race detector says so")
	}
	if !isolate(t) {
		return
	}
	rounds := 6000
	if testing.Short() {
		rounds = 1500
	}
	setProcs(t, 2)
	defer hakmem.SetMode(hakmem.Balanced)
	sizes := []int{600 * kiB, 700 * kiB, 900 * kiB, miB, 64, 40 * kiB}
	// Rounds in which both frees succeeded (the claim is not atomic: the
	// block's address then sits in two caches), over every mode so far. A
	// round in which neither does needs one before it: a copy left behind
	// may later be handed out while its slab is gone or taken by another
	// block (README: the block may reach two owners), and then both racing
	// frees of it are rightly refused.
	both := 0
	for _, m := range []hakmem.Mode{hakmem.Minimal, hakmem.Fast, hakmem.Balanced, hakmem.Learning, hakmem.Research} {
		if err := hakmem.SetMode(m); err != nil {
			t.Fatal(err)
		}
		var nok, nbad atomic.Int64
		neither := 0 // rounds of this mode with no winner (see both)
		raceFrees(rounds, true,
			func(r int) []byte {
				b := allocPastCopies(t, sizes[r%len(sizes)])
				b[0] = 1
				return b
			},
			func(err error) {
				switch {
				case err == nil:
					nok.Add(1)
				case errors.Is(err, hakmem.ErrDoubleFree), errors.Is(err, hakmem.ErrInvalidPointer):
				default:
					if nbad.Add(1) <= 3 {
						t.Errorf("mode %v: racing TryFree: %v", m, err)
					}
				}
			},
			func(r, ok int) {
				switch ok {
				case 2:
					both++
				case 0:
					if neither++; both == 0 {
						t.Errorf("mode %v: round %d: neither racing free freed its block, and no earlier round left a copy", m, r)
					}
				}
			})
		if ok := nok.Load(); ok < int64(rounds-neither) {
			t.Errorf("mode %v: only %d of %d racing pairs freed their block (%d with no winner)", m, ok, rounds, neither)
		}
		t.Logf("mode %v: %d rounds with two winners, %d with none", m, both, neither)
		checkWorks(t)
	}
	hakmem.Release()
	statsIdentity(t, hakmem.ReadStats(), "after the races and Release")
}

// TestStaleCopyAfterReap: two racing Frees of a block may both succeed
// (Free claims without an atomic), leaving the block's address in two P
// stacks. If one copy goes home, its segment empties and is reaped while
// the other copy is still in a P that nothing visited (Release flushes a
// busy P only at its next slow path), the pop of that copy reads the
// block's cookie in memory hakmem gave back. It must read a spare range,
// still mapped (retire.go), and drop the copy with ErrCorrupted: with the
// range unmapped it was a fatal fault. A child process, since the failure
// is a crash.
func TestStaleCopyAfterReap(t *testing.T) {
	if hakmem.OSMapsGoHeap {
		t.Skip("hakmem_nommap: reaped ranges go back to the Go heap, which stays mapped")
	}
	if !isolate(t) {
		return
	}
	runtime.LockOSThread() // one P for the push and the pop
	defer runtime.UnlockOSThread()
	defer hakmem.SetMode(hakmem.Balanced)
	if err := hakmem.SetMode(hakmem.Minimal); err != nil { // no segment cache: an empty segment is reaped
		t.Fatal(err)
	}
	b := hakmem.Alloc(64)
	p := addr(b)
	hakmem.Free(b)
	hakmem.Release()
	st := hakmem.ReadStats()
	if st.Segments != 0 || st.SpareBytes == 0 {
		t.Fatalf("after Release: %d segments, %d spare bytes; want 0 and a spare", st.Segments, st.SpareBytes)
	}
	if !hakmem.PushStale(64, p) {
		t.Fatal("stack full")
	}
	mmaps := hakmem.ReadStats().Mmaps
	var c []byte
	corrupted := 0
	for c == nil && corrupted < 1000 {
		b, err := hakmem.TryAlloc(64)
		switch {
		case errors.Is(err, hakmem.ErrCorrupted):
			corrupted++
		case err != nil:
			t.Fatal(err)
		default:
			c = b // a new segment, in the spare range
		}
	}
	if corrupted == 0 {
		t.Errorf("the stale copy was handed out, not dropped")
	}
	if got := hakmem.ReadStats(); got.SpareBytes != st.SpareBytes-2<<20 || got.Mmaps != mmaps {
		t.Errorf("new segment: spare %d -> %d bytes, mmaps %d -> %d; want the spare reused, no mmap", st.SpareBytes, got.SpareBytes, mmaps, got.Mmaps)
	}
	hakmem.Free(c)
	checkWorks(t)
}

// allocPastCopies allocates n bytes, going past the second copies an
// earlier racing double free left in the caches: an allocation that meets
// one reports ErrCorrupted (the copy is dropped) and the next proceeds.
func allocPastCopies(t testing.TB, n int) []byte {
	for range 1000 {
		b, err := hakmem.TryAlloc(n)
		if err == nil {
			return b
		}
		if !errors.Is(err, hakmem.ErrCorrupted) {
			t.Fatal(err)
		}
	}
	t.Fatalf("TryAlloc(%d): ErrCorrupted 1000 times in a row", n)
	return nil
}
