//go:build hakmem_nolinkname || race

package hakmem

import "sync"

var reapMu sync.Mutex // serialises reapRetired

// pinBarrier returns once every goroutine pinned when it was called has
// unpinned: with the portable pin a pinned goroutine holds its slot's
// mutex, so locking every slot in turn waits for each of them. Caller holds
// reapMu.
func pinBarrier() {
	for _, pc := range *caches.Load() {
		pc.mu.Lock()
		//lint:ignore SA2001 the lock itself is the barrier: it waits for the slot's pinned goroutine
		pc.mu.Unlock()
	}
}
