package hakmem

import (
	"fmt"
	"strings"
)

// Describe says what hakmem knows about the address addr, in a few lines
// for people: whether it is hakmem memory, which block it falls in, at
// what offset, the block's state, and, in checked mode, who allocated and
// freed it (with the full stacks of a sampled block). It reads only
// hakmem's metadata and the block's free-cookie word, never faults, and
// takes no lock but the heap's for a large block, so it may be called
// from a recover (debug.SetPanicOnFault turns a fault on a bad address
// into a panic whose error has an Addr method), from a debugger, or with
// an address copied from a crash report.
func Describe(addr uintptr) string {
	ensureInit()
	pc := pin() // the segment cannot be unmapped while we read (retire.go)
	seg := regLookup(addr)
	var s *slab
	var start, usable uintptr
	var free, inSlab, guarded bool
	var kind uint8
	if seg != nil {
		kind = seg.kind
	}
	switch {
	case seg == nil || kind == kindFreed:
	case kind == kindLarge:
		start = seg.base
	default:
		s = seg.slabAt(addr)
		if s != nil && addr-s.base < uintptr(s.nblocks)*s.size {
			inSlab = true
			start = s.base + (addr-s.base)/s.size*s.size
			usable = s.size
			free = loadWord(start+8) == start^cookieKey
		}
	}
	unpin(pc)
	switch {
	case seg == nil:
		return fmt.Sprintf("%#x: not hakmem memory", addr)
	case kind == kindFreed:
		return fmt.Sprintf("%#x: hakmem memory returned to the OS (every block there was freed)", addr)
	case kind == kindSampled:
		return fmt.Sprintf("%#x: in a heap profile sample segment (the pages of sampled small blocks; heapprof.go)", addr)
	case kind == kindLarge:
		if r := recFor(seg.base); r != nil && r.flags&recGuard != 0 && r.state.Load() != recNone {
			start, usable, guarded = guardStart(seg, r), (r.size+15)&^15, true
			break
		}
		usable = largeUsable(start, seg)
		free = usable == 0
		if free {
			usable = seg.largeSize
		}
	case s == nil:
		return fmt.Sprintf("%#x: a free page of a hakmem segment (no block there now)", addr)
	case !inSlab:
		return fmt.Sprintf("%#x: the unused tail of a slab of %d-byte blocks (no block there)", addr, s.size)
	}
	var b strings.Builder
	class := "a large block"
	switch {
	case guarded:
		class = "a guarded block"
	case s != nil:
		class = fmt.Sprintf("size class %d", s.class)
	}
	if addr >= start {
		fmt.Fprintf(&b, "%#x: %d bytes into the block at %#x (%s, %d usable)", addr, addr-start, start, class, usable)
	} else {
		fmt.Fprintf(&b, "%#x: %d bytes before the block at %#x (%s, %d usable), in its mapping", addr, start-addr, start, class, usable)
	}
	r := recFor(start)
	if guarded {
		r = recFor(seg.base)
	}
	if r == nil || r.state.Load() == recNone {
		if free {
			b.WriteString(": free")
		} else {
			b.WriteString(": allocated")
		}
		if !checkOn() {
			b.WriteString(" (run with HAKMEM_CHECK=1 for its callers)")
		}
		return b.String()
	}
	var rep CheckReport
	rep.Block = start
	rep.fill(r)
	fmt.Fprintf(&b, ", len %d: %s", rep.Size, rep.State)
	if int(addr-start) >= rep.Size {
		fmt.Fprintf(&b, "; the address is %d bytes past len", int(addr-start)-rep.Size)
	}
	fmt.Fprintf(&b, "\nallocated by %s", funcAt(rep.AllocPC))
	if rep.FreePC != 0 && r.state.Load() != recLive {
		fmt.Fprintf(&b, "\nfreed by %s", funcAt(rep.FreePC))
	}
	if rep.AllocStack != nil {
		b.WriteString("\nallocation stack:\n" + stackString(rep.AllocStack, "\t"))
	}
	if rep.FreeStack != nil && r.state.Load() != recLive {
		b.WriteString("\nfree stack:\n" + stackString(rep.FreeStack, "\t"))
	}
	return strings.TrimSuffix(b.String(), "\n")
}
