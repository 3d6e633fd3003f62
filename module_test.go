package hakmem

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The module layout (README "Modules"): the core module
// github.com/hakmem-go/hakmem (this package and metrics) requires
// golang.org/x/sys and nothing else; the CLI, the benchmark machinery and
// the Prometheus collector are modules of their own in this repository,
// tied together for development by go.work.

// goCmd runs the go command in dir with GOWORK=off (or the workspace when
// work is true) and returns its output.
func goCmd(t *testing.T, dir string, work bool, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if !work {
		cmd.Env = append(cmd.Env, "GOWORK=off")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// TestImporterModuleGraph: a throwaway module that imports hakmem and
// hakmem/metrics has golang.org/x/sys and the go and toolchain nodes in its
// module graph, and nothing else.
func TestImporterModuleGraph(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	repo, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/importer\n\ngo 1.25\n\nrequire github.com/hakmem-go/hakmem v0.0.0\n\nreplace github.com/hakmem-go/hakmem => " + repo + "\n",
		"main.go": `package main

import (
	"fmt"

	"github.com/hakmem-go/hakmem"
	"github.com/hakmem-go/hakmem/metrics"
)

func main() {
	b := hakmem.Alloc(100)
	hakmem.Free(b)
	fmt.Println(len(b), len(metrics.Read()))
}
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goCmd(t, dir, false, "mod", "tidy")
	graph := goCmd(t, dir, false, "mod", "graph")
	t.Logf("go mod graph of the importer:\n%s", graph)
	allowed := func(node string) bool {
		path, _, _ := strings.Cut(node, "@")
		return path == "example.com/importer" || path == "github.com/hakmem-go/hakmem" ||
			path == "golang.org/x/sys" || path == "go" || path == "toolchain"
	}
	for _, line := range strings.Split(strings.TrimSpace(graph), "\n") {
		for _, node := range strings.Fields(line) {
			if !allowed(node) {
				t.Errorf("the importer's module graph has %s (%q)", node, line)
			}
		}
	}
	if !strings.Contains(graph, "golang.org/x/sys@") {
		t.Errorf("golang.org/x/sys is missing from the graph:\n%s", graph)
	}
	if !testing.Short() {
		goCmd(t, dir, false, "build", "-o", os.DevNull, ".")
	}
}

// TestGoDirective: the core go.mod states the Go language version hakmem
// needs (goFloor: sync.WaitGroup.Go is Go 1.25's) as a language version,
// not a patch release (go 1.25, not go 1.25.0: a patch release would force
// every importer onto it), at least golang.org/x/sys's own go line, with no
// toolchain line, and requires x/sys alone (no test or tool requirements).
func TestGoDirective(t *testing.T) {
	const goFloor = "1.25"
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	var mod struct {
		Go        string
		Toolchain *struct{}
		Require   []struct{ Path string }
		Tool      []struct{ Path string }
	}
	if err := json.Unmarshal([]byte(goCmd(t, ".", false, "mod", "edit", "-json")), &mod); err != nil {
		t.Fatal(err)
	}
	var sys struct{ GoVersion string }
	if err := json.Unmarshal([]byte(goCmd(t, ".", false, "list", "-m", "-json", "golang.org/x/sys")), &sys); err != nil {
		t.Fatal(err)
	}
	if mod.Go != goFloor {
		t.Errorf("go.mod says go %s; want go %s, the language version hakmem needs, without a patch", mod.Go, goFloor)
	}
	// x/sys writes its line as a release ("1.24.0"). The language version
	// "1.25" orders below "1.25.0" (and go mod tidy would raise it), so
	// x/sys's minor version must be lower.
	if !minorLess(sys.GoVersion, goFloor) {
		t.Errorf("golang.org/x/sys needs go %s, above go.mod's %s: require an older x/sys", sys.GoVersion, goFloor)
	}
	if mod.Toolchain != nil {
		t.Errorf("go.mod has a toolchain line")
	}
	if len(mod.Require) != 1 || mod.Require[0].Path != "golang.org/x/sys" || len(mod.Tool) != 0 {
		t.Errorf("go.mod requires %v, tools %v; want golang.org/x/sys alone", mod.Require, mod.Tool)
	}
}

// minorLess reports whether Go version a ("1.N" or "1.N.P") has a lower
// minor version than b.
func minorLess(a, b string) bool {
	minor := func(v string) int {
		n, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(v, "1."), ".", 2)[0])
		return n
	}
	return minor(a) < minor(b)
}

// TestWorkspaceCoversModules: every module in the repository is in
// go.work, so the README's test command (go test over `go list -m`'s
// directories) and `go run ./cmd/hakmem` from the root reach all of them;
// and the README still gives that command.
func TestWorkspaceCoversModules(t *testing.T) {
	var mods []string
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && p != ".") {
			return filepath.SkipDir
		}
		if d.Name() == "go.mod" {
			mods = append(mods, filepath.Dir(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var work struct{ Use []struct{ DiskPath string } }
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	if err := json.Unmarshal([]byte(goCmd(t, ".", true, "work", "edit", "-json")), &work); err != nil {
		t.Fatal(err)
	}
	var used []string
	for _, u := range work.Use {
		used = append(used, filepath.Clean(u.DiskPath))
	}
	slices.Sort(mods)
	slices.Sort(used)
	if !slices.Equal(mods, used) {
		t.Errorf("modules in the repository %v, in go.work %v", mods, used)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{readmeTestCommand, "go run ./cmd/hakmem bench"} {
		if !strings.Contains(string(readme), "\n"+cmd+" ") {
			t.Errorf("README.md does not give %q", cmd)
		}
	}
}

// readmeTestCommand is the README's test command: every module of the
// workspace.
const readmeTestCommand = "go test $(go list -m -f '{{.Dir}}/...')"
