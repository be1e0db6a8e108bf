package provenance_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/provenance"
	"github.com/vhdir/vhdir/internal/store"
)

// FuzzParseHeader: ParseHeader never panics, refuses with a 400
// *fhir.Error only, and whatever it accepts has no target and builds into
// a valid Provenance without being changed. Crashers go to
// testdata/fuzz/FuzzParseHeader.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Provenance"}`,
		`{"resourceType":"Provenance","location":{"reference":"Location/1"},"agent":[{"who":{"reference":"Practitioner/p1"}}]}`,
		`{"resourceType":"Provenance","occurredPeriod":{"start":"2026-01-01","end":"2026-02-01"},"reason":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}]}]}`,
		`{"resourceType":"Provenance","contained":[{"resourceType":"Organization","id":"o","name":"Src"}],"agent":[{"who":{"reference":"#o"}}]}`,
		`{"resourceType":"Provenance","entity":[{"role":"source","what":{"identifier":{"system":"urn:x","value":"1"}}}]}`,
		`{"resourceType":"Provenance","signature":[{"type":[{"system":"urn:iso-astm:E1762-95:2013","code":"1.2.840.10065.1.12.1.1"}],"when":"2026-01-01T00:00:00Z","who":{"display":"x"}}]}`,
		`{"resourceType":"Provenance","recorded":"2026-01-01T00:00:00Z","_recorded":{"extension":[{"url":"urn:x","valueString":"y"}]}}`,
		`{"resourceType":"Provenance","target":[{"reference":"Practitioner/p1"}]}`,
		`{"resourceType":"Provenance","occurredDateTime":"not a date"}`,
		`{"resourceType":"Practitioner"}`,
		`{"resourceType":"Provenance",`,
		`[]`,
		``,
	} {
		f.Add(s)
	}
	change := &directory.Change{Action: directory.Updated, Type: "Practitioner", ID: "p1", Version: &store.Version{VersionID: 2}}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, value string) {
		h, err := provenance.ParseHeader(value)
		if err != nil {
			var fe *fhir.Error
			if !errors.As(err, &fe) || fe.Status != http.StatusBadRequest || len(fe.Issues) == 0 {
				t.Fatalf("ParseHeader(%q) = %v; want a 400 *fhir.Error with issues", value, err)
			}
			return
		}
		if _, ok := h.Obj.Get("target"); ok {
			t.Fatalf("ParseHeader(%q) accepted a target", value)
		}
		before := string(jsontree.Marshal(h.Obj))
		p, err := provenance.Build(change, acme, h, now)
		if err != nil {
			t.Fatalf("ParseHeader accepted %q but Build refused it: %v", value, err)
		}
		if issues := fhir.Validate(p.Obj); issues != nil {
			t.Fatalf("Build(%q) is invalid: %v", value, issues)
		}
		if string(jsontree.Marshal(h.Obj)) != before {
			t.Fatalf("Build modified the header %q", value)
		}
	})
}
