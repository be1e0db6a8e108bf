package rest

import (
	"net/http"
	"testing"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// FuzzValidateParameters: $validate's Parameters, whatever their shape,
// give a resource (or none, for mode delete) or a 400, never a panic.
//
//	go test -run XXX -fuzz FuzzValidateParameters ./internal/rest/
func FuzzValidateParameters(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Practitioner"}},{"name":"mode","valueCode":"create"},{"name":"profile","valueUri":"http://x/p"}]}`))
	f.Add([]byte(`{"resourceType":"Parameters","parameter":[{"name":"mode","valueCode":"delete"}]}`))
	f.Add([]byte(`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":7},{"name":"resource"}]}`))
	f.Add([]byte(`{"resourceType":"Parameters","parameter":[1,{"name":"x"}]}`))
	f.Add([]byte(`{"resourceType":"Parameters","parameter":{"name":"mode"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := jsontree.Limits{MaxNodes: 10000}.ParseObject(data)
		if err != nil {
			return
		}
		op := &interaction.Invocation{Name: "validate"}
		res, err := validateParameters(obj, op)
		switch {
		case err != nil:
			if fhir.StatusOf(err) != http.StatusBadRequest {
				t.Fatalf("error %v: want a 400", err)
			}
		case res == nil && op.Mode != "delete":
			t.Fatalf("no resource and no error for mode %q", op.Mode)
		}
	})
}
