package hakmemtest_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hakmem-go/hakmem"
	"github.com/hakmem-go/hakmem/hakmemtest"
)

func TestMain(m *testing.M) {
	if os.Getenv("HAKMEMTEST_MAIN") == "1" {
		hakmemtest.VerifyTestMain(m)
	}
	os.Exit(m.Run())
}

// recorder is a testing.TB that keeps what VerifyNoLeaks reports and runs
// its cleanups on demand.
type recorder struct {
	testing.TB
	errs     []string
	cleanups []func()
}

func (r *recorder) Helper()           {}
func (r *recorder) Error(args ...any) { r.errs = append(r.errs, fmt.Sprint(args...)) }
func (r *recorder) Cleanup(f func())  { r.cleanups = append(r.cleanups, f) }

func (r *recorder) finish() {
	for _, f := range r.cleanups {
		f()
	}
}

var leaked [][]byte

//go:noinline
func leakyHelper() { leaked = append(leaked, hakmem.Alloc(48)) }

func TestVerifyNoLeaks(t *testing.T) {
	r := &recorder{TB: t}
	hakmemtest.VerifyNoLeaks(r)
	hakmem.Free(hakmem.Alloc(100))
	b := hakmem.Alloc(5 << 20)
	hakmem.Free(b)
	r.finish()
	if len(r.errs) != 0 {
		t.Fatalf("no leak, but: %v", r.errs)
	}

	r = &recorder{TB: t}
	hakmemtest.VerifyNoLeaks(r)
	leakyHelper()
	r.finish()
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "1 hakmem blocks") {
		t.Fatalf("one leaked block: %v", r.errs)
	}
	if os.Getenv("HAKMEM_CHECK") == "1" && !strings.Contains(r.errs[0], "leakyHelper") {
		t.Errorf("checked mode: the report does not name leakyHelper:\n%s", r.errs[0])
	}
	t.Logf("report:\n%s", r.errs[0])
	hakmem.Free(leaked[0])
	leaked = nil
}

// TestVerifyNoLeaksChecked: in checked mode the leak is named.
func TestVerifyNoLeaksChecked(t *testing.T) {
	if os.Getenv("HAKMEM_CHECK") == "1" {
		return // the child: TestVerifyNoLeaks checks the name
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestVerifyNoLeaks$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "HAKMEM_CHECK=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "leakyHelper") {
		t.Errorf("checked child (%v):\n%s", err, out)
	}
}

func TestLeakForMain(t *testing.T) {
	if os.Getenv("HAKMEMTEST_MAIN") == "1" && os.Getenv("HAKMEMTEST_LEAK") == "1" {
		leakyHelper()
	}
}

// TestVerifyTestMain runs this binary's tests under VerifyTestMain in a
// child: a leak makes it fail, no leak does not.
func TestVerifyTestMain(t *testing.T) {
	if os.Getenv("HAKMEMTEST_MAIN") == "1" {
		return
	}
	for _, leak := range []string{"0", "1"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLeakForMain$", "-test.count=1")
		cmd.Env = append(os.Environ(), "HAKMEMTEST_MAIN=1", "HAKMEMTEST_LEAK="+leak, "HAKMEM_CHECK=1")
		out, err := cmd.CombinedOutput()
		failed := err != nil
		if failed != (leak == "1") || leak == "1" && !strings.Contains(string(out), "leakyHelper") {
			t.Errorf("leak=%s: failed %v:\n%s", leak, failed, out)
		}
	}
}
