package hakmem_test

import (
	"encoding/binary"
	"testing"

	"github.com/hakmem-go/hakmem"
)

// FuzzOps decodes its input into a sequence of operations over a few slots
// and checks every result against a shadow copy of each live slot.
//
// Encoding, repeated until the input runs out (at most maxFuzzOps ops):
//
//	op byte:  kind = op&7, slot = (op>>3)&7, tier = op>>6
//	2 bytes:  a little-endian value that gives the size (for kinds that take one)
//
// Kinds: 0 alloc, 1 calloc, 2 realloc, 3 free, 4 double free of the block
// freed last (only while nothing was allocated since, so the block is surely
// still free), 5 interior-pointer free, 6 check + UsableSize, 7 realloc to 0.
func FuzzOps(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x00, 10, 0, 0x03})                                    // alloc 10, free
	f.Add([]byte{0x00, 10, 0, 0x03, 0x04})                              // ... and double free
	f.Add([]byte{0x01, 0x00, 0x04, 0x06, 0x00, 0x05, 0x03, 0x04})       // calloc, check, interior, free, double free
	f.Add([]byte{0x40, 0xff, 0xff, 0x42, 0x10, 0x00, 0x82, 0x20, 0x00}) // mid alloc, realloc to mid, to l2.5
	f.Add([]byte{0xc0, 0x04, 0x00, 0x02, 0x08, 0x00, 0x07, 0x04})       // large alloc, realloc tiny, to 0, double free
	f.Add([]byte{0x00, 1, 0, 0x08, 2, 0, 0x10, 3, 0, 0x18, 4, 0, 0x0b, 0x0c, 0x13, 0x1b, 0x03, 0x04})
	f.Add([]byte{0x81, 0x00, 0x80, 0x89, 0x00, 0x40, 0x0d, 0x05, 0x0e, 0x0b, 0x04, 0x03, 0x04})
	f.Add([]byte{0x40, 0x00, 0x04, 0x40, 0x01, 0x04, 0x43, 0x44, 0x00, 0x00, 0x00, 0x03, 0x04, 0x44})
	f.Add([]byte{0x07, 0x00, 0x00, 0x10, 0x2a, 0x00, 0x12, 0x00, 0x00, 0x13, 0x14})
	f.Fuzz(func(t *testing.T, data []byte) {
		runFuzzOps(t, data)
	})
}

const (
	maxFuzzOps   = 400
	fuzzSlots    = 8
	fuzzCheckLen = 32 // head and tail bytes checked on every live slot after each op
)

type fuzzSlot struct {
	b    []byte
	want []byte
	live bool
}

func fuzzSize(tier int, v uint16) int {
	switch tier {
	case 0:
		return int(v) % (tinyMax + 1)
	case 1:
		return int(v) % (l25Min + 1)
	case 2:
		return l25Min + int(v)*15 // up to ~1 MiB
	default:
		if v%4 == 0 {
			return largeMin + int(v)*32 // up to ~3 MiB
		}
		return int(v) % 129
	}
}

func runFuzzOps(t *testing.T, data []byte) {
	var slots [fuzzSlots]fuzzSlot
	var stale []byte // the block freed last, while it is surely free
	defer func() {
		for i := range slots {
			if slots[i].live {
				_ = hakmem.TryFree(slots[i].b)
			}
		}
	}()
	verify := func(i int, full bool, when string) {
		s := &slots[i]
		if len(s.b) != len(s.want) {
			t.Fatalf("%s: slot %d has len %d, want %d", when, i, len(s.b), len(s.want))
		}
		check := func(lo, hi int) {
			for j := lo; j < hi; j++ {
				if s.b[j] != s.want[j] {
					t.Fatalf("%s: slot %d (%#x, %d bytes) byte %d is %#x, want %#x", when, i, addr(s.b), len(s.b), j, s.b[j], s.want[j])
				}
			}
		}
		if full || len(s.b) <= 2*fuzzCheckLen {
			check(0, len(s.b))
			return
		}
		check(0, fuzzCheckLen)
		check(len(s.b)-fuzzCheckLen, len(s.b))
	}
	set := func(i int, b []byte, seed uint64, keep int) {
		s := &slots[i]
		want := make([]byte, len(b))
		copy(want, s.want[:keep])
		for j := keep; j < len(b); j++ {
			b[j] = pattern(seed, j)
			want[j] = b[j]
		}
		s.b, s.want, s.live = b, want, true
	}
	freeSlot := func(i int, when string) {
		s := &slots[i]
		verify(i, true, when)
		if err := hakmem.TryFree(s.b); err != nil {
			t.Fatalf("%s: TryFree(slot %d, %d bytes): %v", when, i, len(s.b), err)
		}
		if cap(s.b) > 0 {
			stale = s.b
		}
		*s = fuzzSlot{}
	}

	for op := 0; op < maxFuzzOps && len(data) > 0; op++ {
		code := data[0]
		data = data[1:]
		kind, slot, tier := int(code&7), int(code>>3)&7, int(code>>6)
		var v uint16
		if kind <= 2 {
			if len(data) >= 2 {
				v = binary.LittleEndian.Uint16(data)
				data = data[2:]
			} else {
				data = nil
			}
		}
		s := &slots[slot]
		seed := uint64(op)<<8 | uint64(slot)
		switch kind {
		case 0, 1: // alloc, calloc
			if s.live {
				freeSlot(slot, "free before alloc")
			}
			n := fuzzSize(tier, v)
			var b []byte
			var err error
			if kind == 0 {
				b, err = hakmem.TryAlloc(n)
			} else {
				b, err = hakmem.TryCalloc(n)
			}
			stale = nil
			if err != nil {
				t.Fatalf("op %d: alloc(%d): %v", op, n, err)
			}
			if len(b) != n || cap(b) < n || (n == 0) != (cap(b) == 0) {
				t.Fatalf("op %d: alloc(%d): len %d cap %d", op, n, len(b), cap(b))
			}
			if n > 0 && addr(b)%16 != 0 {
				t.Fatalf("op %d: alloc(%d) at %#x not 16-byte aligned", op, n, addr(b))
			}
			if kind == 1 {
				if off := firstNonZero(b); off >= 0 {
					t.Fatalf("op %d: Calloc(%d) byte %d is %#x", op, n, off, b[off])
				}
			}
			set(slot, b, seed, 0)
		case 2: // realloc (of nil when the slot is empty)
			n := fuzzSize(tier, v)
			if s.live {
				verify(slot, true, "before realloc")
			}
			nb, err := hakmem.TryRealloc(s.b, n)
			stale = nil
			if err != nil {
				t.Fatalf("op %d: TryRealloc(%d -> %d): %v", op, len(s.b), n, err)
			}
			if len(nb) != n || cap(nb) < n {
				t.Fatalf("op %d: TryRealloc(%d -> %d): len %d cap %d", op, len(s.b), n, len(nb), cap(nb))
			}
			keep := min(len(s.b), n)
			for j := 0; j < keep; j++ {
				if nb[j] != s.want[j] {
					t.Fatalf("op %d: TryRealloc(%d -> %d) lost byte %d", op, len(s.b), n, j)
				}
			}
			set(slot, nb, seed, keep)
		case 3: // free
			if s.live {
				freeSlot(slot, "free")
			}
		case 4: // double free of the block freed last, if surely still free
			if stale != nil {
				err := hakmem.TryFree(stale)
				asHakErr(t, err, hakmem.ErrDoubleFree, "double free")
				if t.Failed() {
					t.FailNow()
				}
			}
		case 5: // interior pointers
			if s.live {
				for _, off := range []int{1, 16} {
					if cap(s.b) > off {
						err := hakmem.TryFree(s.b[off:])
						asHakErr(t, err, hakmem.ErrInvalidPointer, "interior free")
						if t.Failed() {
							t.FailNow()
						}
					}
				}
			}
		case 6: // check and UsableSize
			if s.live {
				verify(slot, true, "check")
				if u := hakmem.UsableSize(s.b); u != cap(s.b) {
					t.Fatalf("op %d: UsableSize %d != cap %d", op, u, cap(s.b))
				}
			}
		case 7: // realloc to zero frees the block
			if s.live {
				verify(slot, true, "before realloc to 0")
				old := s.b
				z, err := hakmem.TryRealloc(s.b, 0)
				if err != nil {
					t.Fatalf("op %d: TryRealloc(b, 0): %v", op, err)
				}
				if z == nil || len(z) != 0 {
					t.Fatalf("op %d: TryRealloc(b, 0): nil=%v len %d", op, z == nil, len(z))
				}
				*s = fuzzSlot{}
				if cap(old) > 0 {
					stale = old
				}
				if cap(z) > 0 { // not required to be capacity 0: keep it to free
					stale = nil
					set(slot, z, seed, 0)
				}
			}
		}
		for i := range slots {
			if slots[i].live {
				verify(i, false, "after op")
			}
		}
	}
	for i := range slots {
		if slots[i].live {
			freeSlot(i, "final free")
		}
	}
}
