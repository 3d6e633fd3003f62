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
