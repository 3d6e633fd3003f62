package hakmem

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestCoreImports: the core package imports only the standard library
// (never expvar or net/http, which register handlers or pull in a server)
// and golang.org/x/sys. Exporters live in the metrics subpackages.
func TestCoreImports(t *testing.T) {
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(p, "/")
			if p == "expvar" || strings.HasPrefix(p, "net/http") ||
				strings.Contains(first, ".") && !strings.HasPrefix(p, "golang.org/x/sys/") {
				t.Errorf("%s imports %s", name, p)
			}
		}
	}
}
