package main

import (
	"context"
	"errors"

	"github.com/hakmem-go/hakmem/internal/bench"
)

// nativeHarness returns the native C yardstick for --native, and a note to
// print when it is not the real one.
//
// Package internal/native (cgo, another engineer's work) has not landed on
// this branch yet. When it does, replace the body with an adapter:
//
//	type nativeAdapter struct{}
//	func (nativeAdapter) Peers() []bench.NativePeer { convert native.Peers() }
//	func (nativeAdapter) Run(ctx, peer, sc, params) (bench.NativeSample, error) {
//		s, err := native.Run(ctx, peer, sc, params); convert s
//	}
//
// Until then every native peer shows as "not installed" and the battle
// carries on with the Go allocators.
func nativeHarness() (bench.NativeHarness, string) {
	return missingNative{}, "--native: the native harness (internal/native) is not built into this binary; native peers show as not installed"
}

// missingNative lists the native peers, none installed.
type missingNative struct{}

func (missingNative) Peers() []bench.NativePeer {
	return []bench.NativePeer{
		{Name: "glibc", Lib: "libc.so.6"},
		{Name: "mimalloc", Lib: "libmimalloc.so.2"},
		{Name: "jemalloc", Lib: "libjemalloc.so.2"},
		{Name: "tcmalloc", Lib: "libtcmalloc_minimal.so.4"},
	}
}

func (missingNative) Run(context.Context, string, string, map[string]string) (bench.NativeSample, error) {
	return bench.NativeSample{}, errors.New("native harness not built in")
}
