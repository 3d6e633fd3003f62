package hakmem

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// The stack table: full stacks of sampled blocks (checked mode) and heap
// profile samples, interned so that a stack seen a million times is kept
// once. It is bounded: stackTabSize stacks of at most maxStack PCs, in one
// mapping off the Go heap (mapped at the first stack); when it is full a
// new stack is not kept (id 0, counted in stackTab.dropped) and callers
// fall back to the one PC they record anyway. The index is a fixed array
// of ids, which holds no pointers.

const (
	stackTabSize = 8192               // stacks kept, at most (2.1 MiB of PCs)
	stackSlot    = 1 + maxStack       // words per stack: its length, then its PCs
	stackIndex   = 2 * stackTabSize   // open-addressing slots: the index stays under half full
	stackHashMul = 0x9e3779b97f4a7c15 // Fibonacci hashing
	stackMapLen  = stackTabSize * stackSlot * 8
)

type stackTable struct {
	mu      sync.Mutex
	base    uintptr            // the stacks, off the Go heap; 0 until the first; guarded by mu
	n       uint32             // stacks kept (ids 1..n); guarded by mu
	index   [stackIndex]uint32 // hash slot -> id, 0 empty; guarded by mu
	dropped atomic.Uint64      // stacks not kept: the table was full, or could not be mapped
}

var stackTab stackTable

func stackHash(pcs []uintptr) uint64 {
	h := uint64(len(pcs))
	for _, pc := range pcs {
		h = (h ^ uint64(pc)) * stackHashMul
	}
	return h
}

// intern returns the id of the stack pcs (at most maxStack PCs), adding it
// if new; 0 if it cannot be kept.
func (t *stackTable) intern(pcs []uintptr) uint32 {
	if len(pcs) == 0 {
		return 0
	}
	pcs = pcs[:min(len(pcs), maxStack)]
	h := stackHash(pcs)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.base == 0 {
		base, err := osMap(stackMapLen, osPageSize)
		if err != nil {
			t.dropped.Add(1)
			return 0
		}
		t.base = base
	}
	for i := h >> 50; ; i = (i + 1) % stackIndex {
		id := t.index[i]
		if id == 0 {
			if t.n == stackTabSize {
				t.dropped.Add(1)
				return 0
			}
			t.n++
			id = t.n
			e := t.entry(id)
			e[0] = uintptr(len(pcs))
			copy(e[1:], pcs)
			t.index[i] = id
			return id
		}
		if e := t.entry(id); e[0] == uintptr(len(pcs)) && equalPCs(e[1:1+len(pcs)], pcs) {
			return id
		}
	}
}

// entry is the slot of stack id (1-based). Caller holds mu, or reads a
// slot that intern filled (filled slots never change).
func (t *stackTable) entry(id uint32) []uintptr {
	return unsafe.Slice((*uintptr)(ptr(t.base+uintptr(id-1)*stackSlot*8)), stackSlot)
}

// stack returns a copy of stack id (nil for 0).
func (t *stackTable) stack(id uint32) []uintptr {
	if id == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if id > t.n {
		return nil
	}
	e := t.entry(id)
	return append([]uintptr(nil), e[1:1+e[0]]...)
}

func equalPCs(a, b []uintptr) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
