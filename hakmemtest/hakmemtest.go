// Package hakmemtest checks that tests free the hakmem memory they
// allocate, in the spirit of go.uber.org/goleak:
//
//	func TestSomething(t *testing.T) {
//		hakmemtest.VerifyNoLeaks(t)
//		...
//	}
//
//	func TestMain(m *testing.M) { hakmemtest.VerifyTestMain(m) }
//
// It compares the exact count of live blocks and their bytes
// (hakmem.Stats.LiveBlocks, LiveBytes) before and after, and uses the
// allocating stacks only to name what leaked: every block's allocating
// caller in checked mode (HAKMEM_CHECK=1 or -tags hakmem_check), the heap
// profile's samples otherwise (a small leak may then be found but not
// named). In checked mode it also verifies the quarantine, so a write
// after free not yet found is reported. The counts are global: a test
// that checks for leaks must not run in parallel with others that
// allocate.
package hakmemtest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/hakmem-go/hakmem"
)

// snapshot is what is compared: live blocks and bytes, and the leak
// report to name the difference with.
type snapshot struct {
	blocks, bytes int64
	leaks         []hakmem.Leak
}

func take() snapshot {
	st := hakmem.ReadStats()
	return snapshot{blocks: st.LiveBlocks, bytes: st.LiveBytes, leaks: hakmem.Leaks()}
}

// VerifyNoLeaks records the live hakmem blocks now and, when the test
// ends (tb.Cleanup), fails it if more are live, naming the stacks that
// allocated them.
func VerifyNoLeaks(tb testing.TB) {
	tb.Helper()
	before := take()
	tb.Cleanup(func() {
		hakmem.CheckQuarantine()
		if msg := compare(before, take()); msg != "" {
			tb.Error(msg)
		}
	})
}

// VerifyTestMain runs the tests of m and then, if they passed, exits with
// status 1 when more hakmem blocks are live than before they ran, after
// printing the leaks to stderr. It does not return.
func VerifyTestMain(m *testing.M) {
	before := take()
	code := m.Run()
	if code == 0 {
		hakmem.CheckQuarantine()
		if msg := compare(before, take()); msg != "" {
			fmt.Fprintln(os.Stderr, msg)
			code = 1
		}
	}
	os.Exit(code)
}

// compare returns a report of what leaked between before and after, or
// "" if nothing did.
func compare(before, after snapshot) string {
	db, dn := after.blocks-before.blocks, after.bytes-before.bytes
	if db <= 0 && dn <= 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "hakmemtest: %d hakmem blocks (%d bytes) leaked", db, dn)
	prev := map[string]hakmem.Leak{}
	for _, l := range before.leaks {
		prev[key(l)] = l
	}
	var grew []hakmem.Leak
	for _, l := range after.leaks {
		p := prev[key(l)]
		if l.Blocks > p.Blocks {
			l.Blocks -= p.Blocks
			l.Bytes -= p.Bytes
			grew = append(grew, l)
		}
	}
	if len(grew) == 0 {
		b.WriteString("; no sampled stack names them (run with HAKMEM_CHECK=1 to name every block)\n")
		return b.String()
	}
	b.WriteString(", allocated at:\n")
	for _, l := range grew {
		how := ""
		if !l.Exact {
			how = " (estimated from heap profile samples)"
		}
		fmt.Fprintf(&b, "%d bytes in %d blocks%s:\n", l.Bytes, l.Blocks, how)
		for _, f := range frames(l.Stack) {
			b.WriteString("\t" + f + "\n")
		}
	}
	return b.String()
}

func key(l hakmem.Leak) string { return fmt.Sprint(l.Exact, l.Stack) }

// frames names the frames of a stack, "func file:line".
func frames(stack []uintptr) []string {
	var out []string
	fs := runtime.CallersFrames(stack)
	for {
		f, more := fs.Next()
		internal := strings.HasPrefix(f.Function, "github.com/hakmem-go/hakmem.") && !strings.HasSuffix(f.File, "_test.go")
		if f.Function != "" && !internal {
			out = append(out, fmt.Sprintf("%s %s:%d", f.Function, f.File, f.Line))
		}
		if !more {
			return out
		}
	}
}
