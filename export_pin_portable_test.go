//go:build hakmem_nolinkname || race

package hakmem

// eachPinnable calls f with every slot's cache, each locked in turn: the
// portable pin picks a slot at random, so any of them may serve the next
// allocation.
func eachPinnable(f func(*pcache) bool) bool {
	unpin(pin()) // make sure the slots exist
	for _, pc := range *caches.Load() {
		pc.mu.Lock()
		ok := f(pc)
		pc.mu.Unlock()
		if !ok {
			return false
		}
	}
	return true
}
