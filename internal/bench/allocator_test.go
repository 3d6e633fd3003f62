package bench

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

// conformanceSizes covers every size range the scenarios use, plus odd
// sizes around class boundaries.
var conformanceSizes = []int{1, 7, 8, 15, 16, 17, 100, 1000, 1024, 1025, 4096, 65536, 65537, 262144, 2 << 20, 5 << 20}

// TestAdapterConformance runs the same alloc/free/content checks on every
// registered adapter: lengths are exact, live blocks do not overlap (each
// keeps its own pattern), and freed memory can be reused.
func TestAdapterConformance(t *testing.T) {
	for _, name := range AllocatorNames() {
		t.Run(name, func(t *testing.T) {
			a := newOrSkip(t, name)
			if cl, ok := a.(Closer); ok {
				defer cl.Close()
			}
			if a.Name() != name {
				t.Fatalf("Name() = %q, registered as %q", a.Name(), name)
			}
			for round := 0; round < 3; round++ {
				var live [][]byte
				for i, n := range conformanceSizes {
					b := a.Alloc(n)
					if len(b) != n {
						t.Fatalf("Alloc(%d) returned len %d", n, len(b))
					}
					fill(b, byte(i+round))
					live = append(live, b)
				}
				for i, b := range live {
					if err := check(b, byte(i+round)); err != nil {
						t.Fatalf("round %d, block %d (%d B): %v", round, i, len(b), err)
					}
				}
				for _, b := range live {
					a.Free(b)
				}
			}
			if s, ok := a.(Settler); ok {
				s.Settle()
			}
		})
	}
}

// TestAdapterConcurrent has goroutines allocate, check and free, and free
// blocks allocated by another goroutine (what larson and xmalloc do).
func TestAdapterConcurrent(t *testing.T) {
	const workers, perWorker = 4, 2000
	for _, name := range AllocatorNames() {
		t.Run(name, func(t *testing.T) {
			a := newOrSkip(t, name)
			if cl, ok := a.(Closer); ok {
				defer cl.Close()
			}
			ch := make(chan []byte, 64)
			var wg, consumers sync.WaitGroup
			var bad atomic.Value
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					rng := newRNG(1, w)
					for i := 0; i < perWorker; i++ {
						b := a.Alloc(16 + rng.intn(2000))
						fill(b, byte(len(b)))
						if i%2 == 0 {
							ch <- b // freed by a consumer
						} else {
							if err := check(b, byte(len(b))); err != nil {
								bad.Store(err)
							}
							a.Free(b)
						}
					}
				}(w)
			}
			consumers.Add(1)
			go func() {
				defer consumers.Done()
				for b := range ch {
					if err := check(b, byte(len(b))); err != nil {
						bad.Store(err)
					}
					a.Free(b)
				}
			}()
			wg.Wait()
			close(ch)
			consumers.Wait()
			if err, _ := bad.Load().(error); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// newOrSkip creates the adapter, skipping the test when its allocator is
// not installed here (cgo peers) or not built in (goarena).
func newOrSkip(t *testing.T, name string) Allocator {
	t.Helper()
	a, err := NewAllocator(name)
	if errors.Is(err, ErrNotInstalled) || errors.Is(err, ErrNotBuilt) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

func check(b []byte, v byte) error {
	for i, x := range b {
		if x != v {
			return fmt.Errorf("byte %d of block %p is %#x, want %#x (overlap or corruption)", i, unsafe.SliceData(b), x, v)
		}
	}
	return nil
}

func TestPoolClass(t *testing.T) {
	for _, tc := range []struct{ n, class int }{
		{1, 0}, {16, 0}, {17, 1}, {32, 1}, {33, 2}, {1024, 6}, {1025, 7}, {4 << 20, poolClasses - 1}, {4<<20 + 1, -1},
	} {
		if got := poolClass(tc.n); got != tc.class {
			t.Errorf("poolClass(%d) = %d, want %d", tc.n, got, tc.class)
		}
	}
}

func TestUnknownAllocator(t *testing.T) {
	_, err := NewAllocator("nope")
	if err == nil || !contains(err.Error(), "hakmem, hakmem-minimal, hakmem-fast, hakmem-balanced, hakmem-learning, hakmem-research, hakmem-fixed-64K, hakmem-fixed-128K, hakmem-fixed-256K, hakmem-fixed-512K, hakmem-fixed-1M, go, syncpool, modernc") {
		t.Fatalf("error %v does not list the valid allocators", err)
	}
	if _, err := LookupScenario("nope"); err == nil || !contains(err.Error(), "random-mixed-8192") {
		t.Fatalf("error %v does not list the valid scenarios", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
