package hakmem_test

import (
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hakmem-go/hakmem"
)

// checkBlock verifies the shape, alignment and round-up of a block returned
// for size n, and that its first and last usable bytes can be written.
func checkBlock(t testing.TB, b []byte, n int, what string) {
	t.Helper()
	if b == nil {
		t.Fatalf("%s(%d): nil slice", what, n)
	}
	if len(b) != n {
		t.Fatalf("%s(%d): len %d", what, n, len(b))
	}
	u := hakmem.UsableSize(b)
	if cap(b) != u {
		t.Errorf("%s(%d): cap %d != UsableSize %d", what, n, cap(b), u)
	}
	if u < n {
		t.Fatalf("%s(%d): UsableSize %d < size", what, n, u)
	}
	if n == 0 {
		return
	}
	p := addr(b)
	if p%16 != 0 {
		t.Errorf("%s(%d): address %#x not 16-byte aligned", what, n, p)
	}
	if n <= pageSize && n&(n-1) == 0 && p%uintptr(n) != 0 {
		t.Errorf("%s(%d): power-of-two size, address %#x not naturally aligned", what, n, p)
	}
	if n > miB {
		if p%pageSize != 0 {
			t.Errorf("%s(%d): large block at %#x not page-aligned", what, n, p)
		}
		// A fresh large block is the request rounded to 4096; one reused
		// from the BigCache may be up to 25% bigger than that.
		if want := (n + pageSize - 1) &^ (pageSize - 1); u < want || u%pageSize != 0 || u > want+want/4 {
			t.Errorf("%s(%d): large block UsableSize %d, want %d (rounded to 4096) up to 25%% more", what, n, u, want)
		}
	} else if n > 128 && uint64(u)*8 > uint64(n)*9 {
		t.Errorf("%s(%d): UsableSize %d wastes more than 12.5%% (%.2f%%)", what, n, u, 100*float64(u-n)/float64(n))
	}
	full := b[:u]
	full[0] = 0xA5
	full[u-1] = 0x5A
	if full[0] != 0xA5 || full[u-1] != 0x5A {
		t.Fatalf("%s(%d): write did not stick", what, n)
	}
}

// sizesToProbe is every size the edge tests walk: 1..256 one by one, then
// steps of 8 up to 4 KiB and of 64 up to 70000, and ±1 around every power of
// two up to 128 KiB.
func sizesToProbe() []int {
	var s []int
	for n := 1; n <= 256; n++ {
		s = append(s, n)
	}
	for n := 264; n <= 4096; n += 8 {
		s = append(s, n)
	}
	for n := 4096 + 64; n <= 70000; n += 64 {
		s = append(s, n)
	}
	for p := 2; p <= 128*kiB; p *= 2 {
		s = append(s, p-1, p, p+1)
	}
	slices.Sort(s)
	return slices.Compact(s)
}

func TestAllocSizes(t *testing.T) {
	usable := map[int]int{} // size -> UsableSize
	for _, n := range sizesToProbe() {
		b := hakmem.Alloc(n)
		checkBlock(t, b, n, "Alloc")
		usable[n] = cap(b)
		hakmem.Free(b)
		if t.Failed() {
			return
		}
	}
	// Round-up is monotonic in the size.
	sizes := make([]int, 0, len(usable))
	for n := range usable {
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	for i := 1; i < len(sizes); i++ {
		if usable[sizes[i]] < usable[sizes[i-1]] {
			t.Errorf("UsableSize not monotonic: size %d -> %d but size %d -> %d",
				sizes[i-1], usable[sizes[i-1]], sizes[i], usable[sizes[i]])
		}
	}
	// ±1 around every usable size observed: a class size is served exactly,
	// one more byte needs the next class.
	seen := map[int]bool{}
	for _, u := range usable {
		seen[u] = true
	}
	for u := range seen {
		for _, n := range []int{u - 1, u, u + 1} {
			b := hakmem.Alloc(n)
			checkBlock(t, b, n, "Alloc")
			switch {
			case n == u && cap(b) != u:
				t.Errorf("Alloc(%d): observed class size %d but got UsableSize %d", n, u, cap(b))
			case n == u+1 && cap(b) <= u:
				t.Errorf("Alloc(%d): UsableSize %d <= %d", n, cap(b), u)
			}
			hakmem.Free(b)
		}
	}
}

func TestAllocL25AndLarge(t *testing.T) {
	var sizes []int
	for p := 64 * kiB; p <= 4*miB; p *= 2 {
		sizes = append(sizes, p-1, p, p+1)
	}
	step := 4099
	if testing.Short() {
		step = 40009
	}
	for n := 70000; n <= miB; n += step {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, miB+pageSize-1, miB+pageSize, miB+pageSize+1, 3*miB+5, 16*miB+1)
	for _, n := range sizes {
		b := hakmem.Alloc(n)
		checkBlock(t, b, n, "Alloc")
		hakmem.Free(b)
	}
}

// TestClassTable walks ReadStats().Classes: each class size is served
// exactly, classes are increasing, and the tier names agree with the sizes.
func TestClassTable(t *testing.T) {
	cls := hakmem.ReadStats().Classes
	if len(cls) == 0 {
		t.Fatal("ReadStats().Classes is empty")
	}
	prev := 0
	for _, c := range cls {
		if c.Size <= prev {
			t.Errorf("class sizes not increasing: %d after %d", c.Size, prev)
		}
		prev = c.Size
		if c.Size%16 != 0 && c.Size > 16 {
			// A block is 16-byte aligned, so consecutive blocks need sizes
			// that are multiples of 16 (8 is tolerated only below 16).
			t.Errorf("class size %d is not a multiple of 16", c.Size)
		}
		switch c.Tier {
		case "tiny":
			if c.Size > tinyMax {
				t.Errorf("class %d tagged tiny (> 1 KiB)", c.Size)
			}
		case "mid":
			if c.Size <= tinyMax || c.Size > l25Min {
				t.Errorf("class %d tagged mid (outside 1 KiB .. 64 KiB)", c.Size)
			}
		case "l2.5":
			if c.Size <= midMax || c.Size > miB {
				t.Errorf("class %d tagged l2.5 (outside 32 KiB .. 1 MiB)", c.Size)
			}
		default:
			t.Errorf("class %d has unknown tier %q", c.Size, c.Tier)
		}
		b := hakmem.Alloc(c.Size)
		checkBlock(t, b, c.Size, "Alloc")
		if cap(b) != c.Size {
			t.Errorf("Alloc(%d) of a class size: UsableSize %d", c.Size, cap(b))
		}
		hakmem.Free(b)
	}
	if prev < miB {
		t.Errorf("largest class %d: the l2.5 tier should reach 1 MiB", prev)
	}
}

func TestZeroSize(t *testing.T) {
	b := hakmem.Alloc(0)
	if b == nil || len(b) != 0 || cap(b) != 0 {
		t.Fatalf("Alloc(0) = nil=%v len %d cap %d, want non-nil, 0, 0", b == nil, len(b), cap(b))
	}
	if u := hakmem.UsableSize(b); u != 0 {
		t.Errorf("UsableSize(Alloc(0)) = %d", u)
	}
	for i := 0; i < 3; i++ { // freeing it is a no-op, any number of times
		if err := hakmem.TryFree(b); err != nil {
			t.Errorf("TryFree(Alloc(0)) #%d: %v", i, err)
		}
		mustNotPanic(t, "Free(Alloc(0))", func() { hakmem.Free(b) })
	}
	c := hakmem.Calloc(0)
	if c == nil || len(c) != 0 || cap(c) != 0 {
		t.Errorf("Calloc(0) = nil=%v len %d cap %d", c == nil, len(c), cap(c))
	}
	hakmem.Free(c)
	tb, err := hakmem.TryAlloc(0)
	if err != nil || tb == nil || cap(tb) != 0 {
		t.Errorf("TryAlloc(0) = %v (nil=%v cap %d)", err, tb == nil, cap(tb))
	}
	tc, err := hakmem.TryCalloc(0)
	if err != nil || tc == nil || cap(tc) != 0 {
		t.Errorf("TryCalloc(0) = %v (nil=%v cap %d)", err, tc == nil, cap(tc))
	}
}

func TestNilAndCapZero(t *testing.T) {
	if err := hakmem.TryFree(nil); err != nil {
		t.Errorf("TryFree(nil) = %v", err)
	}
	mustNotPanic(t, "Free(nil)", func() { hakmem.Free(nil) })
	if u := hakmem.UsableSize(nil); u != 0 {
		t.Errorf("UsableSize(nil) = %d", u)
	}
	// Any capacity-0 slice is a no-op, even one pointing at the Go heap or
	// at the end of a hakmem block.
	goHeap := make([]byte, 10)
	if err := hakmem.TryFree(goHeap[:0:0]); err != nil {
		t.Errorf("TryFree(go heap [:0:0]) = %v", err)
	}
	if u := hakmem.UsableSize(goHeap[:0:0]); u != 0 {
		t.Errorf("UsableSize(go heap [:0:0]) = %d", u)
	}
	b := hakmem.Alloc(64)
	end := b[cap(b):]
	if err := hakmem.TryFree(end); err != nil {
		t.Errorf("TryFree(b[cap(b):]) = %v, want a no-op", err)
	}
	hakmem.Free(b)
	checkWorks(t)
}

func TestNegativeSize(t *testing.T) {
	for _, n := range []int{-1, -16, math.MinInt} {
		b, err := hakmem.TryAlloc(n)
		if he := asHakErr(t, err, hakmem.ErrNegativeSize, "TryAlloc"); he != nil {
			if he.Size != n {
				t.Errorf("TryAlloc(%d): Error.Size = %d", n, he.Size)
			}
			if !strings.Contains(he.Op, "Alloc") {
				t.Errorf("TryAlloc(%d): Error.Op = %q", n, he.Op)
			}
		}
		if b != nil {
			t.Errorf("TryAlloc(%d) returned a slice with the error", n)
		}
		_, err = hakmem.TryCalloc(n)
		asHakErr(t, err, hakmem.ErrNegativeSize, "TryCalloc")
		_, err = hakmem.TryRealloc(nil, n)
		asHakErr(t, err, hakmem.ErrNegativeSize, "TryRealloc(nil)")
		mustPanic(t, hakmem.ErrNegativeSize, "Alloc", func() { hakmem.Alloc(n) })
		mustPanic(t, hakmem.ErrNegativeSize, "Calloc", func() { hakmem.Calloc(n) })
		mustPanic(t, hakmem.ErrNegativeSize, "Realloc(nil)", func() { hakmem.Realloc(nil, n) })
	}
	// A failed Realloc leaves the block alone.
	b := hakmem.Alloc(100)
	fill(b, 7)
	nb, err := hakmem.TryRealloc(b, -1)
	asHakErr(t, err, hakmem.ErrNegativeSize, "TryRealloc(b, -1)")
	if nb != nil {
		t.Errorf("TryRealloc(b, -1) returned a slice with the error")
	}
	mustPanic(t, hakmem.ErrNegativeSize, "Realloc(b, -1)", func() { hakmem.Realloc(b, -1) })
	if off := checkFill(b, 7); off >= 0 {
		t.Errorf("failed Realloc changed the block at %d", off)
	}
	if err := hakmem.TryFree(b); err != nil {
		t.Errorf("free after failed Realloc: %v", err)
	}
	checkWorks(t)
}

func TestHugeSize(t *testing.T) {
	for _, n := range []int{hakmem.MaxAlloc + 1, hakmem.MaxAlloc + pageSize, math.MaxInt - pageSize + 1, math.MaxInt} {
		b, err := hakmem.TryAlloc(n)
		if he := asHakErr(t, err, hakmem.ErrSizeTooLarge, "TryAlloc(huge)"); he != nil && he.Size != n {
			t.Errorf("TryAlloc(%d): Error.Size = %d", n, he.Size)
		}
		if b != nil {
			t.Errorf("TryAlloc(%d) returned a slice with the error", n)
		}
		_, err = hakmem.TryCalloc(n)
		asHakErr(t, err, hakmem.ErrSizeTooLarge, "TryCalloc(huge)")
		_, err = hakmem.TryRealloc(nil, n)
		asHakErr(t, err, hakmem.ErrSizeTooLarge, "TryRealloc(nil, huge)")
		mustPanic(t, hakmem.ErrSizeTooLarge, "Alloc(huge)", func() { hakmem.Alloc(n) })
		mustPanic(t, hakmem.ErrSizeTooLarge, "Calloc(huge)", func() { hakmem.Calloc(n) })

		b = hakmem.Alloc(48)
		fill(b, 3)
		_, err = hakmem.TryRealloc(b, n)
		asHakErr(t, err, hakmem.ErrSizeTooLarge, "TryRealloc(b, huge)")
		if off := checkFill(b, 3); off >= 0 {
			t.Errorf("failed Realloc changed the block at %d", off)
		}
		if err := hakmem.TryFree(b); err != nil {
			t.Errorf("free after failed Realloc: %v", err)
		}
	}
	checkWorks(t)
}

// TestAllocMaxAlloc: MaxAlloc itself is a legal request; it succeeds or fails
// with ErrOutOfMemory, and the process survives either way. It runs in a
// child process, because an OS layer that cannot refuse cleanly kills the
// process.
func TestAllocMaxAlloc(t *testing.T) {
	if !isolate(t) {
		return
	}
	for _, n := range []int{hakmem.MaxAlloc, hakmem.MaxAlloc / 2} {
		if b, err := hakmem.TryAlloc(n); err != nil {
			asHakErr(t, err, hakmem.ErrOutOfMemory, "TryAlloc(MaxAlloc)")
		} else {
			if len(b) != n {
				t.Errorf("TryAlloc(%d): len %d", n, len(b))
			}
			hakmem.Free(b)
		}
	}
	checkWorks(t)
}

func TestUsableSizeAndShortSlices(t *testing.T) {
	for _, n := range []int{1, 24, 500, 4000, 40000, 300000, 2 * miB} {
		b := hakmem.Alloc(n)
		u := cap(b)
		if got := hakmem.UsableSize(b[:0]); got != u {
			t.Errorf("UsableSize(b[:0]) = %d, want %d", got, u)
		}
		if got := hakmem.UsableSize(b[:1:1]); got != u {
			t.Errorf("UsableSize(b[:1:1]) = %d, want %d", got, u)
		}
		// Free takes the pointer from the slice: a shortened slice frees the block.
		var short []byte
		if n%2 == 0 {
			short = b[:0]
		} else {
			short = b[:1:1]
		}
		if err := hakmem.TryFree(short); err != nil {
			t.Errorf("TryFree(short slice of %d-byte block): %v", n, err)
		}
		asHakErr(t, hakmem.TryFree(b), hakmem.ErrDoubleFree, "TryFree after freeing a short slice")
	}
	checkWorks(t)
}

func TestAlignmentManyBlocks(t *testing.T) {
	// Many live blocks at once, so they come from across slabs.
	var held [][]byte
	for _, n := range []int{1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096} {
		for i := 0; i < 64; i++ {
			b := hakmem.Alloc(n)
			if addr(b)%uintptr(max(n, 16)) != 0 {
				t.Errorf("Alloc(%d) #%d at %#x not aligned to %d", n, i, addr(b), max(n, 16))
			}
			held = append(held, b)
		}
	}
	for _, b := range held {
		hakmem.Free(b)
	}
}

func TestRealloc(t *testing.T) {
	t.Run("nil", func(t *testing.T) {
		b := hakmem.Realloc(nil, 100)
		checkBlock(t, b, 100, "Realloc(nil)")
		hakmem.Free(b)
		b, err := hakmem.TryRealloc(nil, 3000)
		if err != nil {
			t.Fatal(err)
		}
		checkBlock(t, b, 3000, "TryRealloc(nil)")
		hakmem.Free(b)
		z := hakmem.Alloc(0) // a capacity-0 slice counts as nil
		b = hakmem.Realloc(z, 10)
		checkBlock(t, b, 10, "Realloc(Alloc(0))")
		hakmem.Free(b)
	})
	t.Run("to-zero", func(t *testing.T) {
		for _, n := range []int{16, 5000, 200000, 2 * miB} {
			b := hakmem.Alloc(n)
			z := hakmem.Realloc(b, 0)
			if z == nil || len(z) != 0 {
				t.Errorf("Realloc(b, 0) = nil=%v len %d, want non-nil empty", z == nil, len(z))
			}
			asHakErr(t, hakmem.TryFree(b), hakmem.ErrDoubleFree, "TryFree after Realloc(b, 0)")
			if err := hakmem.TryFree(z); err != nil {
				t.Errorf("TryFree(Realloc(b, 0)): %v", err)
			}
			b = hakmem.Alloc(n)
			z, err := hakmem.TryRealloc(b, 0)
			if err != nil || z == nil || len(z) != 0 {
				t.Errorf("TryRealloc(b, 0) = %v nil=%v", err, z == nil)
			}
			asHakErr(t, hakmem.TryFree(b), hakmem.ErrDoubleFree, "TryFree after TryRealloc(b, 0)")
			hakmem.Free(z)
		}
	})
	t.Run("across-tiers", func(t *testing.T) {
		steps := []int{16, 2 * kiB, 100 * kiB, 3 * miB, 100 * kiB, 2 * kiB, 16, 1, 40 * kiB, 700 * kiB, 5 * miB, 1*miB + 1, 33, 0}
		b := hakmem.Alloc(7)
		fill(b, 100)
		for i, n := range steps {
			prevLen := len(b)
			nb := hakmem.Realloc(b, n)
			if n == 0 {
				if nb == nil || len(nb) != 0 {
					t.Fatalf("Realloc to 0: nil=%v len %d", nb == nil, len(nb))
				}
				hakmem.Free(nb)
				break
			}
			if len(nb) != n {
				t.Fatalf("Realloc %d -> %d: len %d", prevLen, n, len(nb))
			}
			keep := min(prevLen, n)
			if off := checkFill(nb[:keep], uint64(100+i)); off >= 0 {
				t.Fatalf("Realloc %d -> %d lost contents at offset %d", prevLen, n, off)
			}
			checkBlock(t, nb, n, "Realloc") // writes the first and last usable byte
			b = nb
			fill(b, uint64(101+i))
		}
	})
	t.Run("in-place-sizes", func(t *testing.T) {
		// Growth and shrink by a byte at a time around class boundaries.
		b := hakmem.Alloc(1)
		fill(b, 0)
		seed := uint64(0)
		for n := 2; n <= 3000; n += 1 + n/64 {
			nb := hakmem.Realloc(b, n)
			if off := checkFill(nb[:len(b)], seed); off >= 0 {
				t.Fatalf("Realloc %d -> %d lost contents at %d", len(b), n, off)
			}
			seed++
			fill(nb, seed)
			b = nb
		}
		for n := len(b) - 1; n >= 1; n -= 1 + n/64 {
			nb := hakmem.Realloc(b, n)
			if len(nb) != n {
				t.Fatalf("Realloc shrink to %d: len %d", n, len(nb))
			}
			if off := checkFill(nb, seed); off >= 0 {
				t.Fatalf("Realloc shrink %d -> %d lost contents at %d", len(b), n, off)
			}
			b = nb
			seed++
			fill(b, seed)
		}
		hakmem.Free(b)
	})
	t.Run("short-len", func(t *testing.T) {
		// Only len(b) bytes are promised to survive; passing a shortened
		// slice moves (at least) its length.
		b := hakmem.Alloc(1000)
		fill(b, 9)
		nb := hakmem.Realloc(b[:10], 50000)
		if len(nb) != 50000 {
			t.Fatalf("len %d", len(nb))
		}
		if off := checkFill(nb[:10], 9); off >= 0 {
			t.Errorf("Realloc(b[:10], 50000) lost byte %d", off)
		}
		hakmem.Free(nb)
	})
}

func TestCallocZeroesReusedMemory(t *testing.T) {
	sizes := []int{1, 16, 100, 1000, 1024, 5000, 40000, 60000, 200000, miB, 3 * miB}
	for _, n := range sizes {
		t.Run(sizeName(n), func(t *testing.T) {
			const k = 8
			var held [][]byte
			for i := 0; i < k; i++ {
				b := hakmem.Alloc(n)
				for j := range b[:cap(b)] {
					b[:cap(b)][j] = 0xFF
				}
				held = append(held, b)
			}
			for _, b := range held {
				hakmem.Free(b)
			}
			held = held[:0]
			for i := 0; i < k; i++ {
				var b []byte
				if i%2 == 0 {
					b = hakmem.Calloc(n)
				} else {
					var err error
					if b, err = hakmem.TryCalloc(n); err != nil {
						t.Fatal(err)
					}
				}
				if off := firstNonZero(b); off >= 0 {
					t.Fatalf("Calloc(%d) #%d of recycled memory: byte %d is %#x, not zero", n, i, off, b[off])
				}
				checkBlock(t, b, n, "Calloc") // writes the first and last usable byte
				held = append(held, b)
			}
			// Again, on blocks that checkBlock just wrote to.
			for _, b := range held {
				hakmem.Free(b)
			}
			for i := 0; i < k; i++ {
				b := hakmem.Calloc(n)
				if off := firstNonZero(b); off >= 0 {
					t.Fatalf("Calloc(%d) #%d: byte %d is %#x, not zero", n, i, off, b[off])
				}
				held[i] = b
			}
			for _, b := range held {
				hakmem.Free(b)
			}
		})
	}
}

func TestFreeOnOtherGoroutine(t *testing.T) {
	const n = 2000
	ch := make(chan []byte, 64)
	var wg sync.WaitGroup
	wg.Go(func() {
		for b := range ch {
			if off := checkFill(b, blockSeed(b, 1)); off >= 0 {
				t.Errorf("block of %d corrupted at %d", len(b), off)
			}
			if err := hakmem.TryFree(b); err != nil {
				t.Errorf("remote free: %v", err)
			}
		}
	})
	for i := 0; i < n; i++ {
		b := hakmem.Alloc(1 + i%3000)
		fill(b, blockSeed(b, 1))
		ch <- b
		if i%500 == 0 {
			runtime.Gosched()
		}
	}
	close(ch)
	wg.Wait()
	checkWorks(t)
}

func TestRelease(t *testing.T) {
	var held, kept [][]byte
	for i := 0; i < 200; i++ {
		b := hakmem.Alloc(1 + (i*7919)%(300*kiB))
		if i%10 == 0 {
			fill(b, blockSeed(b, 77))
			kept = append(kept, b)
		} else {
			held = append(held, b)
		}
	}
	held = append(held, hakmem.Alloc(2*miB), hakmem.Alloc(5*miB))
	for _, n := range []int{3 * miB, 16, 40000} {
		b := hakmem.Alloc(n)
		fill(b, blockSeed(b, 77))
		kept = append(kept, b)
	}
	for _, b := range held {
		hakmem.Free(b)
	}
	// Release with blocks of every tier still live: they must survive.
	hakmem.Release()
	for _, b := range kept {
		if off := checkFill(b, blockSeed(b, 77)); off >= 0 {
			t.Errorf("live %d-byte block corrupted at %d by Release", len(b), off)
		}
		if err := hakmem.TryFree(b); err != nil {
			t.Errorf("TryFree of a block that was live across Release: %v", err)
		}
	}
	before := hakmem.ReadStats()
	hakmem.Release()
	after := hakmem.ReadStats()
	if after.MappedBytes > before.MappedBytes {
		t.Errorf("Release grew MappedBytes: %d -> %d", before.MappedBytes, after.MappedBytes)
	}
	statsIdentity(t, after, "after Release")
	t.Logf("Release: MappedBytes %d -> %d, CachedBytes %d -> %d, Segments %d -> %d",
		before.MappedBytes, after.MappedBytes, before.CachedBytes, after.CachedBytes, before.Segments, after.Segments)
	hakmem.Release() // twice in a row is fine
	checkWorks(t)
}
