//go:build !unix || hakmem_nommap

package hakmem

import "errors"

// osProtectSupported: the portable OS layer's memory is the Go heap's, whose
// pages hakmem cannot protect; checked mode samples no guard pages here.
const osProtectSupported = false

func osProtect(base, size uintptr, access bool) error {
	return errors.New("hakmem: page protection is not available in the portable OS layer")
}
