package prometheus_test

import (
	"testing"

	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/hakmem-go/hakmem/metrics"
	hakmemprom "github.com/hakmem-go/hakmem/metrics/prometheus"
)

// TestGather: the registry accepts every metric (consistent names, help,
// labels) and gathers one family per metric.
func TestGather(t *testing.T) {
	reg := prom.NewPedanticRegistry()
	reg.MustRegister(hakmemprom.NewCollector())
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != len(metrics.All()) {
		t.Fatalf("%d families, %d metrics", len(fams), len(metrics.All()))
	}
	for _, f := range fams {
		if f.GetName() == "hakmem_memory_mapped_bytes" && f.GetType().String() != "GAUGE" {
			t.Errorf("mapped bytes: %v", f.GetType())
		}
	}
}
