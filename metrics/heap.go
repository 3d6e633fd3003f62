package metrics

import (
	"bytes"
	"net/http"

	"github.com/hakmem-go/hakmem"
)

// HeapPath is where HeapHandler is usually mounted, next to the runtime's
// /debug/pprof/heap.
const HeapPath = "/debug/hakmem/heap"

// HeapHandler serves hakmem's live-memory profile (hakmem.WriteHeapProfile)
// in the pprof format, so that
//
//	http.Handle(metrics.HeapPath, metrics.HeapHandler())
//	go tool pprof http://host/debug/hakmem/heap
//
// works as it does for the runtime's heap profile. The profile is written
// to memory first, so an error is a 500, not half a profile.
func HeapHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if err := hakmem.WriteHeapProfile(&buf); err != nil {
			http.Error(w, "hakmem: writing the heap profile: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="hakmem-heap"`)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(buf.Bytes())
	})
}
