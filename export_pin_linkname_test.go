//go:build !hakmem_nolinkname && !race

package hakmem

// eachPinnable calls f with the cache of the current P, pinned: the one
// the next allocation of this goroutine uses if it stays on its P.
func eachPinnable(f func(*pcache) bool) bool {
	pc := pinSlow()
	defer unpin(pc)
	return f(pc)
}
