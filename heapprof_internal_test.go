package hakmem

import (
	"math/rand/v2"
	"testing"
)

// TestProfSlotTable: the sample table's open addressing with backward-shift
// deletion finds every live sample and none of the deleted ones, through
// long probe runs and wrap-around.
func TestProfSlotTable(t *testing.T) {
	prof.mu.Lock()
	defer prof.mu.Unlock()
	if prof.n != 0 {
		t.Skip("the profile holds samples in this process")
	}
	r := rand.New(rand.NewPCG(1, 2))
	live := map[uintptr]bool{}
	var order []uintptr
	for len(order) < profSlots/2 {
		// Addresses clustered in a few pages make long runs of one hash.
		a := (uintptr(r.IntN(1<<20)) << 4) | 0x7f0000000000
		if live[a] {
			continue
		}
		if !slotInsert(profSlot{addr: a, size: 1}) {
			t.Fatalf("insert %d refused", len(order))
		}
		live[a] = true
		order = append(order, a)
	}
	for i, a := range order {
		if i%3 == 0 {
			j := slotFind(a)
			if j < 0 {
				t.Fatalf("%#x not found before its deletion", a)
			}
			slotDelete(uintptr(j))
			delete(live, a)
		}
	}
	for _, a := range order {
		if got := slotFind(a) >= 0; got != live[a] {
			t.Fatalf("%#x: found %v, live %v", a, got, live[a])
		}
	}
	for a := range live {
		slotDelete(uintptr(slotFind(a)))
	}
	if prof.n != 0 {
		t.Fatalf("%d samples left after deleting all", prof.n)
	}
	for i := uintptr(0); i < profSlots; i++ {
		if slotAt(i).addr != 0 {
			t.Fatalf("slot %d not empty", i)
		}
	}
}
