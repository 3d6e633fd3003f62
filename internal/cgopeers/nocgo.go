//go:build !hakmem_cgo || !cgo

package cgopeers

// Enabled reports whether the package was built with its cgo peers
// (build tag hakmem_cgo, cgo enabled).
const Enabled = false

// Peers returns nil: the package was built without the hakmem_cgo tag or
// without cgo.
func Peers() []Peer { return nil }

// ReexecWithStaticTLS does nothing without the cgo peers.
func ReexecWithStaticTLS() error { return nil }
