package hakmem_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hakmem-go/hakmem"
)

type point struct{ X, Y float64 }

type named struct {
	ID   int
	Name string // a Go pointer inside: refused
}

func Example() {
	buf := hakmem.Alloc(100)
	copy(buf, "off the GC heap")
	buf = hakmem.Realloc(buf, 4096) // keeps the first 100 bytes
	fmt.Println(string(buf[:15]), len(buf), hakmem.UsableSize(buf))
	hakmem.Free(buf)

	if err := hakmem.TryFree(buf); errors.Is(err, hakmem.ErrDoubleFree) {
		fmt.Println("second free refused")
	}

	p := hakmem.New[point]()
	p.X, p.Y = 1, 2
	fmt.Println(*p)
	hakmem.Delete(p)

	func() {
		defer func() { fmt.Println(recover()) }()
		hakmem.New[named]()
	}()

	site := hakmem.NewSite("example")
	hakmem.Free(site.Alloc(32))
	// Output:
	// off the GC heap 4096 4096
	// second free refused
	// {1 2}
	// hakmem: New: type contains Go pointers: type hakmem_test.named holds Go pointers (Name string); the garbage collector cannot see them in hakmem memory
}

// WriteStats writes a report for people; here only its section headers are
// printed, since the numbers depend on what ran before.
func ExampleWriteStats() {
	b := hakmem.Alloc(100)
	defer hakmem.Free(b)
	var out strings.Builder
	if err := hakmem.WriteStats(&out); err != nil {
		panic(err)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if line != "" && line[0] != ' ' && !strings.Contains(line, "(debug)") {
			fmt.Println(line)
		}
	}
	// Output:
	// hakmem statistics
	// Memory
	// Tiers
	// Top sites (by allocations)
	// Sites worth naming (plain Alloc callers, sampled on the slow path)
	// Caches
	// Per-P cache caps (capacity learner)
	// Scavenger
	// System calls
	// Learning leaderboard
}
