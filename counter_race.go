//go:build race

package hakmem

import "sync/atomic"

// counter: see counter.go. Under the race detector adds are atomic.
type counter struct{ v uint64 }

func (c *counter) add(n uint64) { atomic.AddUint64(&c.v, n) }
func (c *counter) inc()         { atomic.AddUint64(&c.v, 1) }
func (c *counter) load() uint64 { return atomic.LoadUint64(&c.v) }
