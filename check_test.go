package hakmem

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// Checked mode's own tests. Checked mode is fixed at first use, so each
// runs in a child process started with HAKMEM_CHECK=1 (checkedChild).

// checkedChild runs the calling test in a child process in checked mode
// with the extra settings env ("NAME=value"), and reports whether this is
// the child.
func checkedChild(t *testing.T, env ...string) bool {
	t.Helper()
	t.Setenv("HAKMEM_CHECK", "1")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	if os.Getenv(checkChildEnv) != t.Name() {
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), checkChildEnv+"="+t.Name())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s failed in its child process (%v):\n%s", t.Name(), err, out)
		}
		return false
	}
	if !checkOn() {
		t.Fatal("checked mode is off in the child")
	}
	return true
}

const checkChildEnv = "HAKMEM_CHECK_TEST_CHILD"

// framePCsBoth walks its frames both ways; each list starts with the
// return address into framePCsBoth itself.
//
//go:noinline
func framePCsBoth(pcs, want *[maxCallerWalk]uintptr) (int, int) {
	return framePCs(pcs[:]), runtime.Callers(1, want[:])
}

// TestCallerPCsMatchRuntime: the frame-pointer walk (amd64) finds the same
// return addresses as runtime.Callers, frame for frame.
func TestCallerPCsMatchRuntime(t *testing.T) {
	var pcs [maxCallerWalk]uintptr
	var want [maxCallerWalk]uintptr
	n, m := framePCsBoth(&pcs, &want)
	if n < 3 || m < 3 {
		t.Fatalf("walked %d frames, runtime.Callers %d", n, m)
	}
	for i := range 3 { // beyond, the walk also sees wrappers runtime.Callers elides (T.Run.gowrap1)
		fn, fm := runtime.FuncForPC(pcs[i]-1), runtime.FuncForPC(want[i]-1)
		if fn.Name() != fm.Name() {
			t.Errorf("frame %d: walk %s, runtime.Callers %s", i, fn.Name(), fm.Name())
		}
	}
}

// TestCallerPCCached: callerPC names this function on its first call
// (classifying the frames) and on later ones, and on amd64 the later
// walks find it through the cache alone.
func TestCallerPCCached(t *testing.T) {
	for i := range 3 {
		if f := runtime.FuncForPC(callerPC() - 1); f == nil || !strings.HasSuffix(f.Name(), ".TestCallerPCCached") {
			t.Fatalf("call %d: callerPC names %v", i, f)
		}
	}
	var pc uintptr
	var found bool
	for range 2 { // one call site: the first walk may meet this frame uncached
		if pc, found = callerPCCached(); !found && pc != 0 {
			pcInternal(pc)
		}
	}
	if runtime.GOARCH != "amd64" {
		if found || pc != 0 {
			t.Errorf("no fast path here, yet callerPCCached returned %#x, %v", pc, found)
		}
		return
	}
	if f := runtime.FuncForPC(pc - 1); !found || f == nil || !strings.HasSuffix(f.Name(), ".TestCallerPCCached") {
		t.Errorf("callerPCCached: %#x (%v), found %v", pc, f, found)
	}
}

//go:noinline
func allocForCallerTest() []byte { return Alloc(40) }

// TestCheckedCallers: a report names the program's functions that
// allocated and freed the block, through every entry point.
func TestCheckedCallers(t *testing.T) {
	if !checkedChild(t) {
		return
	}
	var got []CheckReport
	OnCheckFailure(func(r CheckReport) { got = append(got, r) })
	defer OnCheckFailure(nil)
	before := ReadStats().CheckFailures
	b := allocForCallerTest()
	Free(b)
	if err := TryFree(b); !errors.Is(err, ErrDoubleFree) {
		t.Fatalf("second free: %v", err)
	}
	if len(got) != 1 || !got[0].Returned {
		t.Fatalf("reports %+v", got)
	}
	r := got[0]
	if !strings.Contains(funcAt(r.AllocPC), "allocForCallerTest") || !strings.Contains(funcAt(r.FreePC), "TestCheckedCallers") ||
		!strings.Contains(funcAt(r.SecondFreePC), "TestCheckedCallers") {
		t.Errorf("callers: alloc %s, free %s, second free %s", funcAt(r.AllocPC), funcAt(r.FreePC), funcAt(r.SecondFreePC))
	}
	if r.Block != addrOf(b) || r.Size != 40 || r.Class != int(sizeClass(40+checkTail)) || r.State != recStateName[recQuarantined] {
		t.Errorf("report %+v", r)
	}
	if d := ReadStats().CheckFailures - before; d != 1 {
		t.Errorf("Stats.CheckFailures grew by %d, want 1", d)
	}
	// Typed helpers and Realloc go through the same paths.
	p := New[[4]uint64]()
	Delete(p)
	v := MakeSlice[uint32](10)
	v2 := Realloc(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 40), 400)
	if err := TryFree(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 40)); !errors.Is(err, ErrDoubleFree) {
		t.Errorf("the block Realloc moved from: %v", err)
	}
	Free(v2)
}

// TestCheckedStacksAndDescribe: with every block sampled, reports and
// Describe carry full stacks; Describe says what an address is.
func TestCheckedStacksAndDescribe(t *testing.T) {
	if !checkedChild(t, "HAKMEM_CHECK_STACKS=1") {
		return
	}
	b := allocForCallerTest()
	p := addrOf(b)
	d := Describe(p + 5)
	for _, want := range []string{"5 bytes into the block", "len 40: live", "allocated by", "allocForCallerTest", "allocation stack:", "TestCheckedStacksAndDescribe"} {
		if !strings.Contains(d, want) {
			t.Errorf("Describe of a live block lacks %q:\n%s", want, d)
		}
	}
	if d := Describe(p + 44); !strings.Contains(d, "4 bytes past len") {
		t.Errorf("Describe past len:\n%s", d)
	}
	Free(b)
	d = Describe(p)
	for _, want := range []string{"freed (in the quarantine)", "freed by", "free stack:"} {
		if !strings.Contains(d, want) {
			t.Errorf("Describe of a freed block lacks %q:\n%s", want, d)
		}
	}
	var x int
	if d := Describe(uintptr(unsafe.Pointer(&x))); !strings.Contains(d, "not hakmem memory") {
		t.Errorf("Describe of a Go variable: %s", d)
	}
	if d := Describe(0); !strings.Contains(d, "not hakmem memory") {
		t.Errorf("Describe(0): %s", d)
	}
	var reps []CheckReport
	OnCheckFailure(func(r CheckReport) { reps = append(reps, r) })
	defer OnCheckFailure(nil)
	b[7] = 1 // a write after free
	if n := CheckQuarantine(); n != 1 || len(reps) != 1 {
		t.Fatalf("CheckQuarantine found %d, handler got %d", n, len(reps))
	}
	if s := reps[0].String(); !strings.Contains(s, "allocation stack:") || !strings.Contains(s, "free stack:") || reps[0].Offset != 7 {
		t.Errorf("report:\n%s", s)
	}
}

// TestCheckedQuarantineBound: the quarantine holds at most its bound, a
// block is not reused while in it, and verified blocks are reused.
//
// One P (GOMAXPROCS=1): with two, the goroutine may leave the P whose
// shard holds the first block; the shard, idle, is emptied at once
// (chkEvictIdle), its blocks pushed under the ones the goroutine frees,
// so the first block may go back to the central list instead
// (TestCheckedIdleShardEvicted).
func TestCheckedQuarantineBound(t *testing.T) {
	if !checkedChild(t, "HAKMEM_CHECK_QUARANTINE_MB=1", "GOMAXPROCS=1") {
		return
	}
	first := Alloc(1000)
	fp := addrOf(first)
	Free(first)
	seen := false
	for i := range 4000 {
		b := Alloc(1000)
		if addrOf(b) == fp {
			seen = true
			// The bound is split between the shards the Ps use; the
			// goroutine may move between Ps, so only its shard's share is sure.
			if share := int(cfg().checkQuarantine/chkShardsUsed()) / 1024; i < share-1 {
				t.Fatalf("the block was reused after %d frees of 1 KiB, inside a quarantine share of %d KiB", i, share)
			}
		}
		Free(b)
		var q uint64
		for i := range chk.shards {
			sh := &chk.shards[i]
			sh.mu.Lock()
			q += sh.qbytes
			sh.mu.Unlock()
		}
		if q > 1<<20 {
			t.Fatalf("quarantine holds %d bytes, over its 1 MiB bound", q)
		}
	}
	if !seen {
		t.Error("the first block was never reused (verified blocks must be)")
	}
	for _, pc := range *caches.Load() {
		for c := range pc.chkFree {
			if n := pc.chkFree[c].n; n > 2*uint32(classes[c].batch) {
				t.Errorf("P %d class %d: free stack holds %d", pc.id, c, n)
			}
		}
	}
	for _, pc := range *caches.Load() {
		for c := range pc.lists {
			if pc.lists[c].cap != 0 || pc.lists[c].n != 0 {
				t.Fatalf("P %d class %d: cap %d, %d cached: checked mode has no per-P caching", pc.id, c, pc.lists[c].cap, pc.lists[c].n)
			}
		}
	}
}

// TestCheckedRealloc: Realloc keeps the contents and the new block's
// length is checked.
func TestCheckedRealloc(t *testing.T) {
	if !checkedChild(t) {
		return
	}
	b := Alloc(10)
	copy(b, "0123456789")
	b = Realloc(b, 20)
	if string(b[:10]) != "0123456789" || len(b) != 20 {
		t.Fatalf("Realloc: %q", b)
	}
	if cap(b) != 20 || UsableSize(b) != 20 {
		t.Fatalf("checked block: cap %d, UsableSize %d, want both 20 (the length)", cap(b), UsableSize(b))
	}
	*(*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), 20)) = 1
	defer func() {
		err, _ := recover().(error)
		if !errors.Is(err, ErrOverflow) {
			t.Fatalf("overflow past the new len: recovered %v", err)
		}
	}()
	Free(b)
}

// TestCheckedGuard: with every allocation guarded, the block ends 16-byte
// aligned just before an inaccessible page, its API works as any block's,
// a freed one faults when touched, and at most guardHeld are held.
func TestCheckedGuard(t *testing.T) {
	if !checkedChild(t, "HAKMEM_CHECK_GUARD=1") {
		return
	}
	if !osProtectSupported {
		t.Skip("no page protection in this OS layer")
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	faults := func(p uintptr) (addr uintptr) {
		defer func() {
			if f, ok := recover().(interface{ Addr() uintptr }); ok {
				addr = f.Addr()
			}
		}()
		_ = *(*byte)(ptr(p))
		return 0
	}
	st0 := ReadStats()
	b := Alloc(100)
	p := addrOf(b)
	if cap(b) != 100 || UsableSize(b) != 100 || (p+112)%osPageSize != 0 {
		t.Fatalf("guarded block %#x: cap %d, usable %d; want 100, the block ending at a page 12 bytes later", p, cap(b), UsableSize(b))
	}
	if a := faults(p + 112); a != p+112 {
		t.Errorf("the page after the block: fault at %#x, want %#x", a, p+112)
	}
	if d := Describe(p + 112); !strings.Contains(d, "a guarded block") || !strings.Contains(d, "12 bytes past len") {
		t.Errorf("Describe of the guard page: %s", d)
	}
	copy(b, "guarded")
	b2 := Realloc(b, 300)
	if string(b2[:7]) != "guarded" {
		t.Fatalf("Realloc lost the contents: %q", b2[:7])
	}
	if a := faults(p); a != p {
		t.Errorf("the freed block: fault at %#x, want %#x", a, p)
	}
	if err := TryFree(b); !errors.Is(err, ErrDoubleFree) {
		t.Errorf("free of a freed guarded block: %v", err)
	}
	if err := TryFree(b2[8:]); !errors.Is(err, ErrInvalidPointer) {
		t.Errorf("interior free of a guarded block: %v", err)
	}
	Free(b2)
	for range 3 * guardHeld {
		Free(Alloc(64))
	}
	if d := ReadStats().LargeBlocks - st0.LargeBlocks; d != guardHeld {
		t.Errorf("%d guarded mappings held after the frees, want %d", d, guardHeld)
	}
}

// TestDescribeDefault: without checked mode Describe still names the
// block and says whether it is allocated.
func TestDescribeDefault(t *testing.T) {
	if checkOn() {
		t.Skip("checked mode: TestCheckedStacksAndDescribe")
	}
	b := Alloc(100)
	p := addrOf(b)
	if d := Describe(p + 5); !strings.Contains(d, "5 bytes into the block") || !strings.Contains(d, ": allocated") || !strings.Contains(d, "HAKMEM_CHECK=1") {
		t.Errorf("live small block: %s", d)
	}
	Free(b)
	if d := Describe(p); !strings.Contains(d, ": free") {
		t.Errorf("freed small block: %s", d)
	}
	l := Alloc(3 << 20)
	lp := addrOf(l)
	if d := Describe(lp + 1<<20); !strings.Contains(d, "a large block") || !strings.Contains(d, ": allocated") {
		t.Errorf("live large block: %s", d)
	}
	Free(l)
	if d := Describe(lp); !strings.Contains(d, ": free") && !strings.Contains(d, "returned to the OS") {
		t.Errorf("freed large block: %s", d)
	}
}

// TestReadmeFindingBugsDefaults: the defaults the README's "Finding bugs"
// quotes are the option table's.
func TestReadmeFindingBugsDefaults(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	found := regexp.MustCompile("`(HAKMEM_[A-Z_]+)`\\s+\\(default (\\d+)\\)").FindAllStringSubmatch(string(raw), -1)
	if len(found) < 4 {
		t.Fatalf("README quotes %d defaults, want the checked mode's and the profile's", len(found))
	}
	for _, m := range found {
		i := optionIndex(m[1])
		if i < 0 {
			t.Errorf("README quotes the default of %s, which is no option", m[1])
			continue
		}
		if want := strconv.Itoa(options[i].def); m[2] != want && !(m[1] == "HAKMEM_CHECK" && checkDefault == 1) {
			t.Errorf("README: %s (default %s), the option table says %s", m[1], m[2], want)
		}
	}
}

// TestCheckedRelease: Release verifies the quarantine and hands every block
// checked mode holds back to the engine.
func TestCheckedRelease(t *testing.T) {
	if !checkedChild(t) {
		return
	}
	var reps []CheckReport
	OnCheckFailure(func(r CheckReport) { reps = append(reps, r) })
	defer OnCheckFailure(nil)
	var held [][]byte
	for range 1000 {
		held = append(held, Alloc(200))
	}
	for _, b := range held {
		Free(b)
	}
	held[500][7] = 1 // a write after free
	Release()
	if len(reps) != 1 || reps[0].Op != "Release" || reps[0].Offset != 7 {
		t.Fatalf("Release reported %+v", reps)
	}
	for i := range chk.shards {
		sh := &chk.shards[i]
		if sh.qhead != 0 || sh.qbytes != 0 {
			t.Errorf("shard %d: quarantine holds %d bytes after Release", i, sh.qbytes)
		}
	}
	for _, pc := range *caches.Load() {
		for c := range pc.chkFree {
			if pc.chkFree[c].n != 0 {
				t.Errorf("P %d: class %d free stack holds %d after Release", pc.id, c, pc.chkFree[c].n)
			}
		}
	}
	if st := ReadStats(); st.InUseBytes != 0 || st.LiveBlocks != 0 {
		t.Errorf("after Release: InUseBytes %d, LiveBlocks %d", st.InUseBytes, st.LiveBlocks)
	}
}

// inShard reports whether block p is in shard i's quarantine.
func inShard(i int, p uintptr) bool {
	sh := &chk.shards[i]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for q := sh.qhead; q != 0; q = recFor(q).next {
		if q == p {
			return true
		}
	}
	return false
}

// TestCheckedIdleShardEvicted: a block quarantined in the shard of a P
// that frees nothing more leaves the quarantine, verified, once more than
// the bound has been freed on other Ps, as it would from one FIFO: a
// write after its free is reported then, on the freeing goroutine.
func TestCheckedIdleShardEvicted(t *testing.T) {
	if pinVariant != "procpin" {
		t.Skip("the mutex pin's caches are slots any goroutine takes, not Ps")
	}
	if !checkedChild(t, "HAKMEM_CHECK_QUARANTINE_MB=1", "HAKMEM_CHECK_SWEEP_MS=0", "GOMAXPROCS=2") {
		return
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	var reps []CheckReport
	OnCheckFailure(func(r CheckReport) { reps = append(reps, r) })
	defer OnCheckFailure(nil)
	var b []byte
	for try := 0; b == nil; try++ { // a block quarantined in P 1's shard
		if try == 1000 {
			t.Skip("no goroutine ran on P 1")
		}
		ch := make(chan []byte)
		go func() {
			x := Alloc(200)
			Free(x)
			if !inShard(1, addrOf(x)) {
				x = nil
			}
			ch <- x
		}()
		b = <-ch
	}
	b[100] = 1            // a write after free
	runtime.GOMAXPROCS(1) // P 1 frees nothing more: its shard is idle
	for range 3 << 20 / 4096 {
		Free(Alloc(4000))
	}
	if inShard(1, addrOf(b)) {
		t.Fatal("the block is still in the idle shard after 3 MiB of frees")
	}
	if len(reps) != 1 || reps[0].Err != ErrUseAfterFree || reps[0].Block != addrOf(b) || reps[0].Offset != 100 || reps[0].Background {
		t.Fatalf("reports %+v", reps)
	}
}

// chkStacked returns how many blocks P k's checked free stacks hold.
func chkStacked(k int) (n uint32) {
	if cs := *caches.Load(); k < len(cs) {
		for c := range cs[k].chkFree {
			n += cs[k].chkFree[c].n
		}
	}
	return n
}

// TestCheckedFreeStacksRetiredP: the per-P free stacks (used pinned) of a
// P that GOMAXPROCS retired keep their verified blocks, counted in use,
// and Release takes them back through its thief (stealRetired), as it
// does the engine's per-P caches; the live counts stay exact throughout.
func TestCheckedFreeStacksRetiredP(t *testing.T) {
	if pinVariant != "procpin" {
		t.Skip("the mutex pin's caches are slots any goroutine takes, not Ps (its Release drains every slot: TestCheckedRelease)")
	}
	if !checkedChild(t, "HAKMEM_CHECK_QUARANTINE_MB=0", "GOMAXPROCS=2") {
		return
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	Release()
	// Free blocks on P 1 (quarantine 0: each free's block goes straight
	// to the stack of the P it runs on); a goroutine may start on either P.
	for try := 0; chkStacked(1) == 0; try++ {
		if try == 1000 {
			t.Skip("no goroutine ran on P 1")
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			bs := make([][]byte, 0, 8)
			for range 8 {
				bs = append(bs, Alloc(100))
			}
			for _, b := range bs {
				Free(b)
			}
		}()
		<-done
	}
	held := chkStacked(1)
	if st := ReadStats(); st.LiveBlocks != 0 || st.InUseBytes == 0 {
		t.Fatalf("with %d blocks on P 1's stacks: LiveBlocks %d, InUseBytes %d", held, st.LiveBlocks, st.InUseBytes)
	}
	runtime.GOMAXPROCS(1) // P 1 retires with its stacks
	b := Alloc(100)       // on P 0: its own stack, or the central list
	if st := ReadStats(); st.LiveBlocks != 1 {
		t.Errorf("one block live: LiveBlocks %d", st.LiveBlocks)
	}
	Free(b)
	if n := chkStacked(1); n != held {
		t.Errorf("P 1's stacks hold %d blocks after it retired, %d before", n, held)
	}
	Release()
	for k := range *caches.Load() {
		if n := chkStacked(k); n != 0 {
			t.Errorf("P %d's stacks hold %d blocks after Release", k, n)
		}
	}
	if st := ReadStats(); st.InUseBytes != 0 || st.LiveBlocks != 0 {
		t.Errorf("after Release: InUseBytes %d, LiveBlocks %d", st.InUseBytes, st.LiveBlocks)
	}
}

//go:noinline
func leakSomeBlocks(held *[][]byte) (bytes int64) {
	for i := range 1000 {
		n := 1 + i*37%3000
		*held = append(*held, Alloc(n))
		bytes += int64(n)
	}
	*held = append(*held, Alloc(3<<20)) // and one large block
	return bytes + 3<<20
}

// TestCheckedLeaks: in checked mode Leaks counts every live block, exactly,
// under its allocating call, and WriteLeaks names it.
func TestCheckedLeaks(t *testing.T) {
	if !checkedChild(t, "HAKMEM_CHECK_STACKS=0", "HAKMEM_CHECK_GUARD=0") {
		return
	}
	var held [][]byte
	bytes := leakSomeBlocks(&held)
	var got Leak // the two calls of leakSomeBlocks (two groups: one per call)
	groups := 0
	for _, l := range Leaks() {
		if len(l.Stack) == 1 && strings.Contains(funcAt(l.Stack[0]), "leakSomeBlocks") && l.Exact {
			got.Blocks += l.Blocks
			got.Bytes += l.Bytes
			groups++
		}
	}
	if groups != 2 || got.Blocks != 1001 || got.Bytes != bytes {
		t.Fatalf("Leaks: %d groups, %d blocks, %d bytes; want 2, 1001, %d", groups, got.Blocks, got.Bytes, bytes)
	}
	var b strings.Builder
	if err := WriteLeaks(&b); err != nil || !strings.Contains(b.String(), "leakSomeBlocks") {
		t.Errorf("WriteLeaks (%v):\n%s", err, b.String())
	}
	for _, x := range held {
		Free(x)
	}
	for _, l := range Leaks() {
		if len(l.Stack) == 1 && strings.Contains(funcAt(l.Stack[0]), "leakSomeBlocks") {
			t.Errorf("after the frees: %+v", l)
		}
	}
}

// TestCheckedRecordLinks: the quarantine's and the free stacks' links
// carry each next block's record (checkRec.link), which must be the one
// recFor finds; recForSlab agrees with recFor on every block.
func TestCheckedRecordLinks(t *testing.T) {
	if !checkedChild(t, "HAKMEM_CHECK_QUARANTINE_MB=1", "HAKMEM_CHECK_GUARD=0") {
		return
	}
	var held [][]byte
	for i := range 20000 {
		b := Alloc(16 + i%700)
		p := addrOf(b)
		seg := regLookup(p)
		s := seg.slabAt(p)
		if got, want := recForSlab(p, s), recFor(p); got != want {
			t.Fatalf("block %#x: recForSlab %p, recFor %p", p, got, want)
		}
		if i%3 == 0 {
			held = append(held, b)
		} else {
			Free(b)
		}
	}
	for _, b := range held {
		Free(b)
	}
	walk := func(where string, p uintptr, r *checkRec) int {
		n := 0
		for p != 0 {
			if want := recFor(p); r != want {
				t.Fatalf("%s: block %#x linked with record %p, recFor says %p", where, p, r, want)
			}
			p, r = r.next, r.nextRec()
			n++
		}
		if r != nil {
			t.Fatalf("%s: the last link carries a record %p", where, r)
		}
		return n
	}
	quarantined := 0
	for i := range chk.shards {
		sh := &chk.shards[i]
		sh.mu.Lock()
		n := walk("quarantine", sh.qhead, sh.qheadRec)
		if n != sh.qblocks {
			t.Errorf("shard %d: %d blocks linked, %d counted", i, n, sh.qblocks)
		}
		if n > 0 && (sh.qtailRec != recFor(sh.qtail) || sh.qtailRec.next != 0) {
			t.Errorf("shard %d: tail %#x, record %p", i, sh.qtail, sh.qtailRec)
		}
		quarantined += n
		sh.mu.Unlock()
	}
	stacked := 0 // the other Ps are idle: this goroutine alone made these stacks
	for _, pc := range *caches.Load() {
		for c := range pc.chkFree {
			fs := &pc.chkFree[c]
			if n := walk("free stack", fs.head, (*checkRec)(ptr(fs.rec))); n != int(fs.n) {
				t.Errorf("P %d class %d: %d blocks linked, %d counted", pc.id, c, n, fs.n)
			}
			stacked += int(fs.n)
		}
	}
	if quarantined == 0 || stacked == 0 {
		t.Errorf("%d blocks quarantined, %d on the free stacks: the test checked too little", quarantined, stacked)
	}
}
