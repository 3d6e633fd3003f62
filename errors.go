package hakmem

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error hakmem returns (and every value it panics with)
// is an *Error that matches exactly one of these through errors.Is.
var (
	// ErrInvalidPointer: the slice does not start at a block hakmem handed out:
	// a Go-heap, stack, C or other foreign pointer, or an interior pointer.
	ErrInvalidPointer = errors.New("invalid pointer")
	// ErrDoubleFree: the block is not allocated at the moment: it was freed
	// already (or the pointer is stale and its memory went back to hakmem).
	ErrDoubleFree = errors.New("double free")
	// ErrNegativeSize: a size or element count below zero.
	ErrNegativeSize = errors.New("negative size")
	// ErrSizeTooLarge: a size no allocation can satisfy (beyond MaxAlloc, or
	// an element count whose byte size overflows).
	ErrSizeTooLarge = errors.New("size too large")
	// ErrOutOfMemory: the operating system refused to map more memory.
	ErrOutOfMemory = errors.New("out of memory")
	// ErrMemoryLimit: the allocation would take hakmem past its memory
	// limit (SetMemoryLimit, HAKMEM_MEMORY_LIMIT), even with its caches
	// emptied.
	ErrMemoryLimit = errors.New("memory limit exceeded")
	// ErrPointerType: a typed helper was asked for a type that contains Go
	// pointers, which the garbage collector could not see in hakmem memory.
	ErrPointerType = errors.New("type contains Go pointers")
	// ErrCorrupted: a free block lost its free marker, so hakmem will not
	// hand it out: it was written after it was freed (a use after free), or
	// two goroutines freed it at once (a racing double free, which can put
	// the block in two caches). The block is dropped, never reused; the
	// allocation that found it fails and the next one proceeds normally.
	ErrCorrupted = errors.New("free block corrupted (written after free)")
	// ErrUseAfterFree: checked mode found a freed block written to (its
	// poison changed in the quarantine).
	ErrUseAfterFree = errors.New("use after free")
	// ErrOverflow: checked mode found a block written past its length (a
	// canary changed when it was freed).
	ErrOverflow = errors.New("write past len")
	// ErrClosed: the Heap was closed or detached; it takes no more calls.
	ErrClosed = errors.New("heap is closed")
	// ErrConcurrentUse: two goroutines used one Heap at once (a data race
	// in the program), caught on a slow path, Close or Detach; the race
	// detector catches it on every call.
	ErrConcurrentUse = errors.New("heap used by two goroutines at once")
	// ErrBadAlignment: an alignment that is not a power of two up to 2 MiB
	// (TryAlignedAlloc).
	ErrBadAlignment = errors.New("bad alignment")
)

// Error describes a failed operation: which one, on what, and why.
type Error struct {
	Op     string  // the API call: "Alloc", "Free", "Realloc", "New", ...
	Ptr    uintptr // the pointer involved, or 0
	Size   int     // the size asked for, or 0 when the call has none
	Err    error   // one of the Err* sentinels
	Detail string  // a human sentence with specifics, may be empty
}

func (e *Error) Error() string {
	s := "hakmem: " + e.Op
	if e.Ptr != 0 {
		s += fmt.Sprintf(" %#x", e.Ptr)
	}
	if e.Size != 0 || e.Err == ErrNegativeSize || e.Err == ErrSizeTooLarge {
		s += fmt.Sprintf(" (size %d)", e.Size)
	}
	s += ": " + e.Err.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap lets errors.Is match the sentinel.
func (e *Error) Unwrap() error { return e.Err }
