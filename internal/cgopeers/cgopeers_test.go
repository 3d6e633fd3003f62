//go:build hakmem_cgo && cgo

package cgopeers

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"unsafe"
)

// TestMain restarts the test binary with the glibc tunable that jemalloc
// needs to be opened with dlopen (see StaticTLSTunable).
func TestMain(m *testing.M) {
	if err := ReexecWithStaticTLS(); err != nil {
		fmt.Fprintln(os.Stderr, "cgopeers: re-exec with GLIBC_TUNABLES failed:", err)
	}
	os.Exit(m.Run())
}

var sizes = []uintptr{0, 1, 7, 8, 16, 64, 100, 1000, 1024, 4096, 65536, 1 << 20, 4 << 20}

func installed(t testing.TB) []Peer {
	var out []Peer
	for _, p := range Peers() {
		if !p.Installed {
			t.Logf("skipping %s: %s (run scripts/install-peers.sh)", p.Name, p.Lib)
			continue
		}
		out = append(out, p)
	}
	return out
}

func TestPeersListed(t *testing.T) {
	if !Enabled {
		t.Fatal("Enabled is false in the cgo build")
	}
	ps := Peers()
	want := []string{"cgo-glibc", "cgo-mimalloc", "cgo-jemalloc"}
	if len(ps) != len(want) {
		t.Fatalf("Peers() has %d peers, want %d", len(ps), len(want))
	}
	for i, p := range ps {
		if p.Name != want[i] {
			t.Errorf("peer %d is %s, want %s", i, p.Name, want[i])
		}
		if p.Installed != (p.Malloc != nil && p.Free != nil) {
			t.Errorf("%s: Installed=%v but Malloc/Free nil-ness disagrees", p.Name, p.Installed)
		}
		t.Logf("%-13s installed=%-5v %s", p.Name, p.Installed, p.Lib)
	}
}

// fill writes a pattern that depends on the block and the offset; check reads it back.
func fill(b []byte, seed byte) {
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
}

func check(t *testing.T, name string, b []byte, seed byte) {
	t.Helper()
	for i := range b {
		if b[i] != byte(i*31)^seed {
			t.Fatalf("%s: block of %d bytes: byte %d = %#x, want %#x", name, len(b), i, b[i], byte(i*31)^seed)
		}
	}
}

func TestConformance(t *testing.T) {
	for _, p := range installed(t) {
		// Many blocks live at once, so that overlapping blocks would show.
		ptrs := make([]unsafe.Pointer, len(sizes))
		for i, n := range sizes {
			ptrs[i] = p.Malloc(n)
			if ptrs[i] == nil && n > 0 {
				t.Fatalf("%s: Malloc(%d) = nil", p.Name, n)
			}
			if uintptr(ptrs[i])%8 != 0 {
				t.Errorf("%s: Malloc(%d) = %p, not 8-byte aligned", p.Name, n, ptrs[i])
			}
			if n > 0 {
				fill(unsafe.Slice((*byte)(ptrs[i]), n), byte(i))
			}
		}
		for i, n := range sizes {
			if n > 0 {
				check(t, p.Name, unsafe.Slice((*byte)(ptrs[i]), n), byte(i))
			}
			p.Free(ptrs[i])
		}
	}
}

// TestCrossThreadFree: blocks allocated on one goroutine (OS thread) are
// freed on another, as in larson.
func TestCrossThreadFree(t *testing.T) {
	const blocks = 2000
	for _, p := range installed(t) {
		type block struct {
			p    unsafe.Pointer
			seed byte
		}
		ch := make(chan block, 64)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range ch {
				check(t, p.Name, unsafe.Slice((*byte)(q.p), 48), q.seed)
				p.Free(q.p)
			}
		}()
		for i := 0; i < blocks; i++ {
			q := p.Malloc(48)
			fill(unsafe.Slice((*byte)(q), 48), byte(i))
			ch <- block{q, byte(i)}
		}
		close(ch)
		wg.Wait()
	}
}

func BenchmarkMallocFree64(b *testing.B) {
	for _, p := range installed(b) {
		b.Run(p.Name, func(b *testing.B) {
			for b.Loop() {
				p.Free(p.Malloc(64))
			}
		})
	}
}
