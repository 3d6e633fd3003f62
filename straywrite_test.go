package hakmem_test

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"unsafe"

	"github.com/hakmem-go/hakmem"
)

// TestStrayWriteIntoFreedBlock writes, into a freed block's first or
// second word, each of the values a use-after-free bug or an attacker
// would: a Go-heap address, the address of a live block, an interior
// address, a wild value, zero, the block's own address. Then it allocates
// on: hakmem must never hand out memory outside its own blocks, never a
// block that is live, and never fault. hakmem follows no link stored in a
// free block (its free lists are arrays and bitmaps outside the blocks), so
// a write into word 0 changes nothing; a write into word 1, the free
// cookie, is reported as ErrCorrupted when the block comes up for reuse,
// and the block is dropped. Several class sizes, every value, both words.
// It runs in a child process, because the failure it guards against is a
// crash.
func TestStrayWriteIntoFreedBlock(t *testing.T) {
	if !isolate(t) {
		return
	}
	runtime.LockOSThread() // one P: the freed blocks are the next to come back
	defer runtime.UnlockOSThread()
	goHeap := new([64]byte)
	for _, size := range []int{16, 64, 200, 1024, 3000, 40000} {
		for word := 0; word < 2; word++ {
			for _, value := range []string{"go-heap", "live", "interior", "wild", "zero", "self"} {
				t.Run(fmt.Sprintf("%d/word%d/%s", size, word, value), func(t *testing.T) {
					strayWrite(t, size, word, value, uintptr(unsafe.Pointer(goHeap)))
				})
			}
		}
	}
	runtime.KeepAlive(goHeap)
	checkWorks(t)
	if n := hakmem.ReadStats().Corrupted; n < 4*6 && hakmem.ReadStats().PinVariant == "procpin" {
		t.Errorf("Stats.Corrupted = %d, want at least 24 (one per value written over the cookie, sizes up to 1 KiB)", n)
	}
}

func strayWrite(t *testing.T, size, word int, value string, goHeap uintptr) {
	live := map[uintptr]bool{}
	var held [][]byte
	for range 64 {
		b := hakmem.Alloc(size)
		fill(b, uint64(addr(b)))
		live[addr(b)] = true
		held = append(held, b)
	}
	// Free every other block: they sit in the P's stack, or (classes with
	// small caps) in the transfer cache and on their slab.
	var freed [][]byte
	for i := 0; i < len(held); i += 2 {
		freed = append(freed, held[i])
		delete(live, addr(held[i]))
		hakmem.Free(held[i])
	}
	victim := freed[len(freed)-1] // the last freed: the head of the list
	liveBlock := held[1]
	v := map[string]uintptr{
		"go-heap":  goHeap,
		"live":     addr(liveBlock),
		"interior": addr(liveBlock) + 8,
		"wild":     0xdead_beef_0bad_f00d,
		"zero":     0,
		"self":     addr(victim),
	}[value]
	*(*uintptr)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(victim[:cap(victim)])), 8*word)) = v // the stray write (a use after free)
	var corrupted int
	var got [][]byte
	for range 200 {
		b, err := hakmem.TryAlloc(size)
		if errors.Is(err, hakmem.ErrCorrupted) {
			corrupted++
			continue
		}
		if err != nil {
			t.Fatalf("TryAlloc(%d): %v", size, err)
		}
		p := addr(b)
		if live[p] {
			t.Fatalf("TryAlloc(%d) handed out %#x, a live block", size, p)
		}
		if p == goHeap || p >= addr(liveBlock) && p < addr(liveBlock)+uintptr(cap(liveBlock)) {
			t.Fatalf("TryAlloc(%d) handed out %#x, not a block of its own", size, p)
		}
		if n, err := hakmem.TryRealloc(b, len(b)); err != nil || len(n) != len(b) {
			t.Fatalf("TryAlloc(%d) handed out %#x, which hakmem does not know as a block: %v", size, p, err)
		}
		fill(b, uint64(p))
		live[p] = true
		got = append(got, b)
	}
	if word == 1 && corrupted == 0 && size <= 1024 && hakmem.ReadStats().PinVariant == "procpin" {
		// Every value destroys the cookie, and the 200 allocations reach
		// the victim wherever it went: the P's stack, the transfer cache
		// or its slab. (In classes of a few blocks per slab, the victim's
		// slab may empty and go back to the page heap: the write then
		// landed in free pages, which a new slab overwrites, and nothing
		// is due. The portable pin may serve the allocations from another
		// slot than the one the victim was freed to.)
		t.Errorf("a stray %s over a freed block's cookie was never reported", value)
	}
	if word == 0 && corrupted != 0 {
		t.Errorf("a stray %s in word 0, which hakmem never reads, was reported %d times", value, corrupted)
	}
	for i := 1; i < len(held); i += 2 {
		// The stray write itself went into a freed block: every live
		// block must be as the test wrote it.
		if off := checkFill(held[i], uint64(addr(held[i]))); off >= 0 {
			t.Fatalf("live block %#x overwritten at %d", addr(held[i]), off)
		}
		hakmem.Free(held[i])
	}
	for _, b := range got {
		if off := checkFill(b, uint64(addr(b))); off >= 0 {
			t.Fatalf("block %#x overwritten at %d: handed out twice", addr(b), off)
		}
		hakmem.Free(b)
	}
}
