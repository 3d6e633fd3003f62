package prometheus_test

import (
	"testing"

	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/hakmem-go/hakmem"
	"github.com/hakmem-go/hakmem/metrics"
	hakmemprom "github.com/hakmem-go/hakmem/metrics/prometheus"
)

// TestGather: the registry accepts every metric (consistent names, help,
// labels) and gathers one family per metric; a learning site makes the
// learning metrics present, with their two labels.
func TestGather(t *testing.T) {
	old := hakmem.CurrentMode()
	if err := hakmem.SetMode(hakmem.Learning); err != nil {
		t.Fatal(err)
	}
	s := hakmem.NewSite("prometheus-learn")
	for range 2000 {
		hakmem.Free(s.Alloc(300 << 10))
	}
	if err := hakmem.SetMode(old); err != nil {
		t.Fatal(err)
	}
	hakmem.StopLearner()
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
		labels := func() map[string]string {
			l := map[string]string{}
			for _, p := range f.GetMetric()[0].GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			return l
		}
		switch f.GetName() {
		case "hakmem_learn_rating_elo":
			if l := labels(); f.GetType().String() != "GAUGE" || l["site"] == "" || l["threshold"] == "" {
				t.Errorf("rating: %v %v", f.GetType(), l)
			}
		case "hakmem_learn_transitions_total":
			if l := labels(); f.GetType().String() != "COUNTER" || l["site"] == "" || l["transition"] == "" {
				t.Errorf("transitions: %v %v", f.GetType(), l)
			}
		}
	}
}
