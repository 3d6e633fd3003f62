//go:build unix && !hakmem_nommap

package hakmem

import "golang.org/x/sys/unix"

// osProtectSupported: pages can be made inaccessible (checked mode's guard
// pages, check_guard.go).
const osProtectSupported = true

// osProtect makes [base, base+size) (whole OS pages) accessible (read and
// write) or not at all.
func osProtect(base, size uintptr, access bool) error {
	prot := unix.PROT_NONE
	if access {
		prot = unix.PROT_READ | unix.PROT_WRITE
	}
	return unix.Mprotect(bytesAt(base, size, size), prot)
}
