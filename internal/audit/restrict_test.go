package audit_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/ig"
)

// restrictionNotes returns the usage-restriction details of a record.
func restrictionNotes(rec map[string]any) []string {
	var out []string
	ents, _ := rec["entity"].([]any)
	for _, e := range ents {
		ds, _ := at(e, "detail").([]any)
		for _, d := range ds {
			if str(d, "type") == "usage-restriction" {
				out = append(out, str(d, "valueString"))
			}
		}
	}
	return out
}

// TestRestrictionNoted: a response that hid a resource or removed
// elements from one says so in its AuditEvent (the client is told
// neither); an unrestricted response notes nothing.
func TestRestrictionNoted(t *testing.T) {
	const secret = `{"resourceType":"Practitioner","id":"secret","contained":[{"resourceType":"Consent","id":"restrict","status":"active",
		"scope":{"coding":[{"system":"http://hl7.org/fhir/uv/vhdir/CodeSystem/consent","code":"protect"}]},"category":[{"coding":[{"system":"http://loinc.org","code":"57016-8"}]}],
		"provision":{"type":"permit","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Organization/org-a"}}]}}],
		"extension":[{"url":"http://hl7.org/fhir/uv/vhdir/StructureDefinition/usage-restriction","valueReference":{"reference":"#restrict"}}],"name":[{"family":"Secret"}]}`
	var locWS string
	for _, f := range ig.Examples() {
		if f.Name == "location-womens-shelter.json" {
			locWS = string(f.Data)
		}
	}
	if locWS == "" {
		t.Fatal("no IG example loc-ws")
	}
	forEachBackend(t, func(t *testing.T, s *stack) {
		for path, body := range map[string]string{"/fhir/Practitioner/secret": secret, "/fhir/Location/loc-ws": locWS} {
			if r := s.do("PUT", path, "a", "", body); r.status != http.StatusCreated {
				t.Fatalf("PUT %s = %d %s", path, r.status, r.raw)
			}
		}
		tests := []struct {
			path, client string
			status       int
			note         string // prefix of the note; "" for none
		}{
			{"/fhir/Practitioner/secret", "org-b", http.StatusNotFound, "hidden"},
			{"/fhir/Practitioner/secret", "org-a", http.StatusOK, ""},
			{"/fhir/Location/loc-ws", "org-b", http.StatusOK, "subsetted: Location/loc-ws"},
			{"/fhir/Location?_id=loc-ws", "org-b", http.StatusOK, "subsetted: Location/loc-ws"},
			{"/fhir/Location/loc-ws/_history", "org-b", http.StatusOK, "subsetted: Location/loc-ws"},
			{"/fhir/Location/loc-ws", "a", http.StatusOK, ""},
		}
		for _, tt := range tests {
			n := len(s.records())
			if r := s.do("GET", tt.path, tt.client, "", ""); r.status != tt.status {
				t.Fatalf("GET %s as %s = %d, want %d: %s", tt.path, tt.client, r.status, tt.status, r.raw)
			}
			recs := s.newRecords(n)
			if len(recs) != 1 {
				t.Fatalf("GET %s: %d records", tt.path, len(recs))
			}
			notes := restrictionNotes(recs[0])
			switch {
			case tt.note == "" && len(notes) > 0:
				t.Errorf("GET %s as %s noted %v, want nothing", tt.path, tt.client, notes)
			case tt.note != "" && !slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, tt.note) }):
				t.Errorf("GET %s as %s noted %v, want %q", tt.path, tt.client, notes, tt.note)
			}
		}
	})
}
