//go:build unix && !linux && !hakmem_nommap

package hakmem

import "errors"

// The unix systems other than Linux: no MADV_HUGEPAGE, no mremap (Realloc
// of a large block copies).

func osHugepage(base, size uintptr) {}

const osRemapSupported = false

func osRemap(old, oldSize, newSize, to uintptr) error { return errors.New("mremap: not supported") }
