package metrics_test

import (
	"encoding/json"
	"expvar"
	"regexp"
	"testing"

	"github.com/hakmem-go/hakmem"
	"github.com/hakmem-go/hakmem/internal/learn"
	"github.com/hakmem-go/hakmem/metrics"
)

func TestNames(t *testing.T) {
	re := regexp.MustCompile(`^/hakmem(/[a-z0-9-]+)+:[a-z]+$`)
	seen := map[string]bool{}
	for _, d := range metrics.All() {
		if !re.MatchString(d.Name) || seen[d.Name] || d.Help == "" || (d.Kind != metrics.Gauge && d.Kind != metrics.Counter) {
			t.Errorf("bad description %+v", d)
		}
		seen[d.Name] = true
	}
}

func TestReadAndExpvar(t *testing.T) {
	h := hakmem.NewHeap()
	defer h.Close()
	h.Alloc(100)
	a := hakmem.NewArena()
	defer a.Close()
	a.Alloc(100)
	s := hakmem.NewSite("metrics-test")
	b := s.Alloc(3 << 20)
	small := hakmem.Alloc(100)
	defer hakmem.Free(small)
	hakmem.Free(b)
	hakmem.StopScavenger()

	v := map[string]float64{}
	sites := map[string]bool{}
	for _, x := range metrics.Read() {
		if x.LabelValue == "" {
			v[x.Name] = x.Value
		} else if x.Name == "/hakmem/site/allocs:calls" {
			sites[x.LabelValue] = true
		}
	}
	if v["/hakmem/memory/mapped:bytes"] != v["/hakmem/memory/in-use:bytes"]+v["/hakmem/memory/cached:bytes"]+v["/hakmem/memory/free:bytes"] {
		t.Errorf("mapped != in use + cached + free: %v", v)
	}
	if v["/hakmem/allocs:calls"] < 2 || v["/hakmem/sys/mmap:calls"] < 1 || !sites["metrics-test"] || !sites["default"] {
		t.Errorf("samples: %v, sites %v", v, sites)
	}
	if v["/hakmem/heaps/live:heaps"] < 1 || v["/hakmem/heaps/owned:bytes"] == 0 || v["/hakmem/arenas/live:arenas"] < 1 || v["/hakmem/arenas/held:bytes"] == 0 {
		t.Errorf("a live heap and arena: heaps %v (%v bytes), arenas %v (%v bytes)", v["/hakmem/heaps/live:heaps"],
			v["/hakmem/heaps/owned:bytes"], v["/hakmem/arenas/live:arenas"], v["/hakmem/arenas/held:bytes"])
	}

	ev := expvar.Get(metrics.ExpvarName)
	if ev == nil {
		t.Fatal("expvar variable not published")
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(ev.String()), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["/hakmem/memory/mapped:bytes"].(float64); !ok {
		t.Errorf("expvar lacks mapped bytes: %v", m)
	}
	if site, ok := m["/hakmem/site/allocs:calls"].(map[string]any); !ok || site["metrics-test"] == nil {
		t.Errorf("expvar lacks the site: %v", m["/hakmem/site/allocs:calls"])
	}
}

// learnSite gives site name a learning state (the Learning mode for a few
// thousand 300 KiB allocations, some sampled: the state exists from the
// first sample; with 100 ms windows nothing is decided yet) and restores
// the mode.
func learnSite(t *testing.T, name string) {
	t.Helper()
	old := hakmem.CurrentMode()
	if err := hakmem.SetMode(hakmem.Learning); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := hakmem.SetMode(old); err != nil {
			t.Error(err)
		}
		hakmem.StopLearner()
	}()
	s := hakmem.NewSite(name)
	for range 2000 {
		hakmem.Free(s.Alloc(300 << 10))
	}
}

// TestLearnMetrics: a learning site's leaderboard in Read and the expvar
// variable, labelled with the site and the threshold or transition.
func TestLearnMetrics(t *testing.T) {
	learnSite(t, "metrics-learn")
	ratings, transitions := map[string]float64{}, map[string]bool{}
	var threshold float64
	for _, x := range metrics.Read() {
		if x.LabelValue != "metrics-learn" {
			continue
		}
		switch x.Name {
		case "/hakmem/learn/rating:elo":
			ratings[x.LabelValue2] = x.Value
		case "/hakmem/learn:transitions":
			transitions[x.LabelValue2] = true
		case "/hakmem/learn/threshold:bytes":
			threshold = x.Value
		}
	}
	if len(ratings) != 8 || ratings["65536"] == 0 || ratings["1048576"] == 0 || ratings["bigcache:hold"] == 0 || !transitions["LEARN->FROZEN"] || len(transitions) != learn.NumTransitions || threshold < 64<<10 {
		t.Errorf("ratings %v, transitions %v, threshold %v", ratings, transitions, threshold)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(expvar.Get(metrics.ExpvarName).String()), &m); err != nil {
		t.Fatal(err)
	}
	r, _ := m["/hakmem/learn/rating:elo"].(map[string]any)
	site, _ := r["metrics-learn"].(map[string]any)
	if v, _ := site["262144"].(float64); v == 0 {
		t.Errorf("expvar ratings: %v", m["/hakmem/learn/rating:elo"])
	}
}
