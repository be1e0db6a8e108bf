package provenance

import (
	"errors"
	"net/http"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// HeaderName is the HTTP header a client sends its own Provenance in
// (FHIR R4 provenance.html#header).
const HeaderName = "X-Provenance"

// MaxHeaderBytes is the longest X-Provenance value accepted. FHIR lets
// servers refuse over-long headers; 16 KiB holds several agents, entities
// and a signature, and stays far below net/http's 1 MiB header limit.
const MaxHeaderBytes = 16 << 10

// ParseHeader reads an X-Provenance header value. The value is always JSON,
// whatever the request's Content-Type. It must be a Provenance resource
// without target (the server fills it in: "The provenance SHALL not have a
// specified Provenance.target") and otherwise valid as vhdir validates any
// resource it stores; target, recorded and agent, which R4 requires, may be
// left out because the server supplies them. Errors are *fhir.Error with
// status 400 naming the header.
func ParseHeader(value string) (*fhir.Resource, error) {
	if len(value) > MaxHeaderBytes {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueTooLong,
			"the %s header is %d bytes; this server accepts at most %d", HeaderName, len(value), MaxHeaderBytes)
	}
	obj, err := jsontree.ParseObject([]byte(value))
	if err != nil {
		var se *jsontree.SyntaxError
		if errors.As(err, &se) {
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueStructure,
				"the %s header is not a JSON Provenance resource: %s", HeaderName, se.Error())
		}
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueStructure,
			"the %s header is not a JSON Provenance resource", HeaderName).Wrap(err)
	}
	if rt, _ := obj.String("resourceType"); rt != "Provenance" {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid,
			"the %s header must hold a resource with \"resourceType\": \"Provenance\"", HeaderName).At("resourceType")
	}
	if _, ok := obj.Get("target"); ok {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid,
			"the %s header must not have a target: the server fills it in with the version it writes", HeaderName).At("Provenance.target")
	}
	if issues := fhir.Validate(withServerElements(obj)); issues != nil {
		for i := range issues {
			issues[i].Diagnostics = HeaderName + " header: " + issues[i].Diagnostics
		}
		return nil, &fhir.Error{Status: http.StatusBadRequest, Issues: issues}
	}
	id, _ := obj.String("id")
	return &fhir.Resource{Type: "Provenance", ID: id, Obj: obj}, nil
}

// withServerElements returns a copy of a header's Provenance with
// placeholders for the required elements the server fills in (target,
// recorded, agent when there is none), so that validation judges what the
// client sent and not what it was asked to leave out.
func withServerElements(obj *jsontree.Object) *jsontree.Object {
	probe := jsontree.Clone(obj).(*jsontree.Object)
	ref := &jsontree.Object{}
	ref.Set("reference", "Provenance/placeholder")
	probe.Set("target", []any{ref})
	if _, ok := probe.Get("recorded"); !ok {
		probe.Set("recorded", "2000-01-01T00:00:00Z")
	}
	if _, ok := probe.Get("agent"); !ok {
		probe.Set("agent", []any{serverAgent(&interaction.Caller{ClientName: "placeholder"})})
	}
	return probe
}
