package hakmem

import (
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCoreImports: every package of the core module (this one, metrics,
// the internal generators; not the nested modules, which have go.mod files
// of their own) imports only the standard library, golang.org/x/sys and
// other packages of the core module, test files included, so that an
// importer's module graph gains x/sys alone (TestImporterModuleGraph). The
// core package itself never imports expvar or net/http, which register
// handlers or pull in a server: the exporters live in metrics and in the
// metrics/prometheus module.
func TestCoreImports(t *testing.T) {
	const module = "github.com/hakmem-go/hakmem"
	pkgs := map[string]bool{} // import path -> a package of the core module
	fset := token.NewFileSet()
	type use struct{ file, path string }
	var uses []use
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil && p != "." {
				return filepath.SkipDir // a nested module
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		pkgs[path.Join(module, filepath.ToSlash(filepath.Dir(p)))] = true
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			uses = append(uses, use{p, ip})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 3 || !pkgs[module] || !pkgs[module+"/metrics"] {
		t.Fatalf("packages found: %v", pkgs)
	}
	for _, u := range uses {
		first, _, _ := strings.Cut(u.path, "/")
		std := !strings.Contains(first, ".")
		switch {
		case filepath.Dir(u.file) == "." && !strings.HasSuffix(u.file, "_test.go") &&
			(u.path == "expvar" || strings.HasPrefix(u.path, "net/http")):
			t.Errorf("%s imports %s", u.file, u.path)
		case std || u.path == "golang.org/x/sys" || strings.HasPrefix(u.path, "golang.org/x/sys/") || pkgs[u.path]:
		default:
			t.Errorf("%s imports %s, outside the standard library, x/sys and the core module", u.file, u.path)
		}
	}
}
