package hakmem_test

import (
	"testing"

	"github.com/hakmem-go/hakmem"
)

func classOf(s hakmem.Stats, size int) (hakmem.ClassStats, bool) {
	for _, c := range s.Classes {
		if c.Size == size {
			return c, true
		}
	}
	return hakmem.ClassStats{}, false
}

func TestStatsIdentityQuiescent(t *testing.T) {
	statsIdentity(t, hakmem.ReadStats(), "at start")
	var held [][]byte
	var usable uint64
	sizes := []int{8, 100, 1000, 3000, 20000, 50000, 100000, 700000, 2 * miB, 5*miB + 1}
	before := hakmem.ReadStats()
	for round := 0; round < 5; round++ {
		for _, n := range sizes {
			b := hakmem.Alloc(n)
			held = append(held, b)
			usable += uint64(cap(b))
		}
	}
	mid := hakmem.ReadStats()
	statsIdentity(t, mid, "with blocks held")
	if got := mid.InUseBytes - before.InUseBytes; mid.InUseBytes < before.InUseBytes || got < usable {
		t.Errorf("InUseBytes grew by %d while holding %d usable bytes", int64(mid.InUseBytes)-int64(before.InUseBytes), usable)
	}
	if got := mid.Allocs - before.Allocs; got != uint64(len(held)) {
		t.Errorf("Allocs grew by %d after %d allocations", got, len(held))
	}
	if mid.LargeBlocks < before.LargeBlocks+10 {
		t.Errorf("LargeBlocks %d -> %d while holding 10 large blocks", before.LargeBlocks, mid.LargeBlocks)
	}
	if mid.LargeBytes < before.LargeBytes+5*uint64(2*miB+5*miB+pageSize) {
		t.Errorf("LargeBytes %d -> %d while holding 10 large blocks", before.LargeBytes, mid.LargeBytes)
	}
	if mid.MappedBytes < mid.InUseBytes {
		t.Errorf("MappedBytes %d < InUseBytes %d", mid.MappedBytes, mid.InUseBytes)
	}
	for _, b := range held {
		hakmem.Free(b)
	}
	after := hakmem.ReadStats()
	statsIdentity(t, after, "after freeing")
	if got := after.Frees - mid.Frees; got != uint64(len(held)) {
		t.Errorf("Frees grew by %d after %d frees", got, len(held))
	}
	if after.InUseBytes != before.InUseBytes {
		t.Errorf("InUseBytes %d before, %d after freeing everything", before.InUseBytes, after.InUseBytes)
	}
	if after.LargeBlocks != before.LargeBlocks {
		t.Errorf("LargeBlocks %d before, %d after freeing everything", before.LargeBlocks, after.LargeBlocks)
	}
	if after.Segments < after.SegmentsCached {
		t.Errorf("Segments %d < SegmentsCached %d", after.Segments, after.SegmentsCached)
	}
}

// TestStatsPerClass: allocations and frees of a class size show in that class.
func TestStatsPerClass(t *testing.T) {
	cls := hakmem.ReadStats().Classes
	if len(cls) == 0 {
		t.Fatal("no classes")
	}
	// One class per tier.
	picks := map[string]int{}
	for _, c := range cls {
		if _, ok := picks[c.Tier]; !ok {
			picks[c.Tier] = c.Size
		}
	}
	for tier, size := range picks {
		const k = 20
		s0 := hakmem.ReadStats()
		c0, _ := classOf(s0, size)
		var held [][]byte
		for i := 0; i < k; i++ {
			held = append(held, hakmem.Alloc(size))
		}
		s1 := hakmem.ReadStats()
		c1, _ := classOf(s1, size)
		if c1.Allocs-c0.Allocs != k {
			t.Errorf("%s class %d: Allocs grew by %d after %d allocations", tier, size, c1.Allocs-c0.Allocs, k)
		}
		if c1.InUse-c0.InUse != k {
			t.Errorf("%s class %d: InUse grew by %d with %d blocks held", tier, size, c1.InUse-c0.InUse, k)
		}
		if c1.Slabs < 1 {
			t.Errorf("%s class %d: Slabs %d with blocks held", tier, size, c1.Slabs)
		}
		for _, b := range held {
			hakmem.Free(b)
		}
		s2 := hakmem.ReadStats()
		c2, _ := classOf(s2, size)
		if c2.Frees-c1.Frees != k {
			t.Errorf("%s class %d: Frees grew by %d after %d frees", tier, size, c2.Frees-c1.Frees, k)
		}
		if c2.InUse != c0.InUse {
			t.Errorf("%s class %d: InUse %d before, %d after", tier, size, c0.InUse, c2.InUse)
		}
		statsIdentity(t, s2, "after class "+tier)
	}
}

func TestStatsZeroSizeNotCounted(t *testing.T) {
	s0 := hakmem.ReadStats()
	for i := 0; i < 10; i++ {
		hakmem.Free(hakmem.Alloc(0))
	}
	s1 := hakmem.ReadStats()
	if s1.Allocs != s0.Allocs || s1.Frees != s0.Frees {
		t.Errorf("zero-size allocations counted: Allocs %d -> %d, Frees %d -> %d", s0.Allocs, s1.Allocs, s0.Frees, s1.Frees)
	}
}

func TestStatsAfterRelease(t *testing.T) {
	var held [][]byte
	for i := 0; i < 100; i++ {
		held = append(held, hakmem.Alloc(1+i*997))
	}
	for _, b := range held {
		hakmem.Free(b)
	}
	hakmem.Release()
	s := hakmem.ReadStats()
	statsIdentity(t, s, "after Release")
	checkWorks(t)
	statsIdentity(t, hakmem.ReadStats(), "after Release and reuse")
}
