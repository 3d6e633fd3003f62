package hakmem

import (
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
)

// Callers for checked mode and the heap profile: the program's function
// that called into hakmem, as one PC, and full stacks for sampled blocks.
// A caller is the first frame above hakmem's own (any function of this
// package outside its _test.go files); framePCs finds the frames
// (check_pc_fp.go walks the frame pointers on amd64, check_pc_portable.go
// asks runtime.Callers elsewhere), and pcInternal classifies each PC
// once, through a small direct-mapped cache.

// maxCallerWalk is how many frames a caller search looks at: the deepest
// path inside hakmem (Realloc -> allocSlowOrFast -> allocSlow -> ... ->
// checkAlloc -> callerPC) is under 10.
const maxCallerWalk = 16

// maxStack is the deepest stack a sampled block or profile sample keeps
// (runtime.MemProfile keeps 32).
const maxStack = 32

// pkgPrefix is this package's symbol prefix, "github.com/hakmem-go/hakmem.".
var pkgPrefix = func() string {
	name := runtime.FuncForPC(reflect.ValueOf(pkgMarker).Pointer()).Name()
	return name[:strings.LastIndex(name, ".")+1]
}()

func pkgMarker() {}

// pcKinds caches pcInternal's answers: pc<<1 | internal, by a hash of pc.
// A collision only costs a lookup again.
var pcKinds [1024]atomic.Uintptr

// pcInternal reports whether the return address pc lies in hakmem's own
// code (not in a test file of the package).
func pcInternal(pc uintptr) bool {
	slot := &pcKinds[(pc^pc>>10)&(uintptr(len(pcKinds))-1)]
	if v := slot.Load(); v>>1 == pc {
		return v&1 != 0
	}
	in := classifyPC(pc)
	v := pc << 1
	if in {
		v |= 1
	}
	slot.Store(v)
	return in
}

// classifyPC decides pcInternal by the name and file of the physical
// function holding pc (the outermost one, when hakmem code was inlined
// into the program's).
func classifyPC(pc uintptr) bool {
	f := runtime.FuncForPC(pc - 1)
	if f == nil {
		return false
	}
	outer := runtime.FuncForPC(f.Entry())
	if outer == nil || !strings.HasPrefix(outer.Name(), pkgPrefix) {
		return false
	}
	file, _ := outer.FileLine(outer.Entry())
	return !strings.HasSuffix(file, "_test.go")
}

// callerPC returns the return address into the first function above
// hakmem's frames: the program's call of Alloc, Free, New, ... 0 when
// none is found within maxCallerWalk frames. The fast path walks the
// frames through pcKinds only (callerPCCached); a frame it does not know
// is classified (and cached) here and the walk tried again, so a path
// through hakmem costs this once per frame, the first time it is taken;
// after callerRetries (colliding slots evicting each other), or when the
// walk finds no caller, the slow path classifies every frame.
func callerPC() uintptr {
	for range callerRetries {
		pc, found := callerPCCached()
		if found {
			return pc
		}
		if pc == 0 {
			break // no caller found, or no fast path (check_pc_portable.go)
		}
		pcInternal(pc)
	}
	return callerPCSlow()
}

// callerRetries bounds callerPC's walks through the cache: one per frame
// it may have to classify.
const callerRetries = maxCallerWalk

// callerPCSlow is callerPC classifying every frame.
//
//go:noinline
func callerPCSlow() uintptr {
	var pcs [maxCallerWalk]uintptr
	n := framePCs(pcs[:])
	for _, pc := range pcs[:n] {
		if !pcInternal(pc) {
			return pc
		}
	}
	return 0
}

// callerStack fills buf with the stack above hakmem's frames and returns
// it (by frame pointers where framePCs walks them: physical frames, each
// expanded into the functions inlined there when it is printed).
func callerStack(buf *[maxStack + maxCallerWalk]uintptr) []uintptr {
	n := framePCs(buf[:])
	i := 0
	for i < n && pcInternal(buf[i]) {
		i++
	}
	return buf[i:min(n, i+maxStack)]
}

// funcAt names the program's function of a return address (the first
// frame outside hakmem once inlining is expanded) as "pkg.Func file:line".
func funcAt(pc uintptr) string {
	if pc == 0 {
		return "?"
	}
	frames := runtime.CallersFrames([]uintptr{pc})
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, pkgPrefix) || strings.HasSuffix(f.File, "_test.go") {
			return frameString(f)
		}
		if !more {
			break
		}
	}
	// hakmem's function was inlined into the program's and the frames do
	// not go past it: name the physical function (without a line).
	if f := runtime.FuncForPC(pc - 1); f != nil {
		if outer := runtime.FuncForPC(f.Entry()); outer != nil {
			return outer.Name()
		}
	}
	return "?"
}

func frameString(f runtime.Frame) string {
	if f.Function == "" {
		return "?"
	}
	return f.Function + " " + f.File + ":" + strconv.Itoa(f.Line)
}

// stackString formats a stack one frame a line, each indented by indent.
func stackString(pcs []uintptr, indent string) string {
	var b strings.Builder
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.Function != "" {
			b.WriteString(indent + f.Function + "\n" + indent + "\t" + f.File + ":" + strconv.Itoa(f.Line) + "\n")
		}
		if !more {
			break
		}
	}
	return b.String()
}
