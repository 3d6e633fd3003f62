//go:build hakmem_cgo

package bench

import (
	"fmt"
	"unsafe"

	"github.com/hakmem-go/hakmem/internal/cgopeers"
)

// cgoAlloc is a C allocator called through cgo, one C call per Alloc or
// Free (package internal/cgopeers): what a Go program pays to use glibc,
// mimalloc or jemalloc directly, the cgo crossing included. Built only with
// the hakmem_cgo tag; not part of the default battle.
type cgoAlloc struct {
	peer cgopeers.Peer
}

func init() {
	for _, p := range cgopeers.Peers() {
		p := p
		doc := fmt.Sprintf("%s: C allocator through cgo (%s)", p.Name, p.Lib)
		register(p.Name, doc, false, func() (Allocator, error) {
			if !p.Installed {
				return nil, fmt.Errorf("%s: %s: %w", p.Name, p.Lib, ErrNotInstalled)
			}
			return &cgoAlloc{peer: p}, nil
		})
	}
}

func (c *cgoAlloc) Name() string { return c.peer.Name }

func (c *cgoAlloc) Alloc(n int) []byte {
	if n == 0 {
		return []byte{}
	}
	p := c.peer.Malloc(uintptr(n))
	if p == nil {
		panic(fmt.Sprintf("%s: malloc(%d) returned NULL", c.peer.Name, n))
	}
	return unsafe.Slice((*byte)(p), n)
}

func (c *cgoAlloc) Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	c.peer.Free(unsafe.Pointer(unsafe.SliceData(b)))
}
