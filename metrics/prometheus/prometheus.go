// Package prometheus is a Prometheus collector for hakmem's statistics:
// the samples of the metrics package, named as Prometheus names them
// ("/hakmem/memory/mapped:bytes" becomes hakmem_memory_mapped_bytes,
// counters get _total), with the label "site" or "class" where the metric
// has one, and a second label ("threshold" or "transition") on the
// learning metrics: hakmem_learn_rating_elo{site,threshold},
// hakmem_learn_transitions_total{site,transition}. Register it once:
//
//	prometheus.MustRegister(hakmemprom.NewCollector())
package prometheus

import (
	"strings"

	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/hakmem-go/hakmem/metrics"
)

// Collector collects hakmem's metrics; every scrape makes one
// hakmem.ReadStats.
type Collector struct {
	descs map[string]*prom.Desc // by metrics name
	kinds map[string]prom.ValueType
	order []string
}

// NewCollector returns a collector of every metric in metrics.All.
func NewCollector() *Collector {
	c := &Collector{descs: map[string]*prom.Desc{}, kinds: map[string]prom.ValueType{}}
	for _, d := range metrics.All() {
		var labels []string
		if d.Label != "" {
			labels = []string{d.Label}
		}
		if d.Label2 != "" {
			labels = append(labels, d.Label2)
		}
		kind := prom.GaugeValue
		if d.Kind == metrics.Counter {
			kind = prom.CounterValue
		}
		c.descs[d.Name] = prom.NewDesc(Name(d), d.Help, labels, nil)
		c.kinds[d.Name] = kind
		c.order = append(c.order, d.Name)
	}
	return c
}

// Name is the Prometheus name of a metric.
func Name(d metrics.Description) string {
	n := strings.NewReplacer("/", "_", "-", "_", ":", "_").Replace(strings.TrimPrefix(d.Name, "/"))
	if d.Kind == metrics.Counter {
		n += "_total"
	}
	return n
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prom.Desc) {
	for _, n := range c.order {
		ch <- c.descs[n]
	}
}

// Collect reads hakmem's statistics once and sends every sample.
func (c *Collector) Collect(ch chan<- prom.Metric) {
	for _, s := range metrics.Read() {
		var labels []string
		if s.LabelValue != "" {
			labels = []string{s.LabelValue}
		}
		if s.LabelValue2 != "" {
			labels = append(labels, s.LabelValue2)
		}
		ch <- prom.MustNewConstMetric(c.descs[s.Name], c.kinds[s.Name], s.Value, labels...)
	}
}
