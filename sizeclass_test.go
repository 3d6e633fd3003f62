package hakmem

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSizeClassTable checks the generated table against the promises the
// API makes: waste, alignment, exact division, lookup tables, tiers.
func TestSizeClassTable(t *testing.T) {
	for c := range classes {
		ci := &classes[c]
		if ci.size%16 != 0 {
			t.Errorf("class %d: size %d not 16-aligned", c, ci.size)
		}
		if c > 0 && ci.size <= classes[c-1].size {
			t.Errorf("class %d: not increasing", c)
		}
		slab := int(ci.pages) * pageSize
		if int(ci.nblocks) != slab/int(ci.size) || ci.nblocks == 0 || ci.pages > pagesPerSegment {
			t.Errorf("class %d: %d blocks in %d pages", c, ci.nblocks, ci.pages)
		}
		if tail := slab - int(ci.nblocks)*int(ci.size); tail > slab/8 {
			t.Errorf("class %d: slab tail %d B over 1/8", c, tail)
		}
		if ci.batch == 0 || (ci.cap != 0 && ci.cap < ci.batch) {
			t.Errorf("class %d: cap %d batch %d", c, ci.cap, ci.batch)
		}
		for _, off := range []int{0, int(ci.size) - 1, int(ci.size), slab - 1, (int(ci.nblocks) - 1) * int(ci.size)} {
			if got := int(uint64(off) * ci.divMul >> divShift); got != off/int(ci.size) {
				t.Errorf("class %d: divMul wrong at %d", c, off)
			}
		}
		// The boundary test: around every block start, at the slab's tail
		// and below its base (offsets wrap), it accepts exactly the block
		// starts and gives their index.
		size := int(ci.size)
		var offs []int
		for k := -2; k <= int(ci.nblocks)+2; k++ {
			offs = append(offs, k*size-1, k*size, k*size+1, k*size+size/2)
		}
		offs = append(offs, slab-1, slab, -slab, 1<<21, -(1 << 21))
		for _, off := range offs {
			idx := blockAt(uintptr(off), ci.blockInv, ci.blockRot)
			want := off >= 0 && off%size == 0 && off/size < int(ci.nblocks)
			if got := idx < uint64(ci.nblocks); got != want || (want && idx != uint64(off/size)) {
				t.Errorf("class %d: boundary test at offset %d: index %d, a block start: %v, want %v", c, off, idx, got, want)
			}
		}
	}
	if classes[numClasses-1].size != maxSmall {
		t.Fatalf("last class %d, want %d", classes[numClasses-1].size, maxSmall)
	}
	for n := uintptr(1); n <= maxSmall; n++ {
		c := sizeClass(n)
		size := uintptr(classes[c].size)
		if size < n || (c > 0 && uintptr(classes[c-1].size) >= n) {
			t.Fatalf("size %d -> class %d (%d B): not the smallest fit", n, c, size)
		}
		if n > 128 && (size-n)*8 > n {
			t.Fatalf("size %d rounds to %d: waste over 12.5%%", n, size)
		}
		// Blocks sit at k*size from a 64 KiB-aligned slab, so a block is
		// aligned to the lowest set bit of size: for a power of two n up
		// to 4 KiB that must be at least n.
		if n&(n-1) == 0 && n <= 4096 && size%n != 0 {
			t.Fatalf("power of two %d rounds to %d: natural alignment lost", n, size)
		}
		want := tierL25
		if n <= 1024 {
			want = tierTiny
		} else if n < 64<<10 {
			want = tierMid
		}
		if n > 1024 && n < 64<<10 && classes[c].tier != tierMid && size >= 64<<10 {
			continue // a mid request rounded into the first l2.5 class
		}
		if classes[c].tier != want {
			t.Fatalf("size %d: tier %v, want %v", n, classes[c].tier, want)
		}
	}
}

// TestSizeClassesGenerated regenerates the table and compares it with the
// committed file, so a change to the generator cannot go unnoticed.
func TestSizeClassesGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator")
	}
	out := filepath.Join(t.TempDir(), "sizeclasses.go")
	cmd := exec.Command("go", "run", "./internal/mksizeclasses", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator: %v\n%s", err, b)
	}
	want, _ := os.ReadFile(out)
	got, _ := os.ReadFile("sizeclasses.go")
	if string(got) != string(want) {
		t.Fatal("sizeclasses.go is stale: run go generate")
	}
}

func TestPageSet(t *testing.T) {
	var ps pageSet
	if !ps.empty() || ps.longestFreeRun() != pagesPerSegment || ps.firstFreeRun(pagesPerSegment) != 0 {
		t.Fatal("empty set")
	}
	ps.set(0, 1, true)
	ps.set(60, 10, true) // straddles the word boundary
	if ps.empty() || !ps.get(63) || !ps.get(64) || ps.get(70) {
		t.Fatal("set/get")
	}
	ps.set(10, 1, true) // free runs now: 1..9, 11..59, 70..127
	if got := ps.longestFreeRun(); got != pagesPerSegment-70 {
		t.Fatalf("longest run %d", got)
	}
	if got := ps.firstFreeRun(9); got != 1 {
		t.Fatalf("first run of 9 at %d", got)
	}
	if got := ps.firstFreeRun(10); got != 11 {
		t.Fatalf("first run of 10 at %d", got)
	}
	if got := ps.firstFreeRun(50); got != 70 {
		t.Fatalf("first run of 50 at %d", got)
	}
	ps.set(60, 10, false)
	ps.set(10, 1, false)
	ps.set(0, 1, false)
	if !ps.empty() {
		t.Fatal("clear")
	}
}
