package profile

import (
	"testing"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// FuzzValidate: any JSON that passes the structural check is validated
// without a panic, within the issue bound, and the same way twice (the
// pooled walker keeps no state between resources).
//
//	go test -run XXX -fuzz FuzzValidate ./internal/profile/
func FuzzValidate(f *testing.F) {
	for _, e := range ig.Examples() {
		f.Add(e.Data)
	}
	f.Add([]byte(`{"resourceType":"Practitioner","gender":"robot","identifier":[{"period":{"start":"2020","end":"2019"}}]}`))
	f.Add([]byte(`{"resourceType":"Organization","contained":[{"resourceType":"Consent","id":"c","meta":{"profile":["http://hl7.org/fhir/uv/vhdir/StructureDefinition/vhdir-restriction"]}}],"extension":[{"url":"http://hl7.org/fhir/uv/vhdir/StructureDefinition/usage-restriction","valueReference":{"reference":"#c"}}]}`))
	v, err := New()
	if err != nil {
		f.Fatal(err)
	}
	lim := jsontree.Limits{MaxNodes: 20000}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := lim.ParseObject(data)
		if err != nil || fhir.Validate(obj) != nil {
			return
		}
		first := v.Validate(obj)
		if len(first) > maxIssues+1 {
			t.Fatalf("%d issues; the bound is %d", len(first), maxIssues)
		}
		second := v.Validate(obj)
		if len(first) != len(second) {
			t.Fatalf("validated twice: %d then %d issues", len(first), len(second))
		}
		for i := range first {
			if first[i].Diagnostics != second[i].Diagnostics {
				t.Fatalf("validated twice: issue %d differs: %q, %q", i, first[i].Diagnostics, second[i].Diagnostics)
			}
		}
	})
}
