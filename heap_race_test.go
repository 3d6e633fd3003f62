//go:build race

package hakmem_test

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/hakmem-go/hakmem"
)

// TestHeapConcurrentUseRaceDetector: under -race, two goroutines using one
// Heap at once are reported by the race detector, even on the fast paths
// (the heap's records live off the Go heap, where the detector does not
// look; every method writes a Go field of the Heap). The racing use runs in
// a child process, whose failure is the expected outcome.
func TestHeapConcurrentUseRaceDetector(t *testing.T) {
	if os.Getenv(childEnv) == t.Name() {
		h := hakmem.NewHeap()
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 1000 {
					h.Free(h.Alloc(64))
				}
			}()
		}
		wg.Wait()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "DATA RACE") || !strings.Contains(string(out), "hakmem.(*Heap)") {
		t.Fatalf("two goroutines on one Heap: exit %v, no race report naming the Heap:\n%.3000s", err, out)
	}
}
