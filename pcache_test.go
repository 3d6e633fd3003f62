package hakmem

import (
	"testing"
	"unsafe"
)

// TestSlotArraysLazy: a new per-P cache maps slot arrays for the caps in
// force, not for the most the capacity learner may give (a P that used
// every tiny class kept 136 KiB of 628 KiB of arrays resident), and a
// raised cap grows its class's array once, keeping the stack.
func TestSlotArraysLazy(t *testing.T) {
	if checkOn() {
		t.Skip("checked mode has no per-P caching")
	}
	scale := cfg().pcacheScale
	before := metaMapped.Load()
	var pc pcache
	pc.makeSlots(scale)
	mapped := metaMapped.Load() - before
	var want uintptr
	for c := range pc.lists {
		l := &pc.lists[c]
		if l.max != defaultCap(c, scale) || l.cap != l.max {
			t.Fatalf("class %d: max %d cap %d, want the default cap %d", c, l.max, l.cap, defaultCap(c, scale))
		}
		want += uintptr(l.max) * 8
	}
	want = (want + osPageSize - 1) &^ (osPageSize - 1)
	if mapped != uint64(want) {
		t.Errorf("a cache's slot arrays mapped %d bytes, want %d", mapped, want)
	}
	if mapped > 64<<10 {
		t.Errorf("a cache's slot arrays take %d KiB", mapped>>10)
	}

	// Grow class 5 with three blocks (stand-in addresses) on its stack.
	c := 5
	l := &pc.lists[c]
	for i := range uintptr(3) {
		*(*uintptr)(ptr(l.slots + i*8)) = 0x1000 * (i + 1)
	}
	l.n = 3
	old := l.slots
	l.grow(c, scale, l.max) // not above max: nothing moves
	if l.slots != old {
		t.Fatal("grow to the current size moved the array")
	}
	l.grow(c, scale, l.max+1)
	if ceil := capCeiling(c, defaultCap(c, scale)); l.max != ceil {
		t.Errorf("grown to %d slots, want the ceiling %d", l.max, ceil)
	}
	if l.slots == old || l.n != 3 {
		t.Fatalf("after grow: slots moved %v, n %d", l.slots != old, l.n)
	}
	got := unsafe.Slice((*uintptr)(ptr(l.slots)), l.n)
	for i, p := range got {
		if p != 0x1000*uintptr(i+1) {
			t.Errorf("slot %d holds %#x after grow", i, p)
		}
	}
	l.n = 0
}
