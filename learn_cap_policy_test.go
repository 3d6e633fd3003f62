package hakmem

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hakmem-go/hakmem/internal/learn"
)

// capSetCaps sets the decided caps of the classes in caps (blocks) and
// publishes them, as a window's decision would.
func capSetCaps(scale int, caps map[int]uint32) {
	capLearn.mu.Lock()
	defer capLearn.mu.Unlock()
	s := &capLearn.st
	s.setup(scale)
	for c, v := range caps {
		s.Caps[c] = v
	}
	s.publish(scale)
}

// capSnapshot is the capacity learner's published and decided caps.
type capSnapshot struct {
	targets, caps [numClasses]uint32
	gen           uint64
}

func capSnap() capSnapshot {
	capLearn.mu.Lock()
	defer capLearn.mu.Unlock()
	var x capSnapshot
	for c := range x.targets {
		x.targets[c] = capLearn.target[c].Load()
	}
	copy(x.caps[:], capLearn.st.Caps)
	x.gen = capLearn.gen.Load()
	return x
}

// savePolicy is SavePolicy's document.
func savePolicy(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := SavePolicy(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// parsePolicy decodes a policy document.
func parsePolicy(t *testing.T, doc string) policyFile {
	t.Helper()
	var f policyFile
	if err := json.Unmarshal([]byte(doc), &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// pinnedCaps is the caps of the current P's lists once it has applied
// the published targets.
func pinnedCaps() [numClasses]uint32 {
	var caps [numClasses]uint32
	pc := pinSlow()
	for pc.capGen != capLearn.gen.Load() {
		pc = syncCaps(pc)
	}
	for c := range pc.lists {
		caps[c] = pc.lists[c].cap
	}
	unpin(pc)
	return caps
}

// TestCapPolicyRoundTrip: the caps above the generated ones are saved by
// block size, in class order; loading them after a reset publishes them
// (a P applies them, the stats show them) and sets every class not in the
// file back to its generated cap; a second save is byte-identical; a file
// without caps leaves the caps as they are.
func TestCapPolicyRoundTrip(t *testing.T) {
	p := capTestEnv(t)
	var clk atomic.Int64
	fakeLearn(t, testSettings(), &clk) // no other test's sites in the file
	scale := p.pcacheScale
	c16, c256, c512 := int(sizeClass(16)), int(sizeClass(256)), int(sizeClass(512))
	want := map[int]uint32{
		c256: 4 * defaultCap(c256, scale),
		c16:  capCeiling(c16, defaultCap(c16, scale)),
	}
	if want[c256] == 0 || want[c16] <= defaultCap(c16, scale) {
		t.Skipf("pcache_scale %d leaves no room for learned caps", scale)
	}
	capSetCaps(scale, want)
	b1 := savePolicy(t)
	f := parsePolicy(t, b1)
	wantFile := []policyCap{{Size: 16, Cap: int64(want[c16])}, {Size: 256, Cap: int64(want[c256])}}
	if !slices.Equal(f.Caps, wantFile) {
		t.Fatalf("saved caps %+v, want %+v", f.Caps, wantFile)
	}

	// Reset, raise a class the file does not name, load: the file's caps
	// and the generated cap for every other class.
	capReset()
	capSetCaps(scale, map[int]uint32{c512: 2 * defaultCap(c512, scale)})
	if err := LoadPolicy(strings.NewReader(b1)); err != nil {
		t.Fatal(err)
	}
	got := capSnap()
	applied := pinnedCaps()
	st := ReadStats()
	for c := range numClasses {
		def := defaultCap(c, scale)
		w, target := def, uint32(0)
		if v, ok := want[c]; ok {
			w, target = v, v
		}
		if got.targets[c] != target || got.caps[c] != w || applied[c] != w || st.Classes[c].Cap != int(w) {
			t.Errorf("class %d B after load: target %d decided %d applied %d stats %d; want %d (generated %d)",
				classes[c].size, got.targets[c], got.caps[c], applied[c], st.Classes[c].Cap, w, def)
		}
	}
	if b2 := savePolicy(t); b2 != b1 {
		t.Errorf("second save differs:\n%s\n%s", b1, b2)
	}

	// A file without caps changes none.
	f.Caps = nil
	doc, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), `"caps"`) {
		t.Fatalf("a file without caps names them:\n%s", doc)
	}
	before := capSnap()
	if err := LoadPolicy(bytes.NewReader(doc)); err != nil {
		t.Fatal(err)
	}
	if after := capSnap(); after != before {
		t.Errorf("a file without caps changed them: %+v, was %+v", after, before)
	}

	// Nothing above the generated caps: nothing saved.
	capReset()
	if f := parsePolicy(t, savePolicy(t)); f.Caps != nil {
		t.Errorf("generated caps saved: %+v", f.Caps)
	}
}

// TestCapPolicyOff: loaded with learning off, the caps are recorded (and
// saved again) but every class keeps its generated cap until a mode with
// learning is set; off again forgets them, as it forgets learned ones.
func TestCapPolicyOff(t *testing.T) {
	p := capTestEnv(t)
	var clk atomic.Int64
	fakeLearn(t, testSettings(), &clk)
	scale := p.pcacheScale
	c := int(sizeClass(256))
	def := defaultCap(c, scale)
	if def == 0 {
		t.Skipf("pcache_scale %d", scale)
	}
	capSetCaps(scale, map[int]uint32{c: 4 * def})
	doc := savePolicy(t)
	capReset()

	p.learning = learn.Off
	if err := LoadPolicy(strings.NewReader(doc)); err != nil {
		t.Fatal(err)
	}
	if got := capSnap(); got.targets[c] != 0 || got.caps[c] != 4*def || pinnedCaps()[c] != def {
		t.Fatalf("off: target %d decided %d applied %d; want 0, %d, %d", got.targets[c], got.caps[c], pinnedCaps()[c], 4*def, def)
	}
	if again := savePolicy(t); again != doc {
		t.Errorf("off: the recorded caps are not saved:\n%s\nwant\n%s", again, doc)
	}

	q := *cfg()
	q.learning = learn.Frozen
	publish(&q) // as SetMode does
	if got := capLearn.target[c].Load(); got != 4*def || pinnedCaps()[c] != 4*def {
		t.Fatalf("frozen after off: target %d applied %d, want %d", got, pinnedCaps()[c], 4*def)
	}

	q2 := *cfg()
	q2.learning = learn.Off
	publish(&q2)
	if got := capSnap(); got.targets[c] != 0 || got.caps[c] != def || pinnedCaps()[c] != def {
		t.Fatalf("off again: target %d decided %d applied %d, want 0, %d, %d", got.targets[c], got.caps[c], pinnedCaps()[c], def, def)
	}
}

// TestCapPolicyCorrupt: a cap for a class this build lacks, out of the
// learner's range, negative, or twice, a cap in a version 1 file: each is
// refused with a clear error, and neither the caps nor the site in the
// file change. A version 1 file without caps loads and leaves the caps.
func TestCapPolicyCorrupt(t *testing.T) {
	p := capTestEnv(t)
	sl, _ := frozenSite(t, "cap-policy-corrupt", testSettings())
	scale := p.pcacheScale
	c := int(sizeClass(256))
	def := defaultCap(c, scale)
	ceil := capCeiling(c, def)
	if def == 0 {
		t.Skipf("pcache_scale %d", scale)
	}
	capSetCaps(scale, map[int]uint32{c: 4 * def})
	good := savePolicy(t)
	f := parsePolicy(t, good)
	if len(f.Caps) != 1 {
		t.Fatalf("saved caps %+v", f.Caps)
	}
	with := func(version int, caps ...policyCap) string {
		g := f
		g.Version, g.Caps = version, caps
		if version == 1 {
			g.Sites = []policySite{} // no BigCache fields to refuse first
		}
		b, err := json.MarshalIndent(&g, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ok := policyCap{Size: 256, Cap: int64(4 * def)}
	noCache := int64(classes[numClasses-1].size) // no per-P caching: generated cap 0
	cases := []struct{ name, doc, want string }{
		{"size", with(2, policyCap{Size: 257, Cap: int64(def)}), "not a size class of this build"},
		{"negative size", with(2, policyCap{Size: -256, Cap: int64(def)}), "not a size class of this build"},
		{"above ceiling", with(2, policyCap{Size: 256, Cap: int64(ceil) + 1}), fmt.Sprintf("outside %d .. %d blocks", def, ceil)},
		{"below generated", with(2, policyCap{Size: 256, Cap: int64(def) - 1}), fmt.Sprintf("outside %d .. %d blocks", def, ceil)},
		{"negative", with(2, policyCap{Size: 256, Cap: -1}), "negative cap"},
		{"uncached class", with(2, policyCap{Size: noCache, Cap: 1}), "outside 0 .. 0 blocks"},
		{"duplicate", with(2, ok, ok), "appears twice"},
		{"duplicate after others", with(2, policyCap{Size: 16, Cap: int64(defaultCap(0, scale))}, ok, policyCap{Size: 256, Cap: int64(def)}), "appears twice"},
		{"version 1", with(1, ok), "caps in a version 1 file"},
		{"unknown field", strings.Replace(good, `"size": 256,`, `"size": 256, "class": 15,`, 1), "unknown field"},
		{"cap type", strings.Replace(good, fmt.Sprintf(`"cap": %d`, 4*def), `"cap": "big"`, 1), "not a policy file"},
		{"cap overflow", strings.Replace(good, fmt.Sprintf(`"cap": %d`, 4*def), `"cap": 1e30`, 1), "not a policy file"},
	}
	// Make the caps and the site differ from the file's, so that a partial
	// load would show.
	capSetCaps(scale, map[int]uint32{c: 2 * def})
	sl.mu.Lock()
	sl.State, sl.Cur = learn.StateLearn, 0
	sl.mu.Unlock()
	sl.site.setThreshold(64 << 10)
	before := capSnap()
	for _, x := range cases {
		if x.doc == good {
			t.Fatalf("%s: the substitution did not apply", x.name)
		}
		err := LoadPolicy(strings.NewReader(x.doc))
		if err == nil || !strings.Contains(err.Error(), x.want) {
			t.Errorf("%s: error %v, want one containing %q", x.name, err, x.want)
		}
		if after := capSnap(); after != before {
			t.Errorf("%s: a refused file changed the caps", x.name)
		}
		if learner.sites[sl.sid].Load() != sl || sl.State != learn.StateLearn || sl.site.threshold.Load() != 64<<10 {
			t.Fatalf("%s: a refused file changed the site", x.name)
		}
	}
	// A version 1 file without caps loads and leaves them.
	if err := LoadPolicy(strings.NewReader(with(1))); err != nil {
		t.Fatalf("version 1 without caps: %v", err)
	}
	if after := capSnap(); after != before {
		t.Errorf("a version 1 file changed the caps")
	}
	// The good file does change them: the checks above could see a change.
	if err := LoadPolicy(strings.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	if got := capLearn.target[c].Load(); got != 4*def || sl.site.threshold.Load() == 64<<10 {
		t.Errorf("good file: target %d, want %d; threshold %d", got, 4*def, sl.site.threshold.Load())
	}
}
