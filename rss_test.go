//go:build linux && !hakmem_nommap

package hakmem

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rss is the process's resident set in bytes, from /proc/self/statm.
func rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm:", err)
	}
	f := strings.Fields(string(b))
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n * int64(os.Getpagesize())
}

// workingSet allocates 1 GiB across the tiers, touches every page, and
// frees it all: 512 MiB of large blocks (4 MiB), 256 MiB of l2.5 blocks
// (256 KiB and 640 KiB) and 256 MiB of mid blocks (32 KiB), on one
// goroutine locked to its thread (the frees land in one P's cache, which
// Release can flush; other Ps' caches are what the slack below is for).
func workingSet(t *testing.T) (held1G int64) {
	t.Helper()
	var held [][]byte
	add := func(size, total int) {
		for n := 0; n < total; n += size {
			b := Alloc(size)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			held = append(held, b)
		}
	}
	add(4<<20, 512<<20)
	add(256<<10, 128<<20)
	add(640<<10, 128<<20)
	add(32<<10, 256<<20)
	held1G = rss(t)
	for _, b := range held {
		Free(b)
	}
	return held1G
}

// rssSlack is how far above its baseline RSS may stay after the working
// set is returned: the bound.
const rssSlack = 16 << 20

func TestRSSAfterRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("touches 1 GiB")
	}
	withConfig(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	Release()
	runtime.GC()
	base := rss(t)
	held := workingSet(t)
	peak := rss(t)
	Release()
	after := rss(t)
	st := ReadStats()
	t.Logf("RSS: base %d MiB, holding 1 GiB %d MiB, after freeing it %d MiB, after Release %d MiB; hakmem still maps %d MiB (%d segments), %d bytes cached (other Ps' caches)",
		base>>20, held>>20, peak>>20, after>>20, st.MappedBytes>>20, st.Segments, st.CachedBytes)
	if after-base > rssSlack {
		t.Fatalf("RSS %d MiB above the baseline after Release (bound %d MiB)", (after-base)>>20, rssSlack>>20)
	}
}

func TestRSSScavenger(t *testing.T) {
	if testing.Short() {
		t.Skip("touches 1 GiB")
	}
	config := withConfig(t)
	config.warmNs, config.coldNs, config.decayNs = 50*ms, 100*ms, 200*ms
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	Release()
	runtime.GC()
	base := rss(t)
	start := time.Now()
	workingSet(t)
	flushOwn() // what the next slow path of this P would do; not Release
	freed := time.Now()
	deadline := freed.Add(time.Duration(config.decayNs) + time.Second)
	for {
		after := rss(t)
		if after-base <= rssSlack {
			t.Logf("RSS back within %d MiB of the baseline %v after the frees (decay %v); working set took %v",
				rssSlack>>20, time.Since(freed).Round(time.Millisecond), time.Duration(config.decayNs), freed.Sub(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			st := ReadStats()
			t.Fatalf("RSS %d MiB above the baseline after the decay + 1 s; %v, %d segments, %d cached large blocks",
				(after-base)>>20, st, st.Segments, st.BigCacheBlocks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRSSFragmented keeps one 32 KiB block in every 2 MiB segment of a
// 256 MiB working set: no segment empties, so only purging the free pages
// of live segments (Release's MADV_DONTNEED of dirty page runs) returns the
// memory.
func TestRSSFragmented(t *testing.T) {
	if testing.Short() {
		t.Skip("touches 256 MiB")
	}
	withConfig(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	Release()
	runtime.GC()
	base := rss(t)
	var held, kept [][]byte
	for n := 0; n < 256<<20; n += 32 << 10 {
		b := Alloc(32 << 10)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		held = append(held, b)
	}
	for i, b := range held {
		if i%64 == 0 {
			kept = append(kept, b)
		} else {
			Free(b)
		}
	}
	before := rss(t)
	Release()
	after := rss(t)
	st := ReadStats()
	t.Logf("RSS: base %d MiB, 1 block in 64 kept %d MiB, after Release %d MiB; %d segments live",
		base>>20, before>>20, after>>20, st.Segments)
	if after-base > rssSlack+int64(len(kept))*(32<<10) {
		t.Fatalf("RSS %d MiB above the baseline with %d MiB held", (after-base)>>20, len(kept)*32>>10)
	}
	for _, b := range kept {
		Free(b)
	}
}
