//go:build !race

package hakmem

import "sync/atomic"

// counter is a statistics counter written by one owner at a time (a pinned
// P, or the holder of a lock) and read by ReadStats from any goroutine. The
// owner adds with a plain add: no atomic instruction on the fast path. The
// reader loads atomically; on the 64-bit platforms hakmem supports a word
// load never tears, and the Go memory model promises it observes some
// written value. Race builds use counter_race.go, where adds are atomic, so
// the race detector sees no race.
type counter struct{ v uint64 }

func (c *counter) add(n uint64) { c.v += n }
func (c *counter) inc()         { c.v++ }
func (c *counter) load() uint64 { return atomic.LoadUint64(&c.v) }
