package hakmem

import (
	"fmt"
	"math/bits"
	"reflect"
	"sync/atomic"
	"unsafe"
)

// Arenas: bump allocation over hakmem memory, freed all at once.
//
// An Arena allocates from chunks, each one hakmem block (a small block
// from a slab, or a large block with its own mapping above 1 MiB), by
// moving a cursor: no per-object header, no per-object free. Chunk sizes
// grow geometrically with use (arenaFirstChunk, doubling up to
// arenaMaxChunk); a request too big for the next chunk gets a chunk of its
// own. Reset keeps the chunks and starts over from the first; Close gives
// them back.
//
// The chunk list lives in the chunks: each chunk starts with a header
// (next chunk, its size, and a check word keyed by a per-process secret
// over both and the chunk's address), so the Arena keeps nothing on the Go
// heap that grows with the memory it holds. A header a stray write changed
// fails its check: the walk stops there and the rest of the chain is
// leaked, never freed at a forged address (counted in Stats.Corrupted).
// Because every allocation starts past a header, no pointer an Arena hands
// out starts a hakmem block: the global Free reports any of them as an
// interior pointer (ErrInvalidPointer), freeing nothing.
//
// Go's arena experiment (GOEXPERIMENT=arenas, golang/go#51317) allocates
// Go objects that may hold Go pointers, so the GC scans arena memory and
// the runtime must fault use after free. An Arena holds only pointer-free
// data (its typed helpers refuse pointerful types, as New does): the GC
// never looks at it, and the memory of a Reset arena is simply reused.

const (
	arenaHeader     = 32       // chunk header bytes: next, size, check, unused (keeps 16 B alignment)
	arenaFirstChunk = 16 << 10 // the first chunk: one 16 KiB block
	arenaMaxChunk   = 8 << 20  // growth stops doubling here
	arenaAlign      = 16       // every allocation is 16-byte aligned, as hakmem blocks are
)

// arenaKey keys the chunk headers' check word; set at init from the
// process's random cookie key.
var arenaKey uintptr

func init() { arenaKey = uintptr(bits.RotateLeft64(uint64(cookieKey), 29) * 0x9e3779b97f4a7c15) }

// arenaCheck is the check word of the header at chunk.
func arenaCheck(chunk, next, size uintptr) uintptr {
	x := uint64(chunk^arenaKey) ^ uint64(next)*0xff51afd7ed558ccd ^ uint64(size)*0xc4ceb9fe1a85ec53
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return uintptr(x)
}

// arenaStats: chunks held by arenas (Stats.Arenas, Stats.ArenaBytes).
var arenaStats struct {
	live  atomic.Int64 // arenas made and not closed
	bytes atomic.Int64 // usable bytes of their chunks
}

// Arena is a bump allocator over hakmem memory; everything allocated from
// it is freed at once by Reset (which keeps the memory) or Close. An Arena
// is used by one goroutine at a time. The zero Arena is not usable: make
// one with NewArena.
type Arena struct {
	head, tail uintptr // first and last chunk (addresses of their headers); 0 when none
	cur        uintptr // the chunk the cursor is in
	off, end   uintptr // the cursor and the end of cur's usable bytes
	next       uintptr // size of the next chunk to allocate
	live       bool    // made by NewArena and not closed
	//lint:ignore U1000 written by every method under -race only (heap_race.go)
	tok uintptr // written by every method under -race (heap_race.go)
}

// NewArena returns an empty Arena; its first allocation takes its first
// chunk.
func NewArena() *Arena {
	ensureInit()
	arenaStats.live.Add(1)
	return &Arena{next: arenaFirstChunk, live: true}
}

// Alloc returns n bytes from the arena, 16-byte aligned, with unspecified
// contents (a Reset arena hands out its old bytes again). The slice's
// capacity is n. It panics with an *Error as TryAlloc reports.
func (a *Arena) Alloc(n int) []byte {
	a.touch()
	if uint(n-1) < uint(a.end-a.off) { // TryAlloc's fast path, written out
		p := a.off
		a.off = (p + uintptr(n) + arenaAlign - 1) &^ (arenaAlign - 1)
		return unsafe.Slice((*byte)(ptr(p)), n)
	}
	return must(a.allocSlow(n, "Arena.Alloc"))
}

// TryAlloc is Arena.Alloc returning the error instead of panicking:
// ErrClosed after Close, ErrNegativeSize, ErrSizeTooLarge, or the errors
// of the chunk's allocation. TryAlloc(0) returns an empty slice.
func (a *Arena) TryAlloc(n int) ([]byte, error) {
	a.touch()
	if uint(n-1) < uint(a.end-a.off) { // 0 < n <= room
		p := a.off
		a.off = (p + uintptr(n) + arenaAlign - 1) &^ (arenaAlign - 1)
		return unsafe.Slice((*byte)(ptr(p)), n), nil
	}
	return a.allocSlow(n, "Arena.Alloc")
}

// Calloc is Arena.Alloc with the bytes zeroed.
func (a *Arena) Calloc(n int) []byte {
	b := a.Alloc(n)
	clear(b)
	return b
}

func (a *Arena) allocSlow(n int, op string) ([]byte, error) {
	switch {
	case !a.live:
		return nil, newError(op, 0, n, ErrClosed, "the arena was closed")
	case n < 0:
		return nil, newError(op, 0, n, ErrNegativeSize, "")
	case n == 0:
		return zeroSlice(), nil
	case n > MaxAlloc-arenaHeader:
		return nil, newError(op, 0, n, ErrSizeTooLarge, "the limit is MaxAlloc (32 TiB)")
	}
	// The chunks after the cursor's (left by Reset) first.
	for a.cur != 0 {
		nx, _, ok := a.header(a.cur)
		if !ok || nx == 0 {
			break
		}
		_, size, ok := a.header(nx)
		if !ok {
			break
		}
		a.cur, a.off, a.end = nx, nx+arenaHeader, nx+size
		if uintptr(n) <= a.end-a.off {
			return a.TryAlloc(n)
		}
	}
	size := a.next
	ck := checkOn()
	if ck {
		// Checked mode: every allocation is a chunk of its own, of
		// exactly its bytes, so that it is a checked block (its
		// allocating caller recorded, canaries right past it) and Reset
		// frees it as Close does: poisoned and quarantined (check.go).
		size = arenaHeader + uintptr(n)
	} else if uintptr(n)+arenaHeader > size/2 {
		size = (uintptr(n)+arenaAlign-1)&^(arenaAlign-1) + arenaHeader // a chunk of its own, growth unchanged
	} else if a.next < arenaMaxChunk {
		a.next *= 2
	}
	p, usable, _, err := allocAddr(int(size), 0, op)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Size = n
		}
		return nil, err
	}
	if ck {
		// Checked mode hands out exactly the bytes asked for: past them
		// are canaries, or a guard page (check.go).
		usable = size
	} else {
		// The cursor moves in steps of arenaAlign, so the end must be on
		// one: else a cursor rounded past it would see room that is not
		// there.
		usable &^= arenaAlign - 1
	}
	storeWord(p, 0)
	storeWord(p+8, usable)
	storeWord(p+16, arenaCheck(p, 0, usable))
	if a.tail != 0 {
		if _, tsize, ok := a.header(a.tail); ok {
			storeWord(a.tail, p)
			storeWord(a.tail+16, arenaCheck(a.tail, p, tsize))
		}
	} else {
		a.head = p
	}
	a.tail, a.cur = p, p
	arenaStats.bytes.Add(int64(usable))
	if ck {
		a.off, a.end = p+usable, p+usable // no room: the next allocation is a chunk of its own too
		return unsafe.Slice((*byte)(ptr(p+arenaHeader)), n), nil
	}
	a.off, a.end = p+arenaHeader, p+usable
	return a.TryAlloc(n)
}

// header reads and checks the header of chunk p.
func (a *Arena) header(p uintptr) (next, size uintptr, ok bool) {
	next, size = loadWord(p), loadWord(p+8)
	if loadWord(p+16) != arenaCheck(p, next, size) {
		corrupted.Add(1)
		return 0, 0, false
	}
	return next, size, true
}

// Reset frees everything allocated from the arena at once and keeps its
// chunks: the next allocations reuse them from the first. Slices from
// before the Reset must not be used afterwards (their bytes are handed
// out again).
func (a *Arena) Reset() {
	a.touch()
	if !a.live || a.head == 0 {
		return
	}
	if checkOn() { // hook: checked mode frees the chunks, so a use after Reset is a use after free (check.go)
		a.dropChunks("Arena.Reset")
		return
	}
	_, size, ok := a.header(a.head)
	if !ok {
		a.dropChunks("Arena.Reset") // the chain is broken: start over with no chunk
		return
	}
	a.cur, a.off, a.end = a.head, a.head+arenaHeader, a.head+size
}

// Close frees everything allocated from the arena and gives its memory
// back to hakmem. Using the arena afterwards reports ErrClosed; Close of
// a closed arena is a no-op.
func (a *Arena) Close() {
	a.touch()
	if !a.live {
		return
	}
	a.dropChunks("Arena.Close")
	a.live = false
	a.next = 0
	arenaStats.live.Add(-1)
}

// dropChunks frees the chunks along the chain until its end or a header
// that fails its check (the rest is leaked: never freed at an address a
// stray write chose).
func (a *Arena) dropChunks(op string) {
	for p := a.head; p != 0; {
		next, size, ok := a.header(p)
		if !ok {
			break
		}
		arenaStats.bytes.Add(-int64(size))
		if err := freeAddr(p, op); err != nil {
			break // not ours any more (cannot happen with an intact header): stop
		}
		p = next
	}
	a.head, a.tail, a.cur, a.off, a.end = 0, 0, 0, 0, 0
	if a.live {
		a.next = arenaFirstChunk
	}
}

// ArenaNew returns a zeroed T allocated from the arena (freed with the
// arena). It panics with ErrPointerType if T contains Go pointers.
func ArenaNew[T any](a *Arena) *T { return mustPtr(TryArenaNew[T](a)) }

// TryArenaNew is ArenaNew returning the error instead of panicking.
func TryArenaNew[T any](a *Arena) (*T, error) {
	var zero T
	if err := checkType(reflect.TypeFor[T](), "ArenaNew"); err != nil {
		return nil, err
	}
	if unsafe.Sizeof(zero) == 0 {
		return (*T)(unsafe.Pointer(&zerobase)), nil
	}
	b, err := a.TryAlloc(int(unsafe.Sizeof(zero)))
	if err != nil {
		return nil, err
	}
	clear(b)
	return (*T)(unsafe.Pointer(unsafe.SliceData(b))), nil
}

// ArenaMakeSlice returns a zeroed []T of length and capacity n allocated
// from the arena. It panics with ErrPointerType if T contains Go pointers.
func ArenaMakeSlice[T any](a *Arena, n int) []T { return mustSlice(TryArenaMakeSlice[T](a, n)) }

// TryArenaMakeSlice is ArenaMakeSlice returning the error instead of
// panicking.
func TryArenaMakeSlice[T any](a *Arena, n int) ([]T, error) {
	var zero T
	sz := unsafe.Sizeof(zero)
	if err := checkType(reflect.TypeFor[T](), "ArenaMakeSlice"); err != nil {
		return nil, err
	}
	switch {
	case n < 0:
		return nil, newError("ArenaMakeSlice", 0, n, ErrNegativeSize, "")
	case sz == 0 || n == 0:
		return unsafe.Slice((*T)(unsafe.Pointer(&zerobase)), n)[:n:n], nil
	case uintptr(n) > MaxAlloc/sz:
		return nil, newError("ArenaMakeSlice", 0, n, ErrSizeTooLarge, fmt.Sprintf("%d elements of %d bytes", n, sz))
	}
	b, err := a.TryAlloc(n * int(sz))
	if err != nil {
		return nil, err
	}
	clear(b)
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n), nil
}

// ArenaString returns a copy of s in the arena's memory (freed with the
// arena).
func ArenaString(a *Arena, s string) string {
	if len(s) == 0 {
		return ""
	}
	b := a.Alloc(len(s))
	copy(b, s)
	return unsafe.String(unsafe.SliceData(b), len(b))
}
