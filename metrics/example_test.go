package metrics_test

import (
	"fmt"

	"github.com/hakmem-go/hakmem"
	"github.com/hakmem-go/hakmem/metrics"
)

// Read returns every metric's current samples; importing the package also
// publishes them as the expvar variable "hakmem" (/debug/vars).
func ExampleRead() {
	b := hakmem.Alloc(1 << 20)
	defer hakmem.Free(b)
	for _, s := range metrics.Read() {
		if s.Name == "/hakmem/memory/mapped:bytes" {
			fmt.Println(s.Value >= 1<<20)
		}
	}
	for _, d := range metrics.All() {
		if d.Name == "/hakmem/memory/mapped:bytes" {
			fmt.Println(d.Kind)
		}
	}
	// Output:
	// true
	// gauge
}
