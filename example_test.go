package hakmem_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
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

// Alloc and Free: a block of at least size bytes, off the GC heap, until
// Free. Calloc zeroes; Realloc keeps the contents up to the shorter length.
func ExampleAlloc() {
	b := hakmem.Alloc(64 << 10) // len 65536, contents unspecified
	copy(b, "hello")
	z := hakmem.Calloc(16) // zeroed
	z = hakmem.Realloc(z, 1<<20)
	fmt.Println(len(b), string(b[:5]), len(z), z[0])
	hakmem.Free(b)
	hakmem.Free(z)
	// Output: 65536 hello 1048576 0
}

// The Try functions return an *Error that matches one of the Err*
// sentinels; the plain ones panic with it. A rejected call changes nothing.
func ExampleTryAlloc() {
	if _, err := hakmem.TryAlloc(-1); errors.Is(err, hakmem.ErrNegativeSize) {
		fmt.Println("negative size refused")
	}
	goMemory := make([]byte, 64)
	if err := hakmem.TryFree(goMemory); errors.Is(err, hakmem.ErrInvalidPointer) {
		fmt.Println("Go heap memory refused")
	}
	b, err := hakmem.TryAlloc(100)
	if err != nil {
		panic(err)
	}
	fmt.Println(hakmem.TryFree(b), errors.Is(hakmem.TryFree(b), hakmem.ErrDoubleFree))
	// Output:
	// negative size refused
	// Go heap memory refused
	// <nil> true
}

// The typed helpers allocate zeroed values of types that hold no Go
// pointers, and refuse the others with ErrPointerType.
func ExampleMakeSlice() {
	v := hakmem.MakeSlice[float64](1000)
	for i := range v {
		v[i] = float64(i)
	}
	fmt.Println(len(v), v[999])
	hakmem.FreeSlice(v)

	p := hakmem.New[point]()
	p.X = 3
	fmt.Println(*p)
	hakmem.Delete(p)

	func() {
		defer func() {
			if err, _ := recover().(error); errors.Is(err, hakmem.ErrPointerType) {
				fmt.Println("[]string refused")
			}
		}()
		hakmem.MakeSlice[string](10)
	}()
	// Output:
	// 1000 999
	// {3 0}
	// []string refused
}

// A Site names the purpose of its allocations: its traffic is counted
// apart, and it has its own BigCache list and routing threshold.
func ExampleNewSite() {
	site := hakmem.NewSite("example-json-buffers")
	for range 3 {
		hakmem.Free(site.Alloc(32 << 10))
	}
	for _, s := range hakmem.ReadStats().Sites {
		if s.Name == site.Name() {
			fmt.Println(s.Name, s.Allocs, s.Bytes)
		}
	}
	// Output: example-json-buffers 3 98304
}

// SetMemoryLimit bounds what hakmem maps: past it the caches are emptied,
// then allocations fail with ErrMemoryLimit.
func ExampleSetMemoryLimit() {
	hakmem.Release() // what is cached does not count against the limit below
	prev := hakmem.SetMemoryLimit(int64(hakmem.ReadStats().MappedBytes) + 64<<20)
	defer hakmem.SetMemoryLimit(prev)
	_, err := hakmem.TryAlloc(1 << 30)
	fmt.Println(errors.Is(err, hakmem.ErrMemoryLimit))
	// Output: true
}

// ShareMemoryLimit shares one budget between the Go runtime and hakmem:
// Go's memory limit becomes the budget less what hakmem maps (less a
// headroom), and hakmem stops at the budget less the Go runtime's memory.
// HAKMEM_MEMORY_LIMIT=auto does the same at first use with the budget from
// GOMEMLIMIT or the cgroup.
func ExampleShareMemoryLimit() {
	goLimit := debug.SetMemoryLimit(-1)
	hakmem.ShareMemoryLimit(8 << 30)
	fmt.Println(debug.SetMemoryLimit(-1) < 8<<30) // the Go limit leaves room for hakmem
	fmt.Println(hakmem.ShareMemoryLimit(0))       // ends the sharing, returns the budget
	fmt.Println(debug.SetMemoryLimit(-1) == goLimit)
	// Output:
	// true
	// 8589934592
	// true
}

// ReadStats returns every counter; WriteStats formats them for people.
func ExampleReadStats() {
	b := hakmem.Alloc(1 << 20)
	st := hakmem.ReadStats()
	fmt.Println(st.InUseBytes >= 1<<20, st.MappedBytes >= st.InUseBytes)
	hakmem.Free(b)
	// Output: true true
}

// SavePolicy writes what the learners learned (JSON); LoadPolicy starts
// from it, for instance in the next run of the service.
func ExampleSavePolicy() {
	var saved bytes.Buffer
	if err := hakmem.SavePolicy(&saved); err != nil {
		panic(err)
	}
	fmt.Println(json.Valid(saved.Bytes()))
	if err := hakmem.LoadPolicy(&saved); err != nil {
		panic(err)
	}
	err := hakmem.LoadPolicy(strings.NewReader("not a policy"))
	fmt.Println(err != nil) // a bad file changes nothing
	// Output:
	// true
	// true
}

// A mode is a preset of the configuration: HAKMEM_MODE or Configure before
// first use, SetMode at any time. Settings lists every effective value with
// where it came from.
func ExampleSetMode() {
	prev := hakmem.CurrentMode()
	if err := hakmem.SetMode(hakmem.Minimal); err != nil {
		panic(err)
	}
	for _, s := range hakmem.Settings() {
		if s.Name == "mode" || s.Name == "segment_cache" {
			fmt.Println(s.Env, s.Text)
		}
	}
	hakmem.SetMode(prev)
	fmt.Println(hakmem.Configure(hakmem.Config{Mode: hakmem.Fast}) != nil) // too late: hakmem is in use
	// Output:
	// HAKMEM_MODE minimal
	// HAKMEM_SEGMENT_CACHE 0
	// true
}
