//go:build unix

package bench

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// rawMmapAlloc is the reference of gc-footprint: memory that has no
// metadata at all. Reserve maps the whole amount with one mmap system call;
// Alloc carves blocks from it with a bump pointer (16-byte aligned) and Free
// does nothing. Without a reservation, or past it, Alloc maps chunks of at
// least rawMmapChunk bytes. Close unmaps everything.
type rawMmapAlloc struct {
	mu   sync.Mutex
	cur  []byte   // the unused rest of the current mapping; guarded by mu
	maps [][]byte // every mapping, for Close; guarded by mu
}

// rawMmapChunk is the smallest mapping Alloc makes when it runs out.
const rawMmapChunk = 64 << 20

func init() {
	register("raw-mmap", "raw-mmap: one mmap of the whole amount carved by a bump pointer, no free, no metadata (gc-footprint only)", false,
		func() (Allocator, error) { return &rawMmapAlloc{}, nil })
}

func (*rawMmapAlloc) Name() string { return "raw-mmap" }

// Reserve maps n bytes at once: the blocks that follow come from it.
func (r *rawMmapAlloc) Reserve(n int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mapLocked(n)
}

func (r *rawMmapAlloc) mapLocked(n int64) error {
	n = (n + 4095) &^ 4095
	if n <= 0 {
		n = 4096
	}
	b, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return fmt.Errorf("raw-mmap: mmap %d bytes: %w", n, err)
	}
	r.maps = append(r.maps, b)
	r.cur = b
	return nil
}

func (r *rawMmapAlloc) Alloc(n int) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	step := align16(max(n, 1))
	if len(r.cur) < step {
		if err := r.mapLocked(max(int64(step), rawMmapChunk)); err != nil {
			panic(err.Error())
		}
	}
	b := r.cur[:n:n]
	r.cur = r.cur[step:]
	return b
}

func (*rawMmapAlloc) Free([]byte) {}

// Close unmaps every mapping: the blocks handed out are gone.
func (r *rawMmapAlloc) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first error
	for _, b := range r.maps {
		if err := unix.Munmap(b); err != nil && first == nil {
			first = err
		}
	}
	r.maps, r.cur = nil, nil
	return first
}
