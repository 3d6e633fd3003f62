package hakmem_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hakmem-go/hakmem"
)

var siteSeq atomic.Int64

// uniqueName gives each NewSite its own name, also under -count=N.
func uniqueName(base string) string {
	return fmt.Sprintf("hakmem_test.%s#%d", base, siteSeq.Add(1))
}

func siteStats(name string) (hakmem.SiteStats, bool) {
	for _, s := range hakmem.ReadStats().Sites {
		if s.Name == name {
			return s, true
		}
	}
	return hakmem.SiteStats{}, false
}

func TestSiteCounts(t *testing.T) {
	name := uniqueName("TestSiteCounts")
	site := hakmem.NewSite(name)
	before, _ := siteStats(name)
	var held [][]byte
	var bytes uint64
	sizes := []int{1, 17, 300, 1024, 5000, 70000, 2 * miB}
	for i, n := range sizes {
		var b []byte
		switch i % 3 {
		case 0:
			b = site.Alloc(n)
		case 1:
			b = site.Calloc(n)
			if off := firstNonZero(b); off >= 0 {
				t.Errorf("Site.Calloc(%d) not zeroed at %d", n, off)
			}
		case 2:
			var err error
			if b, err = site.TryAlloc(n); err != nil {
				t.Fatalf("Site.TryAlloc(%d): %v", n, err)
			}
		}
		checkBlock(t, b, n, "Site.Alloc")
		held = append(held, b)
		bytes += uint64(n)
	}
	after, ok := siteStats(name)
	if !ok {
		t.Fatalf("ReadStats().Sites has no entry named %q", name)
	}
	if got := after.Allocs - before.Allocs; got != uint64(len(sizes)) {
		t.Errorf("site Allocs grew by %d, want %d", got, len(sizes))
	}
	if got := after.Bytes - before.Bytes; got != bytes {
		t.Errorf("site Bytes grew by %d, want %d", got, bytes)
	}
	// Blocks from a site are ordinary blocks.
	for _, b := range held {
		if err := hakmem.TryFree(b); err != nil {
			t.Errorf("TryFree(site block): %v", err)
		}
	}
}

func TestSiteErrors(t *testing.T) {
	site := hakmem.NewSite("hakmem_test.TestSiteErrors")
	_, err := site.TryAlloc(-1)
	asHakErr(t, err, hakmem.ErrNegativeSize, "Site.TryAlloc(-1)")
	_, err = site.TryAlloc(hakmem.MaxAlloc + 1)
	asHakErr(t, err, hakmem.ErrSizeTooLarge, "Site.TryAlloc(MaxAlloc+1)")
	mustPanic(t, hakmem.ErrNegativeSize, "Site.Alloc(-1)", func() { site.Alloc(-1) })
	mustPanic(t, hakmem.ErrSizeTooLarge, "Site.Calloc(MaxAlloc+1)", func() { site.Calloc(hakmem.MaxAlloc + 1) })
	b := site.Alloc(0)
	if b == nil || len(b) != 0 || cap(b) != 0 {
		t.Errorf("Site.Alloc(0): nil=%v len %d cap %d", b == nil, len(b), cap(b))
	}
	checkWorks(t)
}

func TestSiteConcurrent(t *testing.T) {
	const workers, per = 4, 500
	name := uniqueName("TestSiteConcurrent")
	site := hakmem.NewSite(name)
	before, _ := siteStats(name)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for i := 0; i < per; i++ {
				b := site.Alloc(8 + i%100)
				b[0] = byte(w)
				hakmem.Free(b)
			}
		})
	}
	wg.Wait()
	var bytes uint64
	for i := 0; i < per; i++ {
		bytes += uint64(8 + i%100)
	}
	after, ok := siteStats(name)
	if !ok {
		t.Fatalf("no stats for site %q", name)
	}
	if got := after.Allocs - before.Allocs; got != workers*per {
		t.Errorf("site Allocs grew by %d, want %d", got, workers*per)
	}
	if got := after.Bytes - before.Bytes; got != workers*bytes {
		t.Errorf("site Bytes grew by %d, want %d", got, workers*bytes)
	}
}

// TestSitesDistinct: traffic on one site does not show on another.
func TestSitesDistinct(t *testing.T) {
	na, nb := uniqueName("TestSitesDistinct.a"), uniqueName("TestSitesDistinct.b")
	a, b := hakmem.NewSite(na), hakmem.NewSite(nb)
	hakmem.Free(b.Alloc(10)) // b saw traffic: it has an entry
	sa0, _ := siteStats(na)
	sb0, _ := siteStats(nb)
	for i := 0; i < 10; i++ {
		hakmem.Free(a.Alloc(100))
	}
	hakmem.Free(hakmem.Alloc(100)) // the default site
	sa1, _ := siteStats(na)
	sb1, _ := siteStats(nb)
	if sa1.Allocs-sa0.Allocs != 10 || sa1.Bytes-sa0.Bytes != 1000 {
		t.Errorf("site a: +%d allocs +%d bytes, want +10 +1000", sa1.Allocs-sa0.Allocs, sa1.Bytes-sa0.Bytes)
	}
	if sb1 != sb0 {
		t.Errorf("site b moved without traffic: %+v -> %+v", sb0, sb1)
	}
	if sites := hakmem.ReadStats().Sites; len(sites) == 0 {
		t.Errorf("ReadStats().Sites empty although the default site saw traffic")
	}
}
