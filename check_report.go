package hakmem

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// CheckReport describes a failure checked mode found (check.go).
type CheckReport struct {
	// Err is ErrUseAfterFree, ErrOverflow, ErrDoubleFree or
	// ErrInvalidPointer (a free of an interior pointer).
	Err error
	// Op is the call during which it was found: "Free", "Alloc", ...,
	// "CheckQuarantine".
	Op string
	// Block is the start of the block; Size the length it was allocated
	// with; Usable its usable bytes; Class its size class, or -1 for a
	// large block.
	Block  uintptr
	Size   int
	Usable int
	Class  int
	// Offset is the offset in the block of the first byte found changed
	// (a use after free, an overflow) or of the pointer freed (an
	// interior pointer); -1 when there is none. Want and Got are the byte
	// expected there and the byte found.
	Offset    int
	Want, Got byte
	// Extent is, for an overflow, how far past len the last changed
	// canary byte lies (1: the byte at len).
	Extent int
	// State is the block's state when the failure was found ("live",
	// "freed (in the quarantine)", ...).
	State string
	// AllocPC and FreePC are the program's calls that allocated and freed
	// the block (return addresses; 0 when unknown). For a double free,
	// FreePC is the first Free and SecondFreePC the one that failed.
	AllocPC, FreePC, SecondFreePC uintptr
	// AllocStack and FreeStack are full stacks, for the blocks sampled
	// (HAKMEM_CHECK_STACKS).
	AllocStack, FreeStack []uintptr
	// Returned is true when the failing call also returns the error (a
	// Try function returns it, a plain one panics with it); the default
	// handler then does nothing more.
	Returned bool
	// Background is true when the failure was found by the quarantine's
	// background sweep (HAKMEM_CHECK_SWEEP_MS), on hakmem's goroutine, not
	// by a call of the program's: the default handler logs it to stderr
	// and counts it, never panics.
	Background bool
}

// fill completes rep from the block's record r (which may be nil).
func (rep *CheckReport) fill(r *checkRec) {
	rep.Class, rep.Size, rep.State = -1, 0, recStateName[recNone]
	if r == nil {
		return
	}
	if r.class != classLarge {
		rep.Class = int(r.class)
	}
	st := r.state.Load()
	if st < uint32(len(recStateName)) {
		rep.State = recStateName[st]
	}
	if r.flags&recGuard != 0 && st == recQuarantined {
		rep.State = "freed (a guarded block, held inaccessible)"
	}
	rep.Size, rep.AllocPC, rep.FreePC = int(r.size), r.apc, r.fpc
	if rep.Usable == 0 && (r.class != classLarge || st == recLive || st == recQuarantined) {
		rep.Usable = int(usableOf(rep.Block, r))
	}
	rep.AllocStack, rep.FreeStack = stackTab.stack(r.astk), stackTab.stack(r.fstk)
}

// doubleFreeReport reports a Free (at fpc) of the block at p whose record
// r is not live.
func doubleFreeReport(op string, p uintptr, r *checkRec, fpc uintptr, returned bool) CheckReport {
	rep := CheckReport{Err: ErrDoubleFree, Op: op, Block: p, Offset: -1, Returned: returned}
	rep.fill(r)
	rep.SecondFreePC = fpc
	return rep
}

// what names the failure in a sentence.
func (rep *CheckReport) what() string {
	switch rep.Err {
	case ErrUseAfterFree:
		return fmt.Sprintf("written after free: byte %d changed (%#02x, want %#02x)", rep.Offset, rep.Got, rep.Want)
	case ErrOverflow:
		return fmt.Sprintf("written past len %d: bytes %d .. %d changed (%d bytes past len; the first %#02x, want %#02x)", rep.Size, rep.Offset, rep.Size+rep.Extent-1, rep.Extent, rep.Got, rep.Want)
	case ErrInvalidPointer:
		return fmt.Sprintf("free of an interior pointer, %d bytes into the block", rep.Offset)
	}
	return "freed already"
}

// detail is the report as an Error's Detail: the block and its callers.
func (rep *CheckReport) detail() string {
	var b strings.Builder
	class := "large"
	if rep.Class >= 0 {
		class = fmt.Sprintf("class %d", rep.Class)
	}
	fmt.Fprintf(&b, "%s; block %#x (%s, len %d, %d usable, %s); allocated by %s", rep.what(), rep.Block, class, rep.Size, rep.Usable, rep.State, funcAt(rep.AllocPC))
	if rep.FreePC != 0 {
		fmt.Fprintf(&b, "; freed by %s", funcAt(rep.FreePC))
	}
	if rep.SecondFreePC != 0 {
		fmt.Fprintf(&b, "; freed again by %s", funcAt(rep.SecondFreePC))
	}
	return b.String()
}

// String is the report for people: the detail, then the full stacks when
// the block was sampled.
func (rep CheckReport) String() string {
	s := "hakmem: " + rep.Op + ": " + rep.detail()
	if rep.AllocStack != nil {
		s += "\nallocation stack:\n" + stackString(rep.AllocStack, "\t")
	}
	if rep.FreeStack != nil {
		s += "\nfree stack:\n" + stackString(rep.FreeStack, "\t")
	}
	return s
}

// Error is the report as the *Error the default handler panics with.
func (rep CheckReport) Error() *Error {
	return &Error{Op: rep.Op, Ptr: rep.Block, Size: rep.Size, Err: rep.Err, Detail: rep.detail()}
}

var checkHandler atomic.Pointer[func(CheckReport)]

// OnCheckFailure sets the function checked mode calls with each failure it
// finds (nil restores the default). It is called on the goroutine whose
// call found the failure, with no hakmem lock held, so it may call hakmem.
// The default handler panics with rep.Error() (an *Error matching
// ErrUseAfterFree, ErrOverflow, ErrDoubleFree or ErrInvalidPointer), except
// when the failing call returns the error itself (rep.Returned), and
// writes the full stacks to stderr first when the block has them. A
// failure found by the background sweep (rep.Background) is called on the
// sweep's goroutine; the default handler logs it to stderr instead of
// panicking.
func OnCheckFailure(f func(CheckReport)) {
	if f == nil {
		checkHandler.Store(nil)
		return
	}
	checkHandler.Store(&f)
}

// deliver counts rep and hands it to the handler.
func deliver(rep CheckReport) {
	chk.failures.Add(1)
	if h := checkHandler.Load(); h != nil {
		(*h)(rep)
		return
	}
	if rep.Returned {
		return
	}
	if rep.Background { // a panic here would kill the process
		fmt.Fprintln(os.Stderr, rep.Error().Error())
		if rep.AllocStack != nil || rep.FreeStack != nil {
			fmt.Fprintln(os.Stderr, rep.String())
		}
		return
	}
	if rep.AllocStack != nil || rep.FreeStack != nil {
		fmt.Fprintln(os.Stderr, rep.String())
	}
	panic(rep.Error())
}
