package hakmem

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/hakmem-go/hakmem/internal/learn"
)

// Policy files: what the learner learned, saved as JSON and loaded into
// another run, so that a program can learn once (Learning mode) and run
// frozen on it (Fast, Balanced). Sites are matched by name; a loaded site
// starts FROZEN on its saved strategy, with its ratings, and keeps learning
// only if the mode is live (CANARY windows and the return-to-LEARN rules
// still apply then). The file also carries the capacity learner's
// per-class per-P cache caps (learn_cap.go) that are above the generated
// ones, so that a program started frozen runs on the caps it learned.
//
// The file is validated completely before anything changes: a corrupt file,
// another format or version, unknown fields, a candidate list that differs
// from this build's (thresholds, or size classes for the signature and
// the caps), a duplicate site or class or an impossible value give an
// error and leave every site and every cap as it was.

// policyFormat and policyVersion identify the file. Bump the version when a
// field changes meaning; a loader refuses versions it does not know.
// Version 2 added the BigCache policy (bigcache, bigcache_strategies,
// bigcache_learned) and the per-class caps (caps, optional); version 1
// files still load, on the default policy, and may not carry caps.
const (
	policyFormat  = "hakmem-policy"
	policyVersion = 2
)

// policyFile is the JSON document.
type policyFile struct {
	Format     string   `json:"format"`     // policyFormat
	Version    int      `json:"version"`    // policyVersion
	Candidates []uint64 `json:"candidates"` // learn.Thresholds, bytes: must match this build
	// SizeBuckets is numSizeBuckets, the size classes plus one: a
	// signature is only meaningful with the same classes.
	SizeBuckets int `json:"size_buckets"`
	// Caps are the capacity learner's per-P caps above the generated ones,
	// in class order (version 2; left out when every class has its
	// generated cap). Absent, LoadPolicy leaves the caps as they are;
	// present, it sets every class: the listed ones to their cap, the
	// others to the generated one.
	Caps  []policyCap  `json:"caps,omitempty"`
	Sites []policySite `json:"sites"`
}

// policyCap is one size class's per-P cache cap. The class is named by its
// block size, so that a file from a build with other size classes is
// refused rather than read as caps for the wrong classes.
type policyCap struct {
	Size int64 `json:"size"` // the class's block size, bytes: one of this build's classes
	Cap  int64 `json:"cap"`  // per-P cap, blocks: from the generated cap (pcache_scale applied) to capCeiling
}

// policySite is one site's learned state.
type policySite struct {
	Name       string           `json:"name"`
	State      string           `json:"state"`     // LEARN, FROZEN or CANARY when saved (informative)
	Threshold  uint64           `json:"threshold"` // the strategy to run (the frozen one, or the leader), bytes
	Strategies []policyStrategy `json:"strategies"`
	// BigCache is the cache policy to run ("default", "lean", "hold"; empty
	// in version 1: "default"), CacheStrategies its arms' records in
	// cacheStyle order, CacheLearned whether the site learned it.
	BigCache        string           `json:"bigcache,omitempty"`
	CacheStrategies []policyStrategy `json:"bigcache_strategies,omitempty"`
	CacheLearned    bool             `json:"bigcache_learned,omitempty"`
	// Signature is the size histogram learned on, for the shift rule:
	// sampled requests by size bucket (the class index, or numClasses for
	// requests above maxSmall), empty buckets left out.
	Signature map[int]uint64 `json:"signature,omitempty"`
}

// policyStrategy is one strategy's record.
type policyStrategy struct {
	Threshold uint64  `json:"threshold"`        // bytes, one of the candidates (0 for a cache policy)
	Policy    string  `json:"policy,omitempty"` // the cache policy's name (cache arms only)
	Rating    float64 `json:"rating"`
	Wins      uint64  `json:"wins"`
	Losses    uint64  `json:"losses"`
	Draws     uint64  `json:"draws"`
	Samples   uint64  `json:"samples"`
}

// SavePolicy writes what the learners learned, as versioned JSON: every
// site that has learned something, and the per-class per-P cache caps
// above the generated ones (those recorded while learning is off too).
func SavePolicy(w io.Writer) error {
	ensureInit()
	f := policyFile{Format: policyFormat, Version: policyVersion, SizeBuckets: numSizeBuckets}
	for _, c := range learn.Thresholds {
		f.Candidates = append(f.Candidates, uint64(c))
	}
	for c, v := range capSaved(cfg().pcacheScale) {
		if v != 0 {
			f.Caps = append(f.Caps, policyCap{Size: int64(classes[c].size), Cap: int64(v)})
		}
	}
	f.Sites = []policySite{}
	for i := range learner.sites {
		sl := learner.sites[i].Load()
		if sl == nil {
			continue
		}
		sl.mu.Lock()
		ps := policySite{Name: sl.site.Name(), State: sl.State.String()}
		run, crun := sl.Best, sl.CBest // in LEARN, the incumbent: what every challenger must beat
		ps.Threshold = uint64(learn.Thresholds[run])
		ps.BigCache, ps.CacheLearned = cacheStyleNames[crun], sl.CacheLearned
		rec := func(s *learn.Strategy) policyStrategy {
			return policyStrategy{Threshold: uint64(s.Threshold), Rating: s.Rating,
				Wins: s.Wins, Losses: s.Losses, Draws: s.Draws, Samples: s.Samples}
		}
		for i := range sl.Strats {
			ps.Strategies = append(ps.Strategies, rec(&sl.Strats[i]))
		}
		for i := range sl.CArms {
			r := rec(&sl.CArms[i])
			r.Policy = cacheStyleNames[i]
			ps.CacheStrategies = append(ps.CacheStrategies, r)
		}
		sig := sl.Signature
		if sl.State == learn.StateLearn {
			sig = sl.EpisodeHist
		}
		for i, n := range sig {
			if n != 0 {
				if ps.Signature == nil {
					ps.Signature = map[int]uint64{}
				}
				ps.Signature[i] = n
			}
		}
		sl.mu.Unlock()
		f.Sites = append(f.Sites, ps)
	}
	sort.Slice(f.Sites, func(a, b int) bool { return f.Sites[a].Name < f.Sites[b].Name })
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(&f)
}

// LoadPolicy reads a file written by SavePolicy and starts every site it
// names FROZEN on its saved strategy, creating the sites that do not exist
// yet (NewSite). A file with per-class caps sets every class's per-P cap
// (the listed ones to their cap, the others to the generated one), as the
// capacity learner publishes its decisions: each P applies them on its
// next slow path; a file without caps leaves the caps as they are. On any
// error nothing changes. With learning off the states and caps are loaded
// but the sites keep the default threshold and the classes their
// generated caps until a mode with learning (frozen or live) is set.
//
// Caps are checked against this run's generated caps (pcache_scale
// applied) and the learner's ceiling, not against its budget: frozen mode
// keeps them whatever the budget, and live mode halves them at its first
// window if they exceed it.
func LoadPolicy(r io.Reader) error {
	var f policyFile
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("hakmem: LoadPolicy: not a policy file: %w", err)
	}
	if dec.More() {
		return errors.New("hakmem: LoadPolicy: not a policy file: data after the JSON document")
	}
	ensureInit()
	scale := cfg().pcacheScale
	if err := f.validate(); err != nil {
		return fmt.Errorf("hakmem: LoadPolicy: %w", err)
	}
	caps, err := f.classCaps(scale)
	if err != nil {
		return fmt.Errorf("hakmem: LoadPolicy: %w", err)
	}
	st := learner.st.Load()
	env := learner.env.Load()
	t := env.clock()
	type loaded struct {
		s  *Site
		sl *siteLearn
	}
	var all []loaded
	for _, ps := range f.Sites {
		s := NewSite(ps.Name)
		if s.id >= maxSites {
			continue // shares the default site's threshold: nothing of its own to set
		}
		sl := newSiteLearn(s, s.id, t, st)
		for i, p := range ps.Strategies {
			sl.Strats[i] = learn.Strategy{Threshold: uintptr(p.Threshold), Rating: p.Rating,
				Wins: p.Wins, Losses: p.Losses, Draws: p.Draws, Samples: p.Samples}
		}
		for i, p := range ps.CacheStrategies {
			sl.CArms[i] = learn.Strategy{Rating: p.Rating, Wins: p.Wins, Losses: p.Losses, Draws: p.Draws, Samples: p.Samples}
		}
		for i, n := range ps.Signature {
			sl.EpisodeHist[i] = n
		}
		sl.CacheLearned = ps.CacheLearned
		sl.Freeze(learn.StrategyIndex(uintptr(ps.Threshold)), cacheStyleIndex(ps.BigCache), st)
		all = append(all, loaded{s, sl})
	}
	if f.Caps != nil {
		capLoad(caps, scale) // takes capLearn.mu alone, before the learner's locks
	}
	learner.stepMu.Lock() // no window closes on a replaced state meanwhile
	defer learner.stepMu.Unlock()
	learner.mu.Lock()
	for _, l := range all {
		learner.sites[l.s.id].Store(l.sl)
		l.sl.mu.Lock()
		l.sl.publish(st.Mode)
		l.sl.mu.Unlock()
	}
	learner.mu.Unlock()
	return nil
}

// cacheStyleIndex is the cacheStyle named name ("" is the default), or
// -1.
func cacheStyleIndex(name string) int {
	if name == "" {
		return int(cacheDefault)
	}
	for i, n := range cacheStyleNames {
		if n == name {
			return i
		}
	}
	return -1
}

// validate checks everything LoadPolicy relies on.
func (f *policyFile) validate() error {
	if f.Format != policyFormat {
		return fmt.Errorf("format is %q, want %q", f.Format, policyFormat)
	}
	if f.Version != policyVersion && f.Version != 1 {
		return fmt.Errorf("version %d is not supported (this build reads versions 1 and %d)", f.Version, policyVersion)
	}
	if len(f.Candidates) != learn.NumStrategies {
		return fmt.Errorf("the file has %d candidate thresholds, this build %d: learned with another build", len(f.Candidates), learn.NumStrategies)
	}
	for i, c := range f.Candidates {
		if c != uint64(learn.Thresholds[i]) {
			return fmt.Errorf("candidate %d is %d bytes, this build's is %d: learned with another build", i, c, learn.Thresholds[i])
		}
	}
	if f.SizeBuckets != numSizeBuckets {
		return fmt.Errorf("the file has %d size buckets, this build %d: learned with other size classes", f.SizeBuckets, numSizeBuckets)
	}
	if f.Version == 1 && f.Caps != nil {
		return errors.New("per-class caps in a version 1 file")
	}
	seen := map[string]bool{}
	for _, ps := range f.Sites {
		if ps.Name == "" {
			return errors.New("a site has no name")
		}
		if seen[ps.Name] {
			return fmt.Errorf("site %q appears twice", ps.Name)
		}
		seen[ps.Name] = true
		if learn.StrategyIndex(uintptr(ps.Threshold)) < 0 {
			return fmt.Errorf("site %q: threshold %d is not a candidate", ps.Name, ps.Threshold)
		}
		for i := range ps.Signature {
			if i < 0 || i >= numSizeBuckets {
				return fmt.Errorf("site %q: signature bucket %d is not a size bucket", ps.Name, i)
			}
		}
		if len(ps.Strategies) != learn.NumStrategies {
			return fmt.Errorf("site %q: %d strategies, want %d", ps.Name, len(ps.Strategies), learn.NumStrategies)
		}
		for i, p := range ps.Strategies {
			if p.Threshold != uint64(learn.Thresholds[i]) || p.Policy != "" {
				return fmt.Errorf("site %q: strategy %d has threshold %d (policy %q), want %d", ps.Name, i, p.Threshold, p.Policy, learn.Thresholds[i])
			}
			if math.IsNaN(p.Rating) || math.IsInf(p.Rating, 0) || p.Rating < 0 || p.Rating > 10000 {
				return fmt.Errorf("site %q: strategy %d has rating %v, outside [0, 10000]", ps.Name, i, p.Rating)
			}
		}
		if f.Version == 1 && (ps.BigCache != "" || ps.CacheStrategies != nil || ps.CacheLearned) {
			return fmt.Errorf("site %q: BigCache policy fields in a version 1 file", ps.Name)
		}
		if ps.BigCache != "" && cacheStyleIndex(ps.BigCache) < 0 {
			return fmt.Errorf("site %q: bigcache policy %q is not one of %v", ps.Name, ps.BigCache, cacheStyleNames)
		}
		if ps.CacheStrategies != nil && len(ps.CacheStrategies) != int(numCacheStyles) {
			return fmt.Errorf("site %q: %d bigcache strategies, want %d", ps.Name, len(ps.CacheStrategies), numCacheStyles)
		}
		for i, p := range ps.CacheStrategies {
			if p.Policy != cacheStyleNames[i] || p.Threshold != 0 {
				return fmt.Errorf("site %q: bigcache strategy %d is %q (threshold %d), want %q", ps.Name, i, p.Policy, p.Threshold, cacheStyleNames[i])
			}
			if math.IsNaN(p.Rating) || math.IsInf(p.Rating, 0) || p.Rating < 0 || p.Rating > 10000 {
				return fmt.Errorf("site %q: bigcache strategy %d has rating %v, outside [0, 10000]", ps.Name, i, p.Rating)
			}
		}
	}
	return nil
}

// classCaps checks the file's caps against this build's classes and the
// capacity learner's rules at pcache_scale scale (every cap from the
// generated cap to capCeiling, as the learner decides them; each class
// once) and returns them by class, 0 for a class not listed.
func (f *policyFile) classCaps(scale int) (*[numClasses]uint32, error) {
	var caps [numClasses]uint32
	var seen [numClasses]bool
	for _, pc := range f.Caps {
		c := classOfSize(pc.Size)
		if c < 0 {
			return nil, fmt.Errorf("cap for %d-byte blocks: not a size class of this build: learned with other size classes", pc.Size)
		}
		if seen[c] {
			return nil, fmt.Errorf("the cap of the %d-byte class appears twice", pc.Size)
		}
		seen[c] = true
		if pc.Cap < 0 {
			return nil, fmt.Errorf("the %d-byte class has a negative cap, %d", pc.Size, pc.Cap)
		}
		def := defaultCap(c, scale)
		if ceil := capCeiling(c, def); pc.Cap < int64(def) || pc.Cap > int64(ceil) {
			return nil, fmt.Errorf("the %d-byte class has cap %d, outside %d .. %d blocks (its generated cap .. the learner's ceiling)", pc.Size, pc.Cap, def, ceil)
		}
		caps[c] = uint32(pc.Cap)
	}
	return &caps, nil
}

// classOfSize is the size class whose blocks are exactly size bytes, or
// -1.
func classOfSize(size int64) int {
	for c := range classes {
		if int64(classes[c].size) == size {
			return c
		}
	}
	return -1
}
