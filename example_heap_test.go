package hakmem_test

import (
	"errors"
	"fmt"
	"sync"

	"github.com/hakmem-go/hakmem"
)

// A worker allocates through its own Heap (no pin, no atomic per call);
// its results outlive it, so it detaches the heap when it is done, and the
// consumer frees them with the global Free (remote frees). A request's
// scratch heap is closed instead: everything in it goes at once.
func ExampleHeap() {
	results := make(chan []byte, 4)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h := hakmem.NewHeap()
		defer h.Detach() // the results live on
		for i := range 4 {
			b := h.Alloc(32)
			n := copy(b, fmt.Sprintf("result %d", i))
			results <- b[:n]
		}
	}()
	wg.Wait()
	close(results)
	for b := range results {
		fmt.Println(string(b))
		hakmem.Free(b)
	}

	scratch := hakmem.NewHeap()
	for range 1000 {
		scratch.Alloc(64) // never freed one by one
	}
	scratch.Close()
	_, err := scratch.TryAlloc(64)
	fmt.Println(errors.Is(err, hakmem.ErrClosed))
	// Output:
	// result 0
	// result 1
	// result 2
	// result 3
	// true
}

// An Arena serves a request's small, pointer-free objects by bumping a
// cursor; Reset drops them all at once and keeps the memory for the next
// request, Close gives it back.
func ExampleArena() {
	type node struct {
		Key         uint64
		Left, Right int32 // indexes into the request's nodes, not pointers
	}
	a := hakmem.NewArena()
	defer a.Close()
	for req := range 3 {
		nodes := hakmem.ArenaMakeSlice[node](a, 100)
		for i := range nodes {
			nodes[i] = node{Key: uint64(req*100 + i), Left: -1, Right: -1}
		}
		name := hakmem.ArenaString(a, fmt.Sprintf("request %d", req))
		fmt.Println(name, nodes[99].Key)
		a.Reset() // everything of this request is gone
	}
	_, err := hakmem.TryArenaNew[*node](a) // Go pointers are refused
	fmt.Println(errors.Is(hakmem.TryFree(a.Alloc(8)), hakmem.ErrInvalidPointer), err == nil)
	// Output:
	// request 0 99
	// request 1 199
	// request 2 299
	// true false
}
