package rest_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// Usage restrictions end to end: the IG's restricted examples and our own
// restricted resources, seen by clients of different organizations, roles,
// and an operator, through every interaction, on both backends.

// consent is a contained vhdir-restriction Consent permitting actor (a
// reference; "" for none) and a security label code (system|code; "" for
// none).
func consent(actor, label string) string {
	prov := `"type": "permit"`
	if actor != "" {
		prov += `, "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]}, "reference": {"reference": "` + actor + `"}}]`
	}
	if label != "" {
		system, code, _ := strings.Cut(label, "|")
		prov += `, "securityLabel": [{"system": "` + system + `", "code": "` + code + `"}]`
	}
	return `{"resourceType": "Consent", "id": "restrict", "status": "active",
		"scope": {"coding": [{"system": "http://hl7.org/fhir/uv/vhdir/CodeSystem/consent", "code": "protect"}]},
		"category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8"}]}],
		"provision": {` + prov + `}}`
}

const restrictionExt = `{"url": "http://hl7.org/fhir/uv/vhdir/StructureDefinition/usage-restriction", "valueReference": {"reference": "#restrict"}}`

// restrictedFixtures are our own resources, stored by an operator.
func restrictedFixtures() map[string]string {
	return map[string]string{
		"Organization/org-a":  `{"resourceType": "Organization", "id": "org-a", "name": "Health System A"}`,
		"Organization/org-a1": `{"resourceType": "Organization", "id": "org-a1", "name": "Clinic A1", "partOf": {"reference": "Organization/org-a"}}`,
		"Organization/org-b":  `{"resourceType": "Organization", "id": "org-b", "name": "Payer B"}`,
		"Organization/org-c":  `{"resourceType": "Organization", "id": "org-c", "name": "Shelter network C"}`,
		"CareTeam/ct1":        `{"resourceType": "CareTeam", "id": "ct1", "name": "Blue Team", "managingOrganization": [{"reference": "Organization/org-c"}]}`,
		// Root-restricted: only org-a (and its sub-organizations).
		"Practitioner/p-secret": `{"resourceType": "Practitioner", "id": "p-secret",
			"contained": [` + consent("Organization/org-a", "") + `],
			"extension": [` + restrictionExt + `],
			"identifier": [{"system": "http://example.org/npi", "value": "999"}],
			"name": [{"family": "Hiddenfamily", "given": ["Sam"]}]}`,
		"Practitioner/p-open": `{"resourceType": "Practitioner", "id": "p-open", "name": [{"family": "Openfamily"}]}`,
		"PractitionerRole/role-secret": `{"resourceType": "PractitionerRole", "id": "role-secret", "active": true,
			"identifier": [{"system": "http://example.org/roles", "value": "r-secret"}],
			"practitioner": {"reference": "Practitioner/p-secret"}}`,
		// Address restricted to the members of CareTeam/ct1 (org-c manages it).
		"Location/loc-team": `{"resourceType": "Location", "id": "loc-team", "name": "Safe house",
			"contained": [` + consent("CareTeam/ct1", "") + `],
			"address": {"extension": [` + restrictionExt + `], "city": "Teamtown"}}`,
		// Location reference restricted to holders of a role.
		"HealthcareService/hs-label": `{"resourceType": "HealthcareService", "id": "hs-label", "name": "Counselling",
			"contained": [` + consent("", "http://example.org/roles|shelter-staff") + `],
			"location": [{"extension": [` + restrictionExt + `], "reference": "Location/loc-team"}]}`,
		// Follows its target: visible where Practitioner/p-secret is.
		"VerificationResult/vr-1": `{"resourceType": "VerificationResult", "id": "vr-1", "status": "validated",
			"target": [{"reference": "Practitioner/p-secret"}]}`,
	}
}

// loadRestricted stores the IG's examples and restrictedFixtures as an
// operator, in an order where references resolve.
func loadRestricted(t *testing.T, srv *testServer) {
	t.Helper()
	for _, f := range ig.Examples() {
		o, err := jsontree.ParseObject(f.Data)
		if err != nil {
			t.Fatal(err)
		}
		typ, _ := o.String("resourceType")
		id, _ := o.String("id")
		if typ == "Bundle" {
			continue
		}
		srv.do(http.MethodPut, "/"+typ+"/"+id, string(f.Data)).want(t, http.StatusCreated)
	}
	fx := restrictedFixtures()
	keys := make([]string, 0, len(fx))
	for k := range fx {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		srv.do(http.MethodPut, "/"+k, fx[k]).want(t, http.StatusCreated)
	}
}

// Callers of the table below.
var (
	asOperator = []string{"X-Org", "Organization/org-b", "X-Operator", "true"}
	asB        = []string{"X-Org", "Organization/org-b"}                             // permitted by nothing
	asA1       = []string{"X-Org", "Organization/org-a1"}                            // sub-organization of org-a
	asC        = []string{"X-Org", "Organization/org-c"}                             // manages CareTeam/ct1
	asStaff    = []string{"X-Org", "Organization/org-b", "X-Roles", "shelter-staff"} // holds the label's code
)

func TestRestrictionsAcrossInteractions(t *testing.T) {
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			srv := startServer(t, opener(t, b))
			loadRestricted(t, srv)
			t.Run("read", func(t *testing.T) { testRestrictedReads(t, srv) })
			t.Run("search", func(t *testing.T) { testRestrictedSearches(t, srv) })
			t.Run("history", func(t *testing.T) { testRestrictedHistory(t, srv) })
			t.Run("elements", func(t *testing.T) { testRestrictedElements(t, srv) })
			t.Run("writes", func(t *testing.T) { testRestrictedWrites(t, srv) })
		})
	}
}

func testRestrictedReads(t *testing.T, srv *testServer) {
	tests := []struct {
		path   string
		caller []string
		status int
	}{
		{"/Practitioner/p-secret", asB, http.StatusNotFound},
		{"/Practitioner/p-secret", asStaff, http.StatusNotFound},
		{"/Practitioner/p-secret", asA1, http.StatusOK},
		{"/Practitioner/p-secret", asOperator, http.StatusOK},
		{"/Practitioner/p-secret/_history/1", asB, http.StatusNotFound},
		{"/Practitioner/p-secret/_history/1", asA1, http.StatusOK},
		{"/VerificationResult/vr-1", asB, http.StatusNotFound},
		{"/VerificationResult/vr-1", asA1, http.StatusOK},
		{"/Practitioner/p-open", asB, http.StatusOK},
	}
	for _, tt := range tests {
		r := srv.do(http.MethodGet, tt.path, "", tt.caller...)
		if r.status != tt.status {
			t.Errorf("GET %s as %v = %d, want %d: %s", tt.path, tt.caller, r.status, tt.status, r.body)
		}
		if r.status == http.StatusNotFound && strings.Contains(string(r.body), "Hiddenfamily") {
			t.Errorf("GET %s as %v: the 404 echoes restricted data: %s", tt.path, tt.caller, r.body)
		}
	}

	// Element level: the IG's Location loses its address and restricted
	// telecom, and its Consent; an operator gets it whole.
	r := srv.do(http.MethodGet, "/Location/loc-ws", "", asB...).want(t, http.StatusOK)
	if r.get("address") != nil || r.get("contained") != nil || len(asArray(r.get("telecom"))) != 1 || !subsetted(r.obj) {
		t.Errorf("loc-ws as org-b = %s; want no address, no Consent, one telecom, SUBSETTED", r.body)
	}
	r = srv.do(http.MethodGet, "/Location/loc-ws", "", asOperator...).want(t, http.StatusOK)
	if r.str("address", "city") != "Ann Arbor" || subsetted(r.obj) {
		t.Errorf("loc-ws as operator = %s; want it whole", r.body)
	}
	// A CareTeam member's organization sees the team's address.
	if got := srv.do(http.MethodGet, "/Location/loc-team", "", asC...).want(t, http.StatusOK).str("address", "city"); got != "Teamtown" {
		t.Errorf("loc-team as org-c: address city %q, want Teamtown", got)
	}
	if r := srv.do(http.MethodGet, "/Location/loc-team", "", asB...).want(t, http.StatusOK); r.get("address") != nil {
		t.Errorf("loc-team as org-b shows the address: %s", r.body)
	}
	// A role holder sees the labelled location reference.
	if r := srv.do(http.MethodGet, "/HealthcareService/hs-label", "", asStaff...).want(t, http.StatusOK); r.get("location") == nil {
		t.Errorf("hs-label as shelter-staff lacks its location: %s", r.body)
	}
	if r := srv.do(http.MethodGet, "/HealthcareService/hs-label", "", asB...).want(t, http.StatusOK); r.get("location") != nil {
		t.Errorf("hs-label as org-b shows its location: %s", r.body)
	}
}

// subsetted reports whether o is a resource tagged SUBSETTED.
func subsetted(o any) bool {
	obj, ok := o.(*jsontree.Object)
	if !ok || obj == nil {
		return false
	}
	meta, _ := obj.Object("meta")
	if meta == nil {
		return false
	}
	tags, _ := meta.Get("tag")
	for _, tg := range asArray(tags) {
		if c, _ := tg.(*jsontree.Object).String("code"); c == "SUBSETTED" {
			return true
		}
	}
	return false
}

func testRestrictedSearches(t *testing.T, srv *testServer) {
	tests := []struct {
		query   string
		caller  []string
		matches []string
		include []string
	}{
		// Root-restricted resource: absent, not counted, not chained through.
		{"/Practitioner?name=Hiddenfamily", asB, nil, nil},
		{"/Practitioner?name=Hiddenfamily", asA1, []string{"Practitioner/p-secret"}, nil},
		{"/Practitioner?identifier=http://example.org/npi|999", asB, nil, nil},
		{"/PractitionerRole?practitioner.name=Hiddenfamily", asB, nil, nil},
		{"/PractitionerRole?practitioner.name=Hiddenfamily", asA1, []string{"PractitionerRole/role-secret"}, nil},
		{"/Practitioner?_has:PractitionerRole:practitioner:identifier=r-secret", asB, nil, nil},
		{"/Practitioner?_has:PractitionerRole:practitioner:identifier=r-secret", asA1, []string{"Practitioner/p-secret"}, nil},
		{"/PractitionerRole?_id=role-secret&_include=PractitionerRole:practitioner", asB, []string{"PractitionerRole/role-secret"}, nil},
		{"/PractitionerRole?_id=role-secret&_include=PractitionerRole:practitioner", asA1, []string{"PractitionerRole/role-secret"}, []string{"Practitioner/p-secret"}},
		{"/Practitioner?_id=p-secret&_revinclude=VerificationResult:target", asA1, []string{"Practitioner/p-secret"}, []string{"VerificationResult/vr-1"}},
		{"/VerificationResult?target=Practitioner/p-secret", asB, nil, nil},
		{"/VerificationResult?target=Practitioner/p-secret", asA1, []string{"VerificationResult/vr-1"}, nil},
		// Element-level: hidden values never match.
		{"/Location?address=Ann%20Arbor", asB, nil, nil},
		{"/Location?address=Ann%20Arbor", asOperator, []string{"Location/loc-ws"}, nil},
		{"/Location?name=The%20W%20Womens%20Shelter", asB, []string{"Location/loc-ws"}, nil},
		{"/HealthcareService?location=Location/loc-ws", asB, nil, nil},
		{"/HealthcareService?location=Location/loc-ws", asOperator, []string{"HealthcareService/hcs-ws"}, nil},
		{"/HealthcareService?_id=hcs-ws&_include=HealthcareService:location", asB, []string{"HealthcareService/hcs-ws"}, nil},
		{"/HealthcareService?_id=hcs-ws&_include=HealthcareService:location", asOperator, []string{"HealthcareService/hcs-ws"}, []string{"Location/loc-ws"}},
		{"/Location?address=Teamtown", asB, nil, nil},
		{"/Location?address=Teamtown", asC, []string{"Location/loc-team"}, nil},
		{"/HealthcareService?location=Location/loc-team", asB, nil, nil},
		{"/HealthcareService?location=Location/loc-team", asStaff, []string{"HealthcareService/hs-label"}, nil},
		// A hidden value is missing for those it is hidden from.
		{"/Location?_id=loc-team&address:missing=true", asB, []string{"Location/loc-team"}, nil},
		{"/Location?_id=loc-team&address:missing=true", asC, nil, nil},
	}
	for _, tt := range tests {
		r := srv.do(http.MethodGet, tt.query, "", tt.caller...).want(t, http.StatusOK)
		got, inc := entries(r, "match"), entries(r, "include")
		slices.Sort(got)
		if !slices.Equal(got, tt.matches) || !slices.Equal(inc, tt.include) {
			t.Errorf("GET %s as %v: matches %v includes %v, want %v and %v", tt.query, tt.caller, got, inc, tt.matches, tt.include)
		}
		if strings.Contains(string(jsontree.Marshal(r.get("entry"))), "Hiddenfamily") && !slices.Contains(append(got, inc...), "Practitioner/p-secret") {
			t.Errorf("GET %s as %v leaks restricted data: %s", tt.query, tt.caller, r.body)
		}
	}
	// Totals count only what the caller may see.
	total := func(caller []string) float64 {
		r := srv.do(http.MethodGet, "/Practitioner?_total=accurate&_count=0", "", caller...).want(t, http.StatusOK)
		n, _ := r.get("total").(jsontree.Number).Float64()
		return n
	}
	if b, a := total(asB), total(asA1); a != b+1 {
		t.Errorf("Practitioner totals: org-b %v, org-a1 %v; want org-a1 one more", b, a)
	}
}

func testRestrictedHistory(t *testing.T, srv *testServer) {
	has := func(path string, caller []string, ref string) bool {
		r := srv.do(http.MethodGet, path, "", caller...).want(t, http.StatusOK)
		for _, e := range asArray(r.get("entry")) {
			if u, _ := e.(*jsontree.Object).String("fullUrl"); strings.HasSuffix(u, "/"+ref) {
				return true
			}
		}
		return false
	}
	for _, path := range []string{"/Practitioner/_history", "/_history?_count=1000", "/Practitioner/p-secret/_history"} {
		if has(path, asB, "Practitioner/p-secret") {
			t.Errorf("%s as org-b lists Practitioner/p-secret", path)
		}
		if !has(path, asA1, "Practitioner/p-secret") {
			t.Errorf("%s as org-a1 misses Practitioner/p-secret", path)
		}
	}
	r := srv.do(http.MethodGet, "/Location/loc-ws/_history", "", asB...).want(t, http.StatusOK)
	if strings.Contains(string(r.body), "Ann Arbor") {
		t.Errorf("loc-ws history as org-b shows the restricted address: %s", r.body)
	}
}

func testRestrictedElements(t *testing.T, srv *testServer) {
	for _, q := range []string{"/Location/loc-ws?_elements=address,name", "/Location?_id=loc-ws&_elements=address", "/Location?_id=loc-ws&_summary=true"} {
		r := srv.do(http.MethodGet, q, "", asB...).want(t, http.StatusOK)
		if strings.Contains(string(r.body), "Ann Arbor") {
			t.Errorf("GET %s as org-b brings the restricted address back: %s", q, r.body)
		}
	}
}

func testRestrictedWrites(t *testing.T, srv *testServer) {
	tests := []struct {
		name, method, path, body string
		caller                   []string
		status                   int
	}{
		{"replace hidden", http.MethodPut, "/Practitioner/p-secret", `{"resourceType": "Practitioner", "id": "p-secret", "name": [{"family": "Taken"}]}`, asB, http.StatusForbidden},
		{"delete hidden", http.MethodDelete, "/Practitioner/p-secret", "", asB, http.StatusForbidden},
		{"replace subsetted", http.MethodPut, "/Location/loc-ws", `{"resourceType": "Location", "id": "loc-ws", "name": "Overwritten"}`, asB, http.StatusForbidden},
		{"replace subsetted, matched by a condition", http.MethodPut, "/Location?name=The%20W%20Womens%20Shelter", `{"resourceType": "Location", "name": "Overwritten"}`, asB, http.StatusForbidden},
		{"delete hidden by a condition: nothing matches", http.MethodDelete, "/Practitioner?identifier=http://example.org/npi%7C999", "", asB, http.StatusOK},
		{"create restricted for others", http.MethodPost, "/Practitioner", `{"resourceType": "Practitioner",
			"contained": [` + consent("Organization/org-a", "") + `], "extension": [` + restrictionExt + `], "name": [{"family": "Other"}]}`, asB, http.StatusForbidden},
		{"create restricted for itself", http.MethodPost, "/Practitioner", `{"resourceType": "Practitioner",
			"contained": [` + consent("Organization/org-b", "") + `], "extension": [` + restrictionExt + `], "name": [{"family": "Mine"}]}`, asB, http.StatusCreated},
		{"dangling restriction", http.MethodPost, "/Practitioner", `{"resourceType": "Practitioner",
			"extension": [` + restrictionExt + `], "name": [{"family": "Broken"}]}`, asOperator, http.StatusBadRequest},
		{"restriction not a Consent", http.MethodPost, "/Practitioner", `{"resourceType": "Practitioner",
			"contained": [{"resourceType": "Organization", "id": "restrict", "name": "Not a policy"}],
			"extension": [` + restrictionExt + `], "name": [{"family": "Broken"}]}`, asOperator, http.StatusUnprocessableEntity},
		{"update permitted", http.MethodPut, "/Practitioner/p-secret", `{"resourceType": "Practitioner", "id": "p-secret",
			"contained": [` + consent("Organization/org-a", "") + `], "extension": [` + restrictionExt + `], "name": [{"family": "Hiddenfamily"}], "gender": "other"}`, asA1, http.StatusOK},
	}
	for _, tt := range tests {
		r := srv.do(tt.method, tt.path, tt.body, tt.caller...)
		if r.status != tt.status {
			t.Errorf("%s: %s %s = %d, want %d: %s", tt.name, tt.method, tt.path, r.status, tt.status, r.body)
		}
		if r.status >= 400 && (strings.Contains(string(r.body), "Hiddenfamily") || strings.Contains(string(r.body), "Ann Arbor")) {
			t.Errorf("%s: the refusal echoes restricted data: %s", tt.name, r.body)
		}
	}
	// Nothing the refusals touched changed.
	if v := srv.do(http.MethodGet, "/Location/loc-ws", "", asOperator...).want(t, http.StatusOK).str("meta", "versionId"); v != "1" {
		t.Errorf("loc-ws version %s after refused writes, want 1", v)
	}
	if v := srv.do(http.MethodGet, "/Practitioner/p-secret", "", asOperator...).want(t, http.StatusOK).str("meta", "versionId"); v != "2" {
		t.Errorf("p-secret version %s, want 2 (only the permitted update)", v)
	}
}
