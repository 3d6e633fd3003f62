package hakmem_test

import (
	"errors"
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
// alone, and the allocator must keep working with its stats identities.
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
	for _, m := range []hakmem.Mode{hakmem.Minimal, hakmem.Fast, hakmem.Balanced, hakmem.Learning, hakmem.Research} {
		if err := hakmem.SetMode(m); err != nil {
			t.Fatal(err)
		}
		var nok, nbad atomic.Int64
		raceFrees(rounds, true,
			func(r int) []byte {
				b := hakmem.Alloc(sizes[r%len(sizes)])
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
			func(int, int) {})
		if ok := nok.Load(); ok < int64(rounds) {
			t.Errorf("mode %v: only %d of %d racing pairs freed their block", m, ok, rounds)
		}
		checkWorks(t)
	}
	hakmem.Release()
	statsIdentity(t, hakmem.ReadStats(), "after the races and Release")
}
