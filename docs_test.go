package hakmem

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// packageDoc parses the package in dir, tests included, for go/doc.
func packageDoc(t *testing.T, dir, importPath string) *doc.Package {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, importPath)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPackageDocShape: the package documentation is for users, a screen or
// two (what it is, the safety rules, the API families, modes, links; the
// design lives in DESIGN.md), and every API family has a runnable Example
// (one with an Output comment), which pkg.go.dev shows and go test runs.
func TestPackageDocShape(t *testing.T) {
	p := packageDoc(t, ".", "github.com/hakmem-go/hakmem")
	lines := strings.Count(p.Doc, "\n")
	t.Logf("package doc: %d lines, %d bytes", lines, len(p.Doc))
	if lines > 80 {
		t.Errorf("the package doc is %d lines; keep it to a screen or two (80), the design goes to DESIGN.md", lines)
	}
	for _, h := range []string{"Safety rules", "API families", "Modes", "DESIGN.md", "README"} {
		if !strings.Contains(p.Doc, h) {
			t.Errorf("the package doc lacks %q", h)
		}
	}
	runnable := runnableExamples(p)
	for family, name := range map[string]string{
		"Alloc/Free":       "Alloc",
		"Try*":             "TryAlloc",
		"typed helpers":    "MakeSlice",
		"Site":             "NewSite",
		"SetMemoryLimit":   "SetMemoryLimit",
		"shared limit":     "ShareMemoryLimit",
		"ReadStats":        "ReadStats",
		"WriteStats":       "WriteStats",
		"Save/LoadPolicy":  "SavePolicy",
		"modes":            "SetMode",
		"the package tour": "",
	} {
		if !runnable[name] {
			t.Errorf("no runnable Example for %s (Example%s)", family, name)
		}
	}
	if len(runnableExamples(packageDoc(t, "metrics", "github.com/hakmem-go/hakmem/metrics"))) == 0 {
		t.Errorf("package metrics has no runnable Example")
	}
	if b, err := os.ReadFile("metrics/prometheus/example_test.go"); err != nil || !strings.Contains(string(b), "func Example()") {
		t.Errorf("the prometheus collector has no Example: %v", err)
	}
	if b, err := os.ReadFile("DESIGN.md"); err != nil || !strings.HasPrefix(string(b), "# Design") {
		t.Errorf("DESIGN.md: %v", err)
	}
}

// runnableExamples names p's Examples that have an Output comment.
func runnableExamples(p *doc.Package) map[string]bool {
	runnable := map[string]bool{}
	collect := func(exs []*doc.Example) {
		for _, ex := range exs {
			if ex.Output != "" || ex.EmptyOutput {
				runnable[ex.Name] = true
			}
		}
	}
	collect(p.Examples)
	for _, f := range p.Funcs {
		collect(f.Examples)
	}
	for _, ty := range p.Types {
		collect(ty.Examples)
		for _, f := range ty.Funcs {
			collect(f.Examples)
		}
		for _, f := range ty.Methods {
			collect(f.Examples)
		}
	}
	return runnable
}

// TestLicenseAndVersions: the README's license and its planned first tag
// are backed by LICENSE and CHANGELOG.md.
func TestLicenseAndVersions(t *testing.T) {
	lic, err := os.ReadFile("LICENSE")
	if err != nil || !strings.HasPrefix(string(lic), "MIT License\n") {
		t.Fatalf("LICENSE is not the MIT license: %v", err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	changelog, err := os.ReadFile("CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	const planned = "v0.1.0"
	for _, want := range []string{"MIT; see [LICENSE](LICENSE)", "The first tag will be **" + planned + "**", "no code was taken", "[CHANGELOG.md](CHANGELOG.md)"} {
		if !strings.Contains(strings.ToLower(string(readme)), strings.ToLower(want)) {
			t.Errorf("README.md lacks %q", want)
		}
	}
	if !strings.Contains(string(changelog), "(planned as "+planned+")") {
		t.Errorf("CHANGELOG.md has no section for the planned %s", planned)
	}
}
