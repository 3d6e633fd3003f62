package bench

import (
	"fmt"

	hakmem "github.com/hakmem-go/hakmem"
)

// hakmemFixed is hakmem with a fixed routing threshold: every block goes
// through a site whose threshold is set by hand (Site.SetThreshold), which
// the learner never changes. One entry per candidate threshold of the
// learner (64 KiB .. 1 MiB, doubling), so that the learning scenario can
// compare the learned strategy with each fixed one. The entries run in the
// mode the process started with, like plain "hakmem".
type hakmemFixed struct {
	name      string
	threshold int          // routing threshold, bytes: requests above it take the large path
	site      *hakmem.Site // the entry's own site, for scenarios that want no site of their own
}

// fixedThresholds are the learner's candidate thresholds, in bytes
// (hakmem's thresholdCandidates: 64 KiB to 1 MiB, doubling; 1 MiB is the
// default HAKMEM_LARGE_THRESHOLD).
var fixedThresholds = []int{64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20}

func init() {
	for _, th := range fixedThresholds {
		name := "hakmem-fixed-" + fmtThreshold(uint64(th))
		register(name, fmt.Sprintf("hakmem through a site with its routing threshold fixed at %s (Site.SetThreshold), in the configured mode", fmtBytes(float64(th))), false,
			func() (Allocator, error) {
				startMode()
				a := &hakmemFixed{name: name, threshold: th}
				s, err := a.newSite("hakmem-bench/" + name)
				if err != nil {
					return nil, err
				}
				a.site = s
				return a, nil
			})
	}
}

// newSite returns the named site with the entry's threshold fixed.
func (a *hakmemFixed) newSite(name string) (*hakmem.Site, error) {
	s := hakmem.NewSite(name)
	if err := s.SetThreshold(a.threshold); err != nil {
		return nil, err
	}
	return s, nil
}

func (a *hakmemFixed) Name() string       { return a.name }
func (a *hakmemFixed) Alloc(n int) []byte { return a.site.Alloc(n) }
func (*hakmemFixed) Free(b []byte)        { hakmem.Free(b) }

// Settle switches back to the start mode if another entry left a different
// one, and returns hakmem's cached memory to the OS.
func (*hakmemFixed) Settle() {
	if m := startMode(); hakmem.CurrentMode() != m {
		_ = hakmem.SetMode(m)
	}
	hakmem.Release()
}

// WithSite returns an allocator on a fresh site with the entry's threshold.
func (a *hakmemFixed) WithSite(name string) (Allocator, error) {
	s, err := a.newSite(name)
	if err != nil {
		return nil, err
	}
	return &hakmemSite{name: a.name, site: s}, nil
}

// ReadStats: see readHakmemStats.
func (*hakmemFixed) ReadStats() *AllocatorStats { return readHakmemStats() }
