package hakmem_test

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/hakmem-go/hakmem"
)

// TestAlignedAllocEveryPowerOfTwo: every power-of-two alignment from 1 to
// 2 MiB, for sizes below, at and above it, gives an aligned block of the
// asked length that Free takes back; bad alignments are refused.
func TestAlignedAllocEveryPowerOfTwo(t *testing.T) {
	before := hakmem.ReadStats().InUseBytes
	for align := 1; align <= 2<<20; align *= 2 {
		for _, size := range []int{1, align/2 + 1, align, align + 1, 3*align + 5, 100000} {
			b := hakmem.AlignedAlloc(size, align)
			if len(b) != size || addr(b)%uintptr(align) != 0 || cap(b) != hakmem.UsableSize(b) {
				t.Fatalf("AlignedAlloc(%d, %d): len %d cap %d at %#x", size, align, len(b), cap(b), addr(b))
			}
			fill(b, uint64(size))
			if off := checkFill(b, uint64(size)); off >= 0 {
				t.Fatalf("AlignedAlloc(%d, %d): overwritten at %d", size, align, off)
			}
			hakmem.Free(b)
		}
	}
	if after := hakmem.ReadStats().InUseBytes; after != before {
		t.Errorf("in use %d after freeing every aligned block, %d before", after, before)
	}
	for _, align := range []int{0, -4, 3, 48, 4 << 20} {
		_, err := hakmem.TryAlignedAlloc(64, align)
		asHakErr(t, err, hakmem.ErrBadAlignment, "TryAlignedAlloc with a bad alignment")
	}
	_, err := hakmem.TryAlignedAlloc(-1, 64)
	asHakErr(t, err, hakmem.ErrNegativeSize, "TryAlignedAlloc(-1)")
}

// TestCloneString: an off-heap copy, freed with FreeString; foreign and
// interior strings are refused.
func TestCloneString(t *testing.T) {
	src := strings.Repeat("hakmem ", 100)
	s := hakmem.CloneString(src)
	if s != src || unsafe.StringData(s) == unsafe.StringData(src) {
		t.Fatal("CloneString did not copy")
	}
	mustPanic(t, hakmem.ErrInvalidPointer, "FreeString of a substring", func() { hakmem.FreeString(s[1:]) })
	hakmem.FreeString(s)
	mustPanic(t, hakmem.ErrDoubleFree, "FreeString twice", func() { hakmem.FreeString(s) })
	mustPanic(t, hakmem.ErrInvalidPointer, "FreeString of a Go string", func() { hakmem.FreeString(src) })
	if hakmem.CloneString("") != "" {
		t.Fatal("CloneString of the empty string")
	}
	hakmem.FreeString("")
}

// TestAppendGrowSlice: off-heap slices grow like append does, keep their
// elements, zero the new room, and free with FreeSlice.
func TestAppendGrowSlice(t *testing.T) {
	before := hakmem.ReadStats().InUseBytes
	type pair struct{ A, B int32 }
	var s []pair
	var ref []pair
	for i := range 100000 {
		v := pair{int32(i), int32(-i)}
		s = hakmem.Append(s, v)
		ref = append(ref, v)
	}
	if len(s) != len(ref) {
		t.Fatalf("len %d, want %d", len(s), len(ref))
	}
	for i := range ref {
		if s[i] != ref[i] {
			t.Fatalf("element %d: %v, want %v", i, s[i], ref[i])
		}
	}
	g := hakmem.GrowSlice(s, 1000)
	if len(g) != len(s) || cap(g)-len(g) < 1000 || g[:cap(g)][len(g)+999] != (pair{}) {
		t.Fatalf("GrowSlice: len %d cap %d", len(g), cap(g))
	}
	hakmem.FreeSlice(g)
	if after := hakmem.ReadStats().InUseBytes; after != before {
		t.Errorf("in use %d after FreeSlice, %d before", after, before)
	}
	mustPanic(t, hakmem.ErrPointerType, "GrowSlice of strings", func() { hakmem.GrowSlice([]string(nil), 1) })
	_, err := hakmem.TryGrowSlice([]pair(nil), -1)
	asHakErr(t, err, hakmem.ErrNegativeSize, "TryGrowSlice(-1)")
}

// TestTryTypedAndSiteVariants: the error-returning typed helpers and the
// typed helpers and Realloc through a site.
func TestTryTypedAndSiteVariants(t *testing.T) {
	type named struct{ Name string }
	if _, err := hakmem.TryNew[named](); err == nil {
		t.Fatal("TryNew of a pointerful type")
	}
	_, err := hakmem.TryMakeSlice[uint64](-1)
	asHakErr(t, err, hakmem.ErrNegativeSize, "TryMakeSlice(-1)")
	p, err := hakmem.TryNew[[4]uint64]()
	if err != nil || *p != ([4]uint64{}) {
		t.Fatalf("TryNew: %v %v", p, err)
	}
	hakmem.Delete(p)
	site := hakmem.NewSite("shapes-test")
	before := hakmem.ReadStats()
	v := hakmem.SiteNew[[8]uint64](site)
	xs := hakmem.SiteMakeSlice[uint32](site, 1000)
	b := site.Alloc(100)
	copy(b, "keep")
	b = site.Realloc(b, 5000)
	if string(b[:4]) != "keep" || len(b) != 5000 {
		t.Fatalf("Site.Realloc lost the contents: %q", b[:4])
	}
	var n uint64
	for _, s := range hakmem.ReadStats().Sites {
		if s.Name == "shapes-test" {
			n = s.Allocs
		}
	}
	if n < 4 {
		t.Errorf("the site counted %d allocations, want at least 4", n)
	}
	_, err = site.TryRealloc(b, -1)
	asHakErr(t, err, hakmem.ErrNegativeSize, "Site.TryRealloc(-1)")
	_, err = hakmem.TrySiteMakeSlice[*int](site, 3)
	asHakErr(t, err, hakmem.ErrPointerType, "TrySiteMakeSlice of pointers")
	hakmem.Delete(v)
	hakmem.FreeSlice(xs)
	hakmem.Free(b)
	if st := hakmem.ReadStats(); st.InUseBytes != before.InUseBytes {
		t.Errorf("in use %d, %d before", st.InUseBytes, before.InUseBytes)
	}
}
