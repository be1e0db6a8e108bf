package search

import (
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/restrict"
)

// FuzzIndexRestricted: whatever resource comes in, its index rows are
// exactly its rows, split into main and guarded, and no main row holds a
// value a viewer without permissions may not see.
func FuzzIndexRestricted(f *testing.F) {
	for _, fl := range ig.Examples() {
		if strings.Contains(string(fl.Data), "usage-restriction") {
			f.Add(fl.Data)
		}
	}
	f.Add([]byte(`{"resourceType":"Location","id":"l","contained":[` + rconsent("a", "active", "Organization/x") + `,` + rconsent("b", "active", "Organization/y") +
		`],"name":"N","address":{"extension":` + rext("a") + `,"city":"C","line":["L"],"_line":[{"extension":` + rext("b") + `}]}}`))
	reg, err := NewRegistry()
	if err != nil {
		f.Fatal(err)
	}
	eng := NewEngine(reg, "https://x/fhir")
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := jsontree.ParseObject(data)
		if err != nil {
			return
		}
		typ, _ := obj.String("resourceType")
		id, _ := obj.String("id")
		idx, err := eng.Index(&fhir.Resource{Type: typ, ID: id, Obj: obj})
		if err != nil {
			return // refused (too many rules): nothing to store
		}
		full, err := eng.extract(typ, obj)
		if err != nil {
			t.Fatalf("Index succeeded, extract failed: %v", err)
		}
		r := idx.Restriction
		if r == nil {
			if !rowSet(idx).equal(rowSet(full)) {
				t.Fatal("an unrestricted index is not the resource's rows")
			}
			return
		}
		got := rowSet(idx)
		for _, g := range r.Guarded {
			if g.Mask <= 0 || g.Mask >= 1<<len(r.Rules) {
				t.Fatalf("mask %#x with %d rules", g.Mask, len(r.Rules))
			}
			eachRow(g.Index, func(row any) {
				if got.has(row) {
					t.Fatalf("row %v both main and guarded (or twice)", row)
				}
				got[row] = struct{}{}
			})
		}
		if !got.equal(rowSet(full)) {
			t.Fatal("main and guarded rows are not the resource's rows")
		}
		if r.Root != 0 {
			if idx.Len() != 0 {
				t.Fatal("a root-restricted resource has main rows")
			}
			return
		}
		rs := restrict.Parse(obj)
		view, visible, _ := restrict.ViewBy(obj, rs, func(*restrict.Rule) bool { return false })
		if !visible {
			t.Fatal("no root rule, yet the view of a viewer without permissions is empty")
		}
		public, err := eng.extract(typ, view)
		if err != nil {
			t.Fatal(err)
		}
		pub := rowSet(public)
		eachRow(idx, func(row any) {
			if !pub.has(row) {
				t.Fatalf("main row %v is not in what a viewer without permissions sees", row)
			}
		})
	})
}

func (s rows) equal(o rows) bool {
	if len(s) != len(o) {
		return false
	}
	for k := range s {
		if !o.has(k) {
			return false
		}
	}
	return true
}
