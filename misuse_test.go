package hakmem_test

import (
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"unsafe"

	"github.com/hakmem-go/hakmem"
)

// misuseSizes covers every tier: tiny, mid, bridge, l2.5 and large.
var misuseSizes = []int{16, 64, 1000, 4096, 20000, 48 * kiB, 100 * kiB, miB, 3 * miB}

// expectFreeError checks that freeing bad reports want through TryFree, panics
// with it through Free, and leaves the allocator working.
func expectFreeError(t *testing.T, bad []byte, want error, what string) {
	t.Helper()
	errsBefore := hakmem.ReadStats().Errors
	// A stack slice may move while the call grows the stack: accept the
	// address from before or after the call.
	p0 := addr(bad)
	err := hakmem.TryFree(bad)
	p1 := addr(bad)
	he := asHakErr(t, err, want, "TryFree("+what+")")
	if he != nil && he.Ptr != p0 && he.Ptr != p1 {
		t.Errorf("TryFree(%s): Error.Ptr = %#x, want %#x", what, he.Ptr, p1)
	}
	mustPanic(t, want, "Free("+what+")", func() { hakmem.Free(bad) })
	if got := hakmem.ReadStats().Errors; got < errsBefore+2 {
		t.Errorf("%s: Stats.Errors moved %d -> %d, want +2", what, errsBefore, got)
	}
	checkWorks(t)
}

func TestDoubleFree(t *testing.T) {
	for _, n := range misuseSizes {
		t.Run(sizeName(n), func(t *testing.T) {
			b := hakmem.Alloc(n)
			fill(b, 1)
			hakmem.Free(b)
			expectFreeError(t, b, hakmem.ErrDoubleFree, "freed block")
			// Through a shortened slice as well.
			expectFreeError(t, b[:0], hakmem.ErrDoubleFree, "freed block[:0]")
			// Realloc of a freed block is the same misuse.
			_, err := hakmem.TryRealloc(b, n+1)
			asHakErr(t, err, hakmem.ErrDoubleFree, "TryRealloc(freed block)")
			checkWorks(t)
		})
	}
}

// TestDoubleFreeWithNeighbours frees a block twice while blocks of the same
// class around it stay live and must keep their contents.
func TestDoubleFreeWithNeighbours(t *testing.T) {
	for _, n := range []int{32, 512, 8000} {
		var live [][]byte
		for i := 0; i < 32; i++ {
			b := hakmem.Alloc(n)
			fill(b, blockSeed(b, 5))
			live = append(live, b)
		}
		victim := live[16]
		live = append(live[:16], live[17:]...)
		hakmem.Free(victim)
		asHakErr(t, hakmem.TryFree(victim), hakmem.ErrDoubleFree, "TryFree(victim)")
		// The failed free must not have put the block on a free list twice:
		// two allocations now must not return the same block.
		a1, a2 := hakmem.Alloc(n), hakmem.Alloc(n)
		if addr(a1) == addr(a2) {
			t.Fatalf("size %d: double free corrupted the free list: block %#x handed out twice", n, addr(a1))
		}
		hakmem.Free(a1)
		hakmem.Free(a2)
		for _, b := range live {
			if off := checkFill(b, blockSeed(b, 5)); off >= 0 {
				t.Errorf("size %d: neighbour corrupted at %d", n, off)
			}
			hakmem.Free(b)
		}
	}
	checkWorks(t)
}

func TestInteriorPointer(t *testing.T) {
	for _, n := range misuseSizes {
		t.Run(sizeName(n), func(t *testing.T) {
			if n < 32 {
				n = 32
			}
			b := hakmem.Alloc(n)
			fill(b, 2)
			for _, off := range []int{1, 8, 16, len(b) / 2, len(b) - 1} {
				expectFreeError(t, b[off:], hakmem.ErrInvalidPointer, "interior pointer")
				mustPanic(t, hakmem.ErrInvalidPointer, "UsableSize(interior)", func() { hakmem.UsableSize(b[off:]) })
				_, err := hakmem.TryRealloc(b[off:], 10)
				asHakErr(t, err, hakmem.ErrInvalidPointer, "TryRealloc(interior)")
			}
			if off := checkFill(b, 2); off >= 0 {
				t.Errorf("failed frees changed the block at %d", off)
			}
			// The block itself is still allocated and frees normally.
			if err := hakmem.TryFree(b); err != nil {
				t.Errorf("TryFree(b) after interior-pointer errors: %v", err)
			}
		})
	}
}

func TestGoHeapPointer(t *testing.T) {
	for _, n := range []int{1, 16, 100, 4096, 100000} {
		g := make([]byte, n)
		expectFreeError(t, g, hakmem.ErrInvalidPointer, "Go heap slice")
		mustPanic(t, hakmem.ErrInvalidPointer, "UsableSize(Go heap)", func() { hakmem.UsableSize(g) })
		_, err := hakmem.TryRealloc(g, 2*n)
		asHakErr(t, err, hakmem.ErrInvalidPointer, "TryRealloc(Go heap)")
	}
	s := "a string's bytes"
	expectFreeError(t, []byte(s), hakmem.ErrInvalidPointer, "[]byte(string)")
}

//go:noinline
func freeStackArray(t *testing.T) {
	var arr [256]byte
	for i := range arr {
		arr[i] = byte(i)
	}
	expectFreeError(t, arr[:], hakmem.ErrInvalidPointer, "stack array")
	expectFreeError(t, arr[16:], hakmem.ErrInvalidPointer, "stack array[16:]")
	for i := range arr {
		if arr[i] != byte(i) {
			t.Fatalf("stack array changed at %d", i)
		}
	}
}

func TestStackPointer(t *testing.T) {
	freeStackArray(t)
}

func TestGlobalPointer(t *testing.T) {
	expectFreeError(t, globalArray[:], hakmem.ErrInvalidPointer, "global array")
}

var globalArray [4096]byte

func TestForeignMapping(t *testing.T) {
	const size = 4 << 20
	m, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	defer syscall.Munmap(m)
	for _, off := range []int{0, 16, pageSize, miB, 2 * miB, size - 64} {
		expectFreeError(t, m[off:], hakmem.ErrInvalidPointer, "foreign mapping")
		mustPanic(t, hakmem.ErrInvalidPointer, "UsableSize(foreign mapping)", func() { hakmem.UsableSize(m[off:]) })
		_, err := hakmem.TryRealloc(m[off:off+64], 128)
		asHakErr(t, err, hakmem.ErrInvalidPointer, "TryRealloc(foreign mapping)")
		if t.Failed() {
			t.Fatalf("foreign mapping at %#x (offset %d) misreported; hakmem may have mapped this address range before and returned it to the OS", addr(m), off)
		}
	}
}

// TestStaleSliceAfterReuse documents the case no allocator can catch: a
// stale slice whose block was handed out again. Freeing the stale slice frees
// the new owner's block (undetectable); what is detected is the next free of
// that block while it is free.
func TestStaleSliceAfterReuse(t *testing.T) {
	const n = 96
	a := hakmem.Alloc(n)
	hakmem.Free(a)
	b := hakmem.Alloc(n)
	if addr(a) != addr(b) {
		// The stale slice points at a free block: that is a double free.
		asHakErr(t, hakmem.TryFree(a), hakmem.ErrDoubleFree, "TryFree(stale, block not reused)")
		hakmem.Free(b)
		t.Logf("block not handed back at once (%#x then %#x): stale free detected as a double free", addr(a), addr(b))
		return
	}
	// Same block: freeing through the stale slice succeeds, silently freeing b.
	if err := hakmem.TryFree(a); err != nil {
		t.Logf("stale free of a reused block reported %v (not required)", err)
		hakmem.Free(b)
		return
	}
	t.Logf("stale free of a reused block succeeded (undetectable, frees the new owner's block)")
	// b's block is free now: freeing b is a double free, and must be caught.
	asHakErr(t, hakmem.TryFree(b), hakmem.ErrDoubleFree, "TryFree(new owner after stale free)")
	checkWorks(t)
}

func TestLargeDoubleFree(t *testing.T) {
	for _, n := range []int{miB + 1, 2 * miB, 7*miB + 3} {
		b := hakmem.Alloc(n)
		b[0], b[n-1] = 1, 2
		hakmem.Free(b)
		expectFreeError(t, b, hakmem.ErrDoubleFree, "freed large block")
		// An interior pointer into a live large block, page-aligned or not.
		c := hakmem.Alloc(n)
		expectFreeError(t, c[pageSize:], hakmem.ErrInvalidPointer, "large block + 4096")
		expectFreeError(t, c[64:], hakmem.ErrInvalidPointer, "large block + 64")
		hakmem.Free(c)
	}
	// After Release the mapping of a freed large block may be gone entirely:
	// the free must still be reported, not crash.
	b := hakmem.Alloc(3 * miB)
	hakmem.Free(b)
	hakmem.Release()
	// Either sentinel fits: the block was freed (ErrDoubleFree) and its
	// memory may no longer belong to hakmem at all (ErrInvalidPointer).
	var err error
	v, panicked := recovered(func() { err = hakmem.TryFree(b) })
	switch {
	case panicked:
		t.Errorf("TryFree(large block freed and released) panicked: %v", v)
	case err == nil:
		t.Errorf("TryFree(large block freed and released) = nil")
	case errors.Is(err, hakmem.ErrInvalidPointer):
		asHakErr(t, err, hakmem.ErrInvalidPointer, "TryFree(released large block)")
	default:
		asHakErr(t, err, hakmem.ErrDoubleFree, "TryFree(released large block)")
	}
	checkWorks(t)
}

// TestConcurrentDoubleFree races two frees of the same block on every
// tier. Free claims a small block with a plain load and store, not an
// atomic swap (mem.go, claimBlock), so both racing frees may succeed; a
// large block is claimed under the heap lock, so there exactly one does.
// What must hold whatever the race gives: every other error is a double
// free, no fault, and the allocations that follow get distinct blocks.
// When both frees succeed the block's address is in two caches; the copy
// that comes up second is dropped (an allocation that meets it reports
// ErrCorrupted), but a copy that outlives its slab can be handed out later
// on a page no slab holds, or inside a slab carved there since (the
// documented exception: as in C), and a later round then sees a double
// free or an interior pointer for it, from both frees. Once the racers
// are gone Release reaches every P (a P kept busy by a spinning racer it
// may miss: it flushes a busy P at its next slow path), and the slabs'
// bitmaps drop every second copy: the final check meets none. It runs in
// a child process, because a lost race used to corrupt the free lists and
// could crash the process.
func TestConcurrentDoubleFree(t *testing.T) {
	if raceEnabled {
		t.Skip("two goroutines freeing one block at once is a data race in the program, and the race detector says so")
	}
	if !isolate(t) {
		return
	}
	rounds := 20000
	if testing.Short() {
		rounds = 4000
	}
	setProcs(t, 2)
	sizes := []int{16, 64, 200, 3000, 40000, 200000, 2 * miB}
	var nok, ndup, nother atomic.Int64
	both, neither := map[int]int{}, map[int]int{}
	raceFrees(rounds, false,
		func(r int) []byte { return allocPastCopies(t, sizes[r%len(sizes)]) },
		func(err error) {
			switch {
			case err == nil:
				nok.Add(1)
			case errors.Is(err, hakmem.ErrDoubleFree), errors.Is(err, hakmem.ErrInvalidPointer):
				ndup.Add(1) // the block already free, or a stale copy's (see above)
			default:
				if nother.Add(1) <= 3 {
					t.Errorf("racing TryFree: %v", err)
				}
			}
		},
		func(r, ok int) {
			if ok == 0 {
				neither[sizes[r%len(sizes)]]++
			}
			if ok == 2 {
				both[sizes[r%len(sizes)]]++
			}
		})
	if both[2*miB] > 0 || neither[2*miB] > 0 {
		t.Errorf("racing frees of a large block: both succeeded in %d rounds, neither in %d", both[2*miB], neither[2*miB])
	}
	if ok, dup := nok.Load(), ndup.Load(); ok+dup != 2*int64(rounds) {
		t.Errorf("%d frees succeeded, %d double frees and %d other errors reported in %d rounds", ok, dup, nother.Load(), rounds)
	}
	t.Logf("rounds in which both frees succeeded, by size: %v, neither: %v, of %d", both, neither, rounds)
	// What the rounds may leave behind is what the design allows (see
	// above): a block handed out twice later, or a stale copy's block
	// whose Free is refused. The allocator must keep working through it:
	// every allocation succeeds or drops a copy (ErrCorrupted), every
	// free succeeds or is refused as a double free or an interior
	// pointer, nothing faults, and the stats identities hold.
	var corrupted, twice, refused int
	for _, n := range sizes[:5] {
		seen := map[uintptr]bool{}
		var held [][]byte
		for i := 0; i < 2000; i++ {
			b, err := hakmem.TryAlloc(n)
			if errors.Is(err, hakmem.ErrCorrupted) {
				corrupted++ // a dropped second copy
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			fill(b, uint64(i))
			if seen[addr(b)] {
				twice++
				continue
			}
			seen[addr(b)] = true
			held = append(held, b)
		}
		for _, b := range held {
			switch err := hakmem.TryFree(b); {
			case err == nil:
			case errors.Is(err, hakmem.ErrDoubleFree), errors.Is(err, hakmem.ErrInvalidPointer):
				refused++
			default:
				t.Errorf("size %d: TryFree: %v", n, err)
			}
		}
	}
	t.Logf("after the rounds: %d copies dropped, %d blocks handed out twice, %d frees refused", corrupted, twice, refused)
	if st := hakmem.ReadStats(); st.Corrupted < uint64(corrupted) {
		t.Errorf("Stats.Corrupted %d, but %d allocations reported ErrCorrupted", st.Corrupted, corrupted)
	}
	hakmem.Release()
	statsIdentity(t, hakmem.ReadStats(), "after the races and Release")
}

func TestErrorsCounted(t *testing.T) {
	before := hakmem.ReadStats().Errors
	_, _ = hakmem.TryAlloc(-1)
	_ = hakmem.TryFree(make([]byte, 8))
	b := hakmem.Alloc(8)
	hakmem.Free(b)
	_ = hakmem.TryFree(b)
	if got := hakmem.ReadStats().Errors; got-before != 3 {
		t.Errorf("Stats.Errors moved by %d after 3 errors", got-before)
	}
}

// neighbour is the block right after b's, in the same slab for small classes:
// a block boundary hakmem has not handed out to this test.
func neighbour(b []byte, k int) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), k*cap(b))), cap(b))
}

// TestFreeBlockNeverAllocated frees the address of a neighbouring block of
// the same class that nobody allocated (fresh in its slab, or sitting free in
// a cache). It is not allocated, so the free must fail, with ErrDoubleFree
// or ErrInvalidPointer, and afterwards no block may be handed out twice. It
// runs in a child process: a wrongly accepted free corrupts the free lists.
func TestFreeBlockNeverAllocated(t *testing.T) {
	if !isolate(t) {
		return
	}
	sizes := []int{48, 96, 496, 2032, 7000, 20000}
	for _, n := range sizes {
		b := hakmem.Alloc(n)
		for k := 1; k <= 3; k++ {
			nb := neighbour(b, k)
			err := hakmem.TryFree(nb)
			switch {
			case err == nil:
				t.Errorf("size %d (class %d): TryFree of the never-allocated block %d after %#x succeeded", n, cap(b), k, addr(b))
			case errors.Is(err, hakmem.ErrInvalidPointer):
			default:
				asHakErr(t, err, hakmem.ErrDoubleFree, "TryFree(never-allocated block)")
			}
		}
		hakmem.Free(b)
	}
	for _, n := range sizes {
		seen := map[uintptr]bool{}
		var held [][]byte
		for i := 0; i < 3000; i++ {
			b := hakmem.Alloc(n)
			if seen[addr(b)] {
				t.Errorf("size %d: block %#x handed out twice", n, addr(b))
				break
			}
			seen[addr(b)] = true
			held = append(held, b)
		}
		for _, b := range held {
			hakmem.Free(b)
		}
	}
	checkWorks(t)
}
