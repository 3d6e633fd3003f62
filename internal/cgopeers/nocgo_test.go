//go:build !hakmem_cgo || !cgo

package cgopeers

import "testing"

func TestPeersNilWithoutTag(t *testing.T) {
	if Enabled || Peers() != nil {
		t.Fatal("without the hakmem_cgo tag Peers must return nil")
	}
	t.Log("cgo peers not built: run with -tags hakmem_cgo (and CGO_ENABLED=1) to test them")
}
