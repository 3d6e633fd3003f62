// Package cgopeers offers C allocators called from Go through cgo, one C call
// per Malloc or Free, so that benchmarks can show what a Go program pays for
// using a C allocator: the allocator's own cost plus the cgo crossing.
//
// The peers are built only with the build tag hakmem_cgo (and cgo enabled);
// without it, Peers returns nil and the package has no cgo code. mimalloc and
// jemalloc are opened with dlopen at run time (libmimalloc.so.2: mi_malloc,
// mi_free; libjemalloc.so.2: mallocx, dallocx, which Debian exports without a
// prefix), so building needs no -dev package and a missing library shows as
// a peer that is not installed. glibc is the process's malloc and free.
package cgopeers

import "unsafe"

// Peer is one C allocator reachable through cgo.
type Peer struct {
	Name      string // "cgo-glibc", "cgo-mimalloc" or "cgo-jemalloc"
	Installed bool   // the library was found and its functions resolved
	Lib       string // the library the functions come from, or why it is not installed

	// Malloc returns n bytes of C memory (never nil for n > 0 unless the C
	// allocator is out of memory); Free releases a block Malloc returned.
	// Both are nil when Installed is false. Each is one cgo call.
	Malloc func(n uintptr) unsafe.Pointer
	Free   func(p unsafe.Pointer)
}
