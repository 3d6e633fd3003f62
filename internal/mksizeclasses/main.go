// Command mksizeclasses generates sizeclasses.go, hakmem's table of size
// classes. Run it with `go generate` in the repository root.
//
// The classes are chosen by rule, not by hand:
//
//   - 16 B steps up to 128 B. Every block is a multiple of 16 bytes, which
//     gives the 16-byte alignment the API promises and leaves room for the two
//     words a free block carries (next pointer and free cookie).
//   - Above 128 B, eight classes per power of two (steps of 1/8 of the lower
//     power), so rounding a request up wastes less than 12.5% of it.
//   - The last class is 1 MiB, the large threshold: bigger requests get their
//     own mapping.
//
// For each class it also picks the slab length (in 16 KiB pages, the fewest
// that keep the slab's unusable tail at or below 1/8 of the slab), the per-P
// cache cap and refill batch, the central transfer-cache depth, and the
// reciprocal used to turn a block offset into a block index. The program
// checks its own bounds (waste, tail, exact division) and fails if any is
// broken, so a table that compiles is a table that was checked.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"math/bits"
	"os"
)

const (
	pageSize        = 16 << 10 // slab page, as in the engine (pageShift 14)
	pagesPerSegment = 128      // 2 MiB segments
	maxSmall        = 1 << 20  // the large threshold: the last class
	tinyMax         = 1 << 10  // tier boundaries, see DESIGN.md
	midMax          = 64 << 10 // mid includes the bridge classes below 64 KiB
	maxWaste        = 0.125    // round-up waste bound for sizes above 128 B
	// divShift: offsets are below 2^21 and the rounding error of divMul is
	// below size/2^divShift per byte, so 43 bits make off*divMul>>43 exact
	// while the product stays below 2^64 (divMul <= 2^39 for 16 B blocks).
	divShift = 43
)

type class struct {
	size, pages, nblocks  int
	divMul                uint64
	blockInv              uint64 // the inverse of size's odd part, mod 2^64
	blockRot              int    // the power of two in size
	tier                  string
	cap, batch, transfers int
}

func classes() []class {
	var sizes []int
	for s := 16; s <= 128; s += 16 {
		sizes = append(sizes, s)
	}
	for p := 128; p < maxSmall; p *= 2 {
		for s := p + p/8; s <= 2*p; s += p / 8 {
			sizes = append(sizes, s)
		}
	}
	var cs []class
	for _, s := range sizes {
		c := class{size: s}
		for c.pages = 1; c.pages <= pagesPerSegment; c.pages++ {
			slab := c.pages * pageSize
			if slab >= s && slab%s <= slab/8 {
				break
			}
		}
		c.nblocks = c.pages * pageSize / s
		c.divMul = (1<<divShift)/uint64(s) + 1
		c.blockRot = bits.TrailingZeros(uint(s))
		odd := uint64(s) >> c.blockRot
		c.blockInv = odd // correct to 3 bits; each Newton step doubles them
		for range 5 {
			c.blockInv *= 2 - odd*c.blockInv
		}
		switch {
		case s <= tinyMax:
			c.tier = "tiny"
			c.batch = clamp(8<<10/s, 8, 32) // refill 8 KiB at a time, 8..32 blocks
		case s < midMax:
			c.tier = "mid"
			c.batch = clamp(64<<10/s, 2, 16) // about 64 KiB at a time
		default:
			c.tier = "l2.5"
			c.batch = 1
		}
		c.cap = 2 * c.batch
		if c.tier == "tiny" {
			// Tiny caches are sized in bytes: 32 KiB of blocks per class,
			// at most 256 blocks, so a 256..1024 B class holds 32..128
			// blocks (it held 8..32) and random alloc/free traffic over
			// many sizes (larson) visits the central lists less often; at
			// most about 1 MiB per P over the 32 tiny classes.
			c.cap = clamp(32<<10/s, 2*c.batch, 256)
		}
		if c.tier == "l2.5" {
			// One block per P up to 256 KiB keeps a steady alloc/free pair
			// off the central lock; bigger blocks go straight to the central
			// list so idle per-P caches cannot pin megabytes.
			c.cap = 0
			if s <= 256<<10 {
				c.cap = 1
			}
		}
		// The transfer cache keeps whole batches between P caches; bound it
		// to about 32 KiB per class (and 1..8 batches) so that it smooths
		// producer/consumer traffic without hoarding, and skip it where
		// per-P caching is off.
		c.transfers = clamp(32<<10/(c.batch*s), 1, 8)
		if c.cap == 0 {
			c.transfers = 0
		}
		cs = append(cs, c)
	}
	return cs
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// check verifies every property the engine relies on.
func check(cs []class) {
	for i, c := range cs {
		if c.size%16 != 0 {
			log.Fatalf("class %d: size %d not a multiple of 16", i, c.size)
		}
		if i > 0 && c.size <= cs[i-1].size {
			log.Fatalf("class %d: sizes not increasing", i)
		}
		slab := c.pages * pageSize
		if c.pages > pagesPerSegment || c.nblocks < 1 || slab%c.size > slab/8 {
			log.Fatalf("class %d (%d B): slab of %d pages has a tail of %d B", i, c.size, c.pages, slab%c.size)
		}
		if c.nblocks > 1<<16 || c.size > 1<<24 || c.pages > 255 {
			log.Fatalf("class %d: does not fit the slab fields", i)
		}
		// off*divMul>>divShift must equal off/size for every offset in the slab.
		// The map is monotone, so checking both sides of each block
		// boundary checks all offsets.
		for k := 0; k <= c.nblocks; k++ {
			for _, off := range []int{k*c.size - 1, k * c.size} {
				if off < 0 || off >= slab {
					continue
				}
				if got := int(uint64(off) * c.divMul >> divShift); got != off/c.size {
					log.Fatalf("class %d: inexact division at offset %d", i, off)
				}
			}
		}
		// The boundary test (Lemire's divisibility test): ror(off*blockInv,
		// blockRot) is off/size when size divides off (as 64-bit numbers),
		// and above (2^64-1)/size otherwise, so "below nblocks" accepts
		// exactly the block starts. Checked at every offset of the slab and
		// past it, and at offsets below the slab (negative, as the engine's
		// unsigned p-base wraps them).
		if uint64(c.size)>>c.blockRot<<c.blockRot != uint64(c.size) || (uint64(c.size)>>c.blockRot)*c.blockInv != 1 {
			log.Fatalf("class %d: blockInv is not the inverse of the odd part", i)
		}
		for off := -2 * slab; off < 2*slab; off++ {
			got := bits.RotateLeft64(uint64(off)*c.blockInv, -c.blockRot) < uint64(c.nblocks)
			if want := off >= 0 && off%c.size == 0 && off/c.size < c.nblocks; got != want {
				log.Fatalf("class %d: the boundary test says %v at offset %d", i, got, off)
			}
		}
	}
	if cs[len(cs)-1].size != maxSmall {
		log.Fatalf("last class is %d, want %d", cs[len(cs)-1].size, maxSmall)
	}
	// Waste: every size above 128 rounds up by less than 12.5%.
	j := 0
	for s := 1; s <= maxSmall; s++ {
		for cs[j].size < s {
			j++
		}
		if s > 128 && float64(cs[j].size-s) > maxWaste*float64(s) {
			log.Fatalf("size %d rounds to %d: waste above %.1f%%", s, cs[j].size, 100*maxWaste)
		}
	}
}

func main() {
	out := flag.String("o", "sizeclasses.go", "output file")
	flag.Parse()
	cs := classes()
	check(cs)

	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by internal/mksizeclasses; DO NOT EDIT.\n\n")
	fmt.Fprintf(&b, "package hakmem\n\n")
	// The table for people, as the Go runtime's sizeclasses.go has it:
	// one class per line. max waste is the share of the slab lost when
	// every block holds the smallest request of its class (one byte more
	// than the class below), the slab's tail included.
	fmt.Fprintf(&b, "// %5s  %9s  %10s  %7s  %10s  %9s  %4s\n", "class", "bytes/obj", "slab bytes", "objects", "tail waste", "max waste", "tier")
	prev := 0
	for i, c := range cs {
		slab := c.pages * pageSize
		tail := slab - c.nblocks*c.size
		waste := float64((c.size-prev-1)*c.nblocks+tail) / float64(slab)
		fmt.Fprintf(&b, "// %5d  %9d  %10d  %7d  %10d  %8.2f%%  %4s\n", i, c.size, slab, c.nblocks, tail, 100*waste, c.tier)
		prev = c.size
	}
	fmt.Fprintf(&b, "\n")
	fmt.Fprintf(&b, "// numClasses is the number of small size classes (16 B .. 1 MiB).\nconst numClasses = %d\n\n", len(cs))
	fmt.Fprintf(&b, "// classes holds each class's parameters; see internal/mksizeclasses for the rules.\n")
	fmt.Fprintf(&b, "var classes = [numClasses]classInfo{\n")
	fmt.Fprintf(&b, "\t// size, slab pages (16 KiB), blocks per slab, divMul, blockInv, blockRot, tier, per-P cap, batch, transfer batches\n")
	for i, c := range cs {
		fmt.Fprintf(&b, "\t{size: %d, pages: %d, nblocks: %d, divMul: %#x, blockInv: %#x, blockRot: %d, tier: tier%s, cap: %d, batch: %d, transfers: %d}, // %3d\n",
			c.size, c.pages, c.nblocks, c.divMul, c.blockInv, c.blockRot, tierName(c.tier), c.cap, c.batch, c.transfers, i)
	}
	fmt.Fprintf(&b, "}\n\n")

	// sizeToClass16[(n+15)>>4] for n <= 1024; sizeToClass128[(n+127)>>7] above.
	fmt.Fprintf(&b, "// sizeToClass16[(n+15)>>4] is the class of a request of n <= %d bytes.\n", tinyMax)
	fmt.Fprintf(&b, "var sizeToClass16 = [%d]uint8{", tinyMax/16+1)
	for k := 0; k <= tinyMax/16; k++ {
		lookupEntry(&b, k, classOf(cs, max(k*16, 1)))
	}
	fmt.Fprintf(&b, "\n}\n\n")
	fmt.Fprintf(&b, "// sizeToClass128[(n+127)>>7] is the class of a request of %d < n <= %d bytes.\n", tinyMax, maxSmall)
	fmt.Fprintf(&b, "var sizeToClass128 = [%d]uint8{", maxSmall/128+1)
	for k := 0; k <= maxSmall/128; k++ {
		lookupEntry(&b, k, classOf(cs, max(k*128, 1)))
	}
	fmt.Fprintf(&b, "\n}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

// lookupEntry writes entry k, class c, of a lookup table: 32 entries a
// line, each line starting with its first index in a comment.
func lookupEntry(b *bytes.Buffer, k, c int) {
	if k%32 == 0 {
		fmt.Fprintf(b, "\n\t/* %4d */ ", k)
	}
	fmt.Fprintf(b, "%d, ", c)
}

// classOf is the smallest class holding n bytes. Rounding n up to 16 (or
// 128) before the lookup is exact because every class is a multiple of 16,
// and every class above 1 KiB a multiple of 128.
func classOf(cs []class, n int) int {
	for i, c := range cs {
		if c.size >= n {
			return i
		}
	}
	log.Fatalf("no class for %d", n)
	return 0
}

func tierName(t string) string {
	switch t {
	case "tiny":
		return "Tiny"
	case "mid":
		return "Mid"
	}
	return "L25"
}
