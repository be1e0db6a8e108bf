package rest_test

import (
	"bufio"
	"github.com/vhdir/vhdir/internal/server/benchdir"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/store"
)

// BenchmarkRestrictedSearch measures what enforcing usage restrictions
// costs searches, on the benchmark directory (about 1 % of its resources
// restricted, half at the root, half on an element, by `vhdir gen`). Each
// shape runs for three callers, 8 concurrent clients:
//
//	operator:  sees everything, no restriction filter (the cost without enforcement)
//	other-org: an organization no restriction names (every ordinary client):
//	           restricted resources filtered, hidden values unmatched
//	permitted: an organization that restrictions name: also the guarded
//	           index rows and each restriction's keys are checked
func BenchmarkRestrictedSearch(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			st := benchdir.Open(b, backend, *benchPractitioners)
			srv := startBenchServer(b, func() store.Store { return st })
			permitted := restrictedActor(b, benchdir.Generated(b, *benchPractitioners))
			callers := []struct {
				name   string
				header []string
			}{
				{"operator", []string{"X-Org", "Organization/nobody", "X-Operator", "true"}},
				{"other-org", []string{"X-Org", "Organization/nobody"}},
				{"permitted", []string{"X-Org", permitted}},
			}
			for _, sh := range benchShapes(b, st) {
				switch sh.name {
				case "chained-nototal", "has-nototal", "near":
					continue // the same statements as their neighbours here
				}
				for _, c := range callers {
					b.Run(sh.name+"/"+c.name, func(b *testing.B) {
						runShape(b, srv, sh.query, c.header...)
					})
				}
			}
		})
	}
}

// restrictedActor returns the organization the first restricted
// Practitioner of the generated files permits.
func restrictedActor(b *testing.B, dir string) string {
	f, err := os.Open(filepath.Join(dir, "Practitioner.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), "usage-restriction") {
			continue
		}
		o, err := jsontree.ParseObject(sc.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		contained, _ := o.Get("contained")
		for _, c := range asArray(contained) {
			prov, _ := c.(*jsontree.Object).Object("provision")
			if prov == nil {
				continue
			}
			actors, _ := prov.Get("actor")
			for _, a := range asArray(actors) {
				ref, _ := a.(*jsontree.Object).Object("reference")
				if r, _ := ref.String("reference"); r != "" {
					return r
				}
			}
		}
	}
	b.Fatal("no restricted Practitioner with an actor reference in the generated data")
	return ""
}
