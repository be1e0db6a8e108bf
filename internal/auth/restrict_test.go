package auth_test

import (
	"net/http"
	"testing"

	"github.com/vhdir/vhdir/internal/auth"
)

// TestRestrictionsFollowRegistration: with real tokens, the registered
// organization, roles and sees_restricted decide what usage restrictions
// let a client see (the mapping auth.Access hands to the FHIR server).
func TestRestrictionsFollowRegistration(t *testing.T) {
	consent := func(provision string) string {
		return `{"resourceType":"Consent","id":"c","status":"active","scope":{"text":"protect"},"category":[{"text":"restricted"}],"provision":{"type":"permit",` + provision + `}}`
	}
	const ext = `[{"url":"http://hl7.org/fhir/uv/vhdir/StructureDefinition/usage-restriction","valueReference":{"reference":"#c"}}]`
	forEachBackend(t, func(t *testing.T, st *stack) {
		st.seed(
			`{"resourceType":"Practitioner","id":"for-acme","contained":[`+consent(`"actor":[{"role":{"text":"IRCP"},"reference":{"reference":"Organization/acme"}}]`)+`],"extension":`+ext+`,"name":[{"family":"Acme"}]}`,
			`{"resourceType":"Practitioner","id":"for-staff","contained":[`+consent(`"securityLabel":[{"system":"http://example.org/roles","code":"shelter-staff"}]`)+`],"extension":`+ext+`,"name":[{"family":"Staff"}]}`,
		)
		other := func(r *auth.Registration) { r.Organization = "Organization/other" }
		clients := map[string]*testClient{
			"acme":    st.register("system/*.rs", false),
			"other":   st.registerWith("system/*.rs", false, other),
			"staff":   st.registerWith("system/*.rs", false, func(r *auth.Registration) { other(r); r.Roles = []string{"http://example.org/roles|shelter-staff"} }),
			"steward": st.registerWith("system/*.rs", false, func(r *auth.Registration) { other(r); r.SeesRestricted = true }),
		}
		tests := []struct {
			client, id string
			status     int
		}{
			{"acme", "for-acme", http.StatusOK},
			{"other", "for-acme", http.StatusNotFound},
			{"staff", "for-acme", http.StatusNotFound},
			{"steward", "for-acme", http.StatusOK},
			{"acme", "for-staff", http.StatusNotFound},
			{"other", "for-staff", http.StatusNotFound},
			{"staff", "for-staff", http.StatusOK},
			{"steward", "for-staff", http.StatusOK},
		}
		tokens := map[string]string{}
		for name, c := range clients {
			tokens[name] = st.token(c, "system/*.rs")
		}
		for _, tt := range tests {
			resp, body := st.do(http.MethodGet, "/fhir/Practitioner/"+tt.id, tokens[tt.client], nil)
			if resp.StatusCode != tt.status {
				t.Errorf("%s reads Practitioner/%s: %d, want %d: %s", tt.client, tt.id, resp.StatusCode, tt.status, body)
			}
		}
	})
}
