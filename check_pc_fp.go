//go:build amd64

package hakmem

import "unsafe"

// callerFP returns the frame pointer of its caller (check_fp_amd64.s).
func callerFP() uintptr

// framePCs fills pcs with the return addresses of the frames above its
// caller by following the frame-pointer chain, as the runtime's execution
// tracer does: a few nanoseconds where runtime.Callers takes 150-250 ns.
// The walk calls nothing (the loads are written out, so that a build
// without inlining adds no call either), so the stack cannot move under
// it; it stops at a zero link or one that does not lead up the stack.
//
//go:nosplit
//go:norace
func framePCs(pcs []uintptr) int {
	fp := callerFP()
	n := 0
	for n < len(pcs) && fp != 0 {
		ret := fp + 8
		pcs[n] = *(*uintptr)(*(*unsafe.Pointer)(unsafe.Pointer(&ret)))
		n++
		next := *(*uintptr)(*(*unsafe.Pointer)(unsafe.Pointer(&fp)))
		if next <= fp {
			break
		}
		fp = next
	}
	return n
}

// callerPCCached is callerPC's fast path: the same frame-pointer walk,
// but each return address is classified as it is met, through pcKinds
// alone, and the walk stops at the first one outside hakmem (found). A
// caller is usually ~6 frames up, so this neither collects 16 frames
// nor calls pcInternal for each (~20 ns of a checked Alloc and Free
// pair). A pc the cache does not know stops the walk too: it is
// returned with found false, for callerPC to classify; 0 and false: no
// caller within maxCallerWalk frames (callerPC's slow path looks again).
// The cache is read with plain loads (a word never tears; a stale or
// colliding slot fails the pc compare), so that the walk calls nothing,
// as framePCs.
//
//go:nosplit
//go:norace
func callerPCCached() (pc uintptr, found bool) {
	fp := callerFP()
	for n := 0; n < maxCallerWalk && fp != 0; n++ {
		ret := fp + 8
		pc = *(*uintptr)(*(*unsafe.Pointer)(unsafe.Pointer(&ret)))
		v := *(*uintptr)(unsafe.Pointer(&pcKinds[(pc^pc>>10)&(uintptr(len(pcKinds))-1)]))
		if v>>1 != pc {
			return pc, false // not cached
		}
		if v&1 == 0 {
			return pc, true // the first frame outside hakmem
		}
		next := *(*uintptr)(*(*unsafe.Pointer)(unsafe.Pointer(&fp)))
		if next <= fp {
			break
		}
		fp = next
	}
	return 0, false
}
