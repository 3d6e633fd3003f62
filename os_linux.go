//go:build linux && !hakmem_nommap

package hakmem

import "golang.org/x/sys/unix"

// Linux-only parts of the OS layer (os_unix.go): transparent huge pages and
// mremap.

// osHugepage asks for transparent huge pages on [base, base+size) (base
// 2 MiB-aligned; only whole 2 MiB chunks can become huge pages). With THP in "madvise" mode (the usual distribution
// default) this is what makes the kernel back the range with 2 MiB pages:
// one fault and one TLB entry per 2 MiB instead of 512.
func osHugepage(base, size uintptr) {
	sysMadvHuge.Add(1)
	_ = unix.Madvise(bytesAt(base, size, size), unix.MADV_HUGEPAGE)
}

// osRemapSupported: osRemap can move or resize a mapping without copying.
const osRemapSupported = true

// osRemap resizes the mapping [old, old+oldSize) to newSize bytes. With
// to == 0 it resizes in place (shrinking always works; growing fails when
// the addresses after the block are taken). With to != 0, to is a mapping
// of newSize bytes made by osMap that the block's pages replace: the kernel
// moves page table entries, no byte is copied, and [old, old+oldSize) is
// unmapped.
func osRemap(old, oldSize, newSize, to uintptr) error {
	if to == 0 {
		if _, err := unix.MremapPtr(ptr(old), oldSize, nil, newSize, 0); err != nil {
			return err
		}
		sysMremaps.Add(1)
		return nil
	}
	if _, err := unix.MremapPtr(ptr(old), oldSize, ptr(to), newSize, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED); err != nil {
		return err
	}
	sysMremaps.Add(1)
	return nil
}
