// Architecture tests: every package says what it owns, and dependencies
// point one way (STYLE.md §1). Adding an internal import to a package means
// adding it here, on purpose.
package vhdir_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/vhdir/vhdir/"

// allowed lists, per package, the internal packages its non-test files may
// import. A package missing here is a failure: decide its place first.
var allowed = map[string][]string{
	"internal/jsontree":              {},
	"internal/r4":                    {},
	"internal/clock":                 {},
	"internal/ig":                    {"internal/jsontree"},
	"internal/tlsconf":               {},
	"internal/fhir":                  {"internal/jsontree", "internal/r4"},
	"internal/fhirpath":              {"internal/jsontree", "internal/r4"},
	"internal/profile":               {"internal/fhir", "internal/fhirpath", "internal/ig", "internal/jsontree", "internal/r4"},
	"internal/profile/profiletest":   {"internal/profile"},
	"internal/store":                 {},
	"internal/store/sqlstore":        {"internal/store"},
	"internal/store/sqlite":          {"internal/store", "internal/store/sqlstore"},
	"internal/store/postgres":        {"internal/store", "internal/store/sqlstore"},
	"internal/store/postgres/pgtest": {},
	"internal/store/testdb":          {"internal/store", "internal/store/sqlite", "internal/store/postgres", "internal/store/postgres/pgtest"},
	"internal/store/storetest":       {"internal/store"},
	"internal/restrict":              {"internal/fhir", "internal/jsontree"},
	"internal/interaction":           {"internal/fhir", "internal/jsontree", "internal/restrict", "internal/store"},
	"internal/search":                {"internal/fhir", "internal/fhirpath", "internal/ig", "internal/jsontree", "internal/r4", "internal/restrict", "internal/store"},
	"internal/directory":             {"internal/clock", "internal/fhir", "internal/jsontree", "internal/restrict", "internal/store"},
	"internal/membership":            {"internal/clock", "internal/fhir", "internal/interaction", "internal/jsontree", "internal/store"},
	"internal/load":                  {"internal/directory", "internal/fhir", "internal/jsontree", "internal/store"},
	"internal/provenance":            {"internal/directory", "internal/fhir", "internal/interaction", "internal/jsontree"},
	"internal/gen":                   {"internal/jsontree"},
	"internal/rest":                  {"internal/clock", "internal/directory", "internal/fhir", "internal/ig", "internal/interaction", "internal/jsontree", "internal/profile", "internal/provenance", "internal/r4", "internal/search", "internal/store"},
	"internal/auth":                  {"internal/clock", "internal/fhir", "internal/interaction", "internal/jsontree", "internal/store"},
	"internal/bulk":                  {"internal/clock", "internal/fhir", "internal/interaction", "internal/jsontree", "internal/search", "internal/store"},
	"internal/audit":                 {"internal/auth", "internal/bulk", "internal/clock", "internal/directory", "internal/fhir", "internal/interaction", "internal/jsontree", "internal/store"},
	"internal/metrics":               {"internal/clock", "internal/fhir"},
	"internal/clock/ntptest":         {},
	"internal/console":               {"internal/audit", "internal/auth", "internal/clock", "internal/fhir", "internal/interaction", "internal/jsontree", "internal/profile", "internal/restrict", "internal/search", "internal/store"},
	"internal/server":                {"internal/audit", "internal/auth", "internal/bulk", "internal/clock", "internal/console", "internal/directory", "internal/ig", "internal/interaction", "internal/load", "internal/membership", "internal/metrics", "internal/profile", "internal/provenance", "internal/rest", "internal/search", "internal/store"},
	"internal/server/servertest":     {"internal/profile", "internal/server"},
	"internal/server/benchdir":       {"internal/clock", "internal/gen", "internal/load", "internal/profile", "internal/server", "internal/store", "internal/store/postgres", "internal/store/postgres/pgtest", "internal/store/sqlite"},
	"cmd/vhdir":                      {"*"},
}

// onlyFrom lists packages that only the named ones may import, whatever
// their tables say: the HTTP server is not a vocabulary (that is
// internal/interaction), and only the composition root wires packages
// together.
var onlyFrom = map[string][]string{
	"internal/rest":   {"internal/server", "cmd/vhdir"},
	"internal/server": {"internal/server/servertest", "internal/server/benchdir", "cmd/vhdir"},
}

func TestArchitecture(t *testing.T) {
	fset := token.NewFileSet()
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		if dir == "." || dir == "internal/r4/gen" {
			return nil // generators run by hand, not part of the binary
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			seen[dir] = true
		} else if _, ok := seen[dir]; !ok {
			seen[dir] = false
		}
		rules, known := allowed[dir]
		if !known {
			t.Errorf("package %s is not in arch_test.go's allowed table", dir)
			return nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, module) {
				continue
			}
			dep := strings.TrimPrefix(p, module)
			if !slices.Contains(rules, "*") && !slices.Contains(rules, dep) {
				t.Errorf("%s imports %s, which its layer may not (see arch_test.go)", path, dep)
			}
			if only, ok := onlyFrom[dep]; ok && !slices.Contains(only, dir) {
				t.Errorf("%s imports %s, which only %v may (see arch_test.go)", path, dep, only)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir, documented := range seen {
		if !documented {
			t.Errorf("package %s has no package doc comment saying what it owns", dir)
		}
	}
}
