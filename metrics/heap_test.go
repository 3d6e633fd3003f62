package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/hakmem-go/hakmem"
	"github.com/hakmem-go/hakmem/metrics"
)

var heapHeld [][]byte

//go:noinline
func heapHandlerHolder() {
	for range 32 << 20 / 2000 {
		heapHeld = append(heapHeld, hakmem.Alloc(2000))
	}
}

// TestHeapHandlerPprof: go tool pprof reads the handler's profile over
// HTTP and lists the function that holds the memory.
func TestHeapHandlerPprof(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool pprof")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	heapHandlerHolder()
	defer func() {
		for _, b := range heapHeld {
			hakmem.Free(b)
		}
		heapHeld = nil
	}()
	mux := http.NewServeMux()
	mux.Handle(metrics.HeapPath, metrics.HeapHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + metrics.HeapPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("GET: %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	cmd := exec.Command(goBin, "tool", "pprof", "-top", srv.URL+metrics.HeapPath)
	cmd.Env = append(cmd.Environ(), "PPROF_TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "heapHandlerHolder") || !strings.Contains(string(out), "Type: inuse_space") {
		t.Errorf("go tool pprof -top does not list heapHandlerHolder's inuse_space:\n%s", out)
	}
}
