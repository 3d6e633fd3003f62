package prometheus_test

import (
	"expvar"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hakmem-go/hakmem"
	hakmemprom "github.com/hakmem-go/hakmem/metrics/prometheus"
)

// Serve hakmem's metrics both ways, Prometheus on /metrics and expvar on
// /debug/vars (importing the collector imports package metrics, which
// publishes the expvar variable), scrape each once and stop.
func Example() {
	reg := prom.NewRegistry()
	reg.MustRegister(hakmemprom.NewCollector())
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/debug/vars", expvar.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	b := hakmem.Alloc(1000)
	defer hakmem.Free(b)
	get := func(path string) string {
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	m, v := get("/metrics"), get("/debug/vars")
	fmt.Println(strings.Contains(m, "\nhakmem_memory_mapped_bytes "))
	fmt.Println(strings.Contains(m, `hakmem_site_allocs_calls_total{site="default"}`))
	fmt.Println(strings.Contains(v, `"/hakmem/memory/mapped:bytes"`))
	// Output:
	// true
	// true
	// true
}
