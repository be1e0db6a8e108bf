package restrict

import (
	"testing"

	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// FuzzParseView feeds arbitrary JSON objects through Parse and View. View
// must not panic, must not modify its input, and its result must be JSON in
// which nothing in force is left to hide from the same viewer: parsed again,
// it has no restriction that does not permit the viewer. Permit keys must
// decide as Permits does.
func FuzzParseView(f *testing.F) {
	for _, e := range ig.Examples() {
		f.Add(e.Data, "", "")
	}
	c := consent("c", "active", []string{"Organization/acme", "display:x"}, "counsellor")
	for _, s := range []string{
		`{"resourceType":"Practitioner","contained":[` + c + `],"name":[{"given":["a","b"],"_given":[null,{"extension":` + ext("c") + `}]}],"_birthDate":{"extension":` + ext("c") + `}}`,
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Organization","contained":[` + c + `],"extension":` + ext("c") + `}}]}`,
		`{"resourceType":"Organization","contained":[` + c + `,{"resourceType":"Location","id":"l","extension":` + ext("c") + `}],"extension":` + ext("gone") + `}`,
		`{"a":[[{"extension":` + ext("c") + `}]],"contained":[` + c + `]}`,
	} {
		f.Add([]byte(s), "Organization/acme", "counsellor")
	}
	f.Fuzz(func(t *testing.T, data []byte, org, role string) {
		obj, err := jsontree.ParseObject(data)
		if err != nil {
			return
		}
		before := string(jsontree.Marshal(obj))
		rs := Parse(obj)
		_ = rs.Err()
		// The store's reduced form decides as Permits does.
		kv := Viewer{Organization: org, Roles: []string{role}}
		for _, r := range rs.All {
			if got, want := keysPermit(ViewerKeys(kv, nil), r.Rule.Keys()), r.Rule.Permits(kv); got != want {
				t.Fatalf("rule %+v, viewer %+v: keys permit %v; Permits %v", r.Rule, kv, got, want)
			}
		}
		for _, v := range []Viewer{{}, {Organization: org, Roles: []string{role}}, {Operator: true}} {
			out, visible, subsetted := View(obj, rs, v)
			if after := string(jsontree.Marshal(obj)); after != before {
				t.Fatalf("View(%+v) modified its input", v)
			}
			if !visible {
				if out != nil || v.Operator {
					t.Fatalf("View(%+v) = %p, invisible", v, out)
				}
				continue
			}
			if (out != obj) != subsetted || (v.Operator && subsetted) {
				t.Fatalf("View(%+v) subsetted = %v, same = %v", v, subsetted, out == obj)
			}
			back, err := jsontree.ParseObject(jsontree.Marshal(out))
			if err != nil {
				t.Fatalf("View output does not parse: %v", err)
			}
			again := Parse(back)
			if !again.Permits(v) {
				t.Fatalf("View(%+v) output is invisible when parsed again", v)
			}
			if h := again.Hidden(v); !h.Empty() {
				t.Fatalf("View(%+v) output still holds hidden %v:\n%s", v, h.Paths(), jsontree.Marshal(out))
			}
			_ = rs.Hidden(v).Nodes(obj)
			_ = rs.Hidden(v).CoversLocation(string(data))
		}
	})
}
