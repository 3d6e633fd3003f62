package hakmem

//go:generate go run ./internal/mksizeclasses -o sizeclasses.go

// Tier names a band of size classes (see DESIGN.md). The tier decides the
// per-P cache policy that internal/mksizeclasses bakes into the table.
type tier uint8

const (
	tierTiny tier = iota // 16 B .. 1 KiB
	tierMid              // 1 KiB .. 64 KiB, bridge classes included
	tierL25              // 64 KiB .. 1 MiB
)

func (t tier) String() string {
	switch t {
	case tierTiny:
		return "tiny"
	case tierMid:
		return "mid"
	}
	return "l2.5"
}

// classInfo is one row of the generated table. Every field is fixed at
// generation time; the engine never writes it.
type classInfo struct {
	size    uint32 // block size, bytes, a multiple of 16
	pages   uint8  // slab length in pages (pageSize)
	nblocks uint32 // blocks per slab
	divMul  uint64 // off*divMul>>divShift == off/size for offsets inside a slab
	// The boundary test, Lemire's divisibility test: for any offset off
	// from the slab's base (p-base, wrapping below it),
	// ror(off*blockInv, blockRot) < nblocks exactly when off starts a
	// block, the value being then the block's index. One multiply and a
	// rotate where off/size and a multiply back would take two multiplies.
	blockInv  uint64 // the inverse mod 2^64 of size's odd part
	blockRot  uint8  // the power of two in size (size = odd part << blockRot)
	tier      tier
	cap       uint16 // per-P cache cap, blocks (0: no per-P caching)
	batch     uint16 // blocks moved per refill or flush
	transfers uint16 // whole batches the central transfer cache may hold
}

const (
	// divShift pairs with classInfo.divMul; internal/mksizeclasses proves
	// the division exact for every offset inside a slab.
	divShift = 43
	// tinyMax is the largest request looked up in sizeToClass16.
	tinyMax = 1024
	// maxSmall is the large threshold: the largest class. Bigger requests
	// get their own mapping (large.go).
	maxSmall = 1 << 20
)

// sizeClass returns the class of a request of 1..maxSmall bytes.
func sizeClass(n uintptr) uint8 {
	if n <= tinyMax {
		return sizeToClass16[(n+15)>>4]
	}
	return sizeToClass128[(n+127)>>7]
}
