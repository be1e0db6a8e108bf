package auth_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/search"
)

// Scopes as the resource server applies them (auth.Authorize and
// auth.Access through internal/rest), on both backends.

// seedDirectory stores a small directory: organizations in two cities,
// practitioners, roles (r1 and r3 active, r2 not), locations, and an
// AuditEvent.
func seedDirectory(st *stack) {
	st.seed(
		`{"resourceType":"Organization","id":"o1","name":"Acme Clinic","address":[{"city":"Springfield"}]}`,
		`{"resourceType":"Organization","id":"o2","name":"Beta Hospital","address":[{"city":"Shelbyville"}]}`,
		`{"resourceType":"Practitioner","id":"p1","identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1111111111"}],"name":[{"family":"Ames"}]}`,
		`{"resourceType":"Practitioner","id":"p2","name":[{"family":"Baker"}]}`,
		`{"resourceType":"Practitioner","id":"p3","name":[{"family":"Cole"}]}`,
		`{"resourceType":"PractitionerRole","id":"r1","active":true,"practitioner":{"reference":"Practitioner/p1"},"organization":{"reference":"Organization/o1"}}`,
		`{"resourceType":"PractitionerRole","id":"r2","active":false,"practitioner":{"reference":"Practitioner/p2"},"organization":{"reference":"Organization/o2"}}`,
		`{"resourceType":"PractitionerRole","id":"r3","active":true,"practitioner":{"reference":"Practitioner/p3"},"organization":{"reference":"Organization/o2"}}`,
		`{"resourceType":"Location","id":"l1","name":"Main Campus"}`,
		`{"resourceType":"Location","id":"l2","name":"North Annex"}`,
		`{"resourceType":"AuditEvent","id":"a1","type":{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110110"},"recorded":"2026-05-06T07:08:09Z","agent":[{"requestor":true,"who":{"display":"seed"}}],"source":{"observer":{"display":"vhdir"}}}`,
	)
}

// searchResult is a searchset Bundle's matches and includes as Type/id.
type searchResult struct {
	matches, includes []string
}

func parseSearch(t *testing.T, body []byte) searchResult {
	t.Helper()
	var b struct {
		ResourceType, Type string
		Entry              []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			}
			Search struct{ Mode string }
		}
	}
	if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" || b.Type != "searchset" {
		t.Fatalf("not a searchset Bundle (%v): %s", err, body)
	}
	var r searchResult
	for _, e := range b.Entry {
		ref := e.Resource.ResourceType + "/" + e.Resource.ID
		switch e.Search.Mode {
		case "match":
			r.matches = append(r.matches, ref)
		case "include":
			r.includes = append(r.includes, ref)
		}
	}
	slices.Sort(r.matches)
	slices.Sort(r.includes)
	return r
}

// want checks a FHIR response's status; a 403 must be an OperationOutcome
// with code forbidden.
func want(t *testing.T, what string, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s = %d, want %d: %s", what, resp.StatusCode, status, body)
	}
	if status == http.StatusForbidden {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
			t.Errorf("%s: Content-Type = %q", what, ct)
		}
		wantIssue(t, body, "forbidden")
	}
}

// search runs a GET and returns its result, checking for 200.
func (s *stack) search(t *testing.T, path, token string) searchResult {
	t.Helper()
	resp, body := s.do(http.MethodGet, path, token, nil)
	want(t, "GET "+path, resp, body, http.StatusOK)
	return parseSearch(t, body)
}

// versionOf reads a resource with token and returns its versionId and
// body, or "" when it is not found.
func (s *stack) versionOf(t *testing.T, path, token string) (string, map[string]any) {
	t.Helper()
	resp, body := s.do(http.MethodGet, path, token, nil)
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		return "", nil
	}
	want(t, "GET "+path, resp, body, http.StatusOK)
	m := jsonObject(t, body)
	meta, _ := m["meta"].(map[string]any)
	v, _ := meta["versionId"].(string)
	return v, m
}

func eq(a, b []string) bool { return slices.Equal(a, b) }

// TestEnforcePermissions checks each SMART v1 and v2 permission against
// the interactions it allows and those it does not.
func TestEnforcePermissions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		seedDirectory(st)
		st.seed(
			`{"resourceType":"Practitioner","id":"pw","name":[{"family":"Untouched"}]}`,
			`{"resourceType":"Practitioner","id":"pu1","name":[{"family":"Before"}]}`,
			`{"resourceType":"Practitioner","id":"pu2","name":[{"family":"Before"}]}`,
			`{"resourceType":"Practitioner","id":"pd1","name":[{"family":"Doomed"}]}`,
			`{"resourceType":"Practitioner","id":"pd2","name":[{"family":"Doomed"}]}`,
			`{"resourceType":"Practitioner","id":"pd3","identifier":[{"system":"urn:test","value":"cond-delete"}],"name":[{"family":"Doomed"}]}`,
			`{"resourceType":"Practitioner","id":"pu3","identifier":[{"system":"urn:test","value":"cond-update"}],"name":[{"family":"Before"}]}`,
		)
		c := st.register("system/*.cruds system/AuditEvent.rs", false)
		tokens := map[string]string{}
		tok := func(scope string) string {
			if tokens[scope] == "" {
				tokens[scope] = st.token(c, scope)
			}
			return tokens[scope]
		}
		prac := func(id, family string) []byte {
			if id == "" {
				return []byte(`{"resourceType":"Practitioner","name":[{"family":"` + family + `"}]}`)
			}
			return []byte(`{"resourceType":"Practitioner","id":"` + id + `","name":[{"family":"` + family + `"}]}`)
		}
		org := []byte(`{"resourceType":"Organization","name":"New Org"}`)
		type call struct {
			method, path string
			body         []byte
			header       http.Header
			status       int
		}
		get := func(path string, status int) call { return call{http.MethodGet, path, nil, nil, status} }
		cases := []struct {
			scope string
			calls []call
		}{
			// v1
			{"system/Practitioner.read", []call{
				get("/fhir/Practitioner/p1", 200), get("/fhir/Practitioner?family=Ames", 200), get("/fhir/Practitioner/p1/_history", 200),
				get("/fhir/Organization/o1", 403), get("/fhir/Organization", 403),
				{"POST", "/fhir/Practitioner", prac("", "New"), nil, 403},
				{"PUT", "/fhir/Practitioner/pw", prac("pw", "Changed"), nil, 403},
				{"DELETE", "/fhir/Practitioner/pw", nil, nil, 403},
			}},
			{"system/*.read", []call{
				get("/fhir/Organization/o1", 200), get("/fhir/Location?name=Main", 200), get("/fhir/PractitionerRole", 200),
				{"POST", "/fhir/Organization", org, nil, 403},
			}},
			{"system/Practitioner.write", []call{
				{"POST", "/fhir/Practitioner", prac("", "WrittenV1"), nil, 201},
				get("/fhir/Practitioner/p1", 403), get("/fhir/Practitioner", 403),
			}},
			{"system/*.*", []call{
				{"POST", "/fhir/Organization", org, nil, 201},
				get("/fhir/Location/l1", 200),
			}},
			// v2, one letter at a time
			{"system/Practitioner.r", []call{
				get("/fhir/Practitioner/p1", 200), get("/fhir/Practitioner/p1/_history/1", 200), get("/fhir/Practitioner/p1/_history", 200),
				get("/fhir/Practitioner?family=Ames", 403), get("/fhir/Practitioner", 403), get("/fhir/Practitioner/_history", 403),
				{"POST", "/fhir/Practitioner/_search", nil, nil, 403},
			}},
			{"system/Practitioner.s", []call{
				get("/fhir/Practitioner?family=Ames", 200), get("/fhir/Practitioner/_history", 200),
				get("/fhir/Practitioner/p1", 403), get("/fhir/Practitioner/p1/_history/1", 403),
			}},
			{"system/*.rs", []call{
				get("/fhir/Practitioner/p1", 200), get("/fhir/Organization/o1", 200), get("/fhir/Location", 200), get("/fhir/PractitionerRole/r2", 200),
				{"POST", "/fhir/Practitioner", prac("", "New"), nil, 403},
				{"PUT", "/fhir/Practitioner/pw", prac("pw", "Changed"), nil, 403},
				{"DELETE", "/fhir/Practitioner/pw", nil, nil, 403},
			}},
			{"system/Practitioner.c", []call{
				{"POST", "/fhir/Practitioner", prac("", "Created"), nil, 201},
				{"PUT", "/fhir/Practitioner/pw", prac("pw", "Changed"), nil, 403},
				{"PUT", "/fhir/Practitioner/brand-new", prac("brand-new", "Upsert"), nil, 403}, // update-as-create needs u
				{"DELETE", "/fhir/Practitioner/pw", nil, nil, 403},
				{"POST", "/fhir/Practitioner", prac("", "Cond"), http.Header{"If-None-Exist": {"identifier=urn:test|cond-create"}}, 403},
				{"POST", "/fhir/Organization", org, nil, 403},
				get("/fhir/Practitioner/p1", 403),
			}},
			{"system/Practitioner.cs", []call{
				{"POST", "/fhir/Practitioner", []byte(`{"resourceType":"Practitioner","identifier":[{"system":"urn:test","value":"cond-create"}]}`), http.Header{"If-None-Exist": {"identifier=urn:test|cond-create"}}, 201},
				{"POST", "/fhir/Practitioner", []byte(`{"resourceType":"Practitioner","identifier":[{"system":"urn:test","value":"cond-create"}]}`), http.Header{"If-None-Exist": {"identifier=urn:test|cond-create"}}, 200},
			}},
			{"system/Practitioner.u", []call{
				{"PUT", "/fhir/Practitioner/pu1", prac("pu1", "After"), nil, 200},
				{"PUT", "/fhir/Practitioner/upserted", prac("upserted", "Upsert"), nil, 201},
				{"PUT", "/fhir/Practitioner?identifier=urn:test|cond-update", prac("", "After"), nil, 403}, // conditional: needs s
				{"POST", "/fhir/Practitioner", prac("", "New"), nil, 403},
				{"DELETE", "/fhir/Practitioner/pw", nil, nil, 403},
				get("/fhir/Practitioner/pu1", 403),
			}},
			{"system/Practitioner.us", []call{
				{"PUT", "/fhir/Practitioner?identifier=urn:test|cond-update", []byte(`{"resourceType":"Practitioner","identifier":[{"system":"urn:test","value":"cond-update"}],"name":[{"family":"After"}]}`), nil, 200},
			}},
			{"system/Practitioner.d", []call{
				{"DELETE", "/fhir/Practitioner/pd1", nil, nil, 200},
				{"DELETE", "/fhir/Practitioner?identifier=urn:test|cond-delete", nil, nil, 403}, // conditional: needs s
				{"PUT", "/fhir/Practitioner/pw", prac("pw", "Changed"), nil, 403},
				{"POST", "/fhir/Practitioner", prac("", "New"), nil, 403},
			}},
			{"system/Practitioner.ds", []call{
				{"DELETE", "/fhir/Practitioner?identifier=urn:test|cond-delete", nil, nil, 200},
			}},
			{"system/Practitioner.cru", []call{
				{"DELETE", "/fhir/Practitioner/pw", nil, nil, 403},
			}},
			{"system/*.cruds", []call{
				{"POST", "/fhir/Practitioner", prac("", "Everything"), nil, 201},
				{"PUT", "/fhir/Practitioner/pu2", prac("pu2", "After"), nil, 200},
				{"DELETE", "/fhir/Practitioner/pd2", nil, nil, 200},
				get("/fhir/Practitioner/pu2", 200),
				get("/fhir/AuditEvent", 403), // the wildcard does not reach it
			}},
		}
		for _, tc := range cases {
			t.Run(tc.scope, func(t *testing.T) {
				token := tok(tc.scope)
				for _, c := range tc.calls {
					req, _ := http.NewRequest(c.method, st.base+c.path, nil)
					if c.body != nil {
						req, _ = http.NewRequest(c.method, st.base+c.path, strings.NewReader(string(c.body)))
						req.Header.Set("Content-Type", "application/fhir+json")
					}
					if c.method == http.MethodPost && strings.HasSuffix(c.path, "/_search") {
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					}
					req.Header.Set("Authorization", "Bearer "+token)
					for k, vs := range c.header {
						req.Header[k] = vs
					}
					resp, body := st.send(req)
					want(t, c.method+" "+c.path, resp, body, c.status)
				}
			})
		}
		t.Run("wildcard reaches every served type but AuditEvent", func(t *testing.T) {
			reg, err := search.NewRegistry()
			if err != nil {
				t.Fatal(err)
			}
			token := tok("system/*.rs")
			for _, typ := range reg.Types() {
				status := http.StatusOK
				if typ == "AuditEvent" {
					status = http.StatusForbidden
				}
				resp, body := st.do(http.MethodGet, "/fhir/"+typ+"?_count=1", token, nil)
				want(t, typ+" search", resp, body, status)
			}
		})
		t.Run("effects", func(t *testing.T) {
			all := tok("system/*.cruds")
			if v, m := st.versionOf(t, "/fhir/Practitioner/pw", all); v != "1" || !strings.Contains(mustJSON(m), "Untouched") {
				t.Errorf("Practitioner/pw changed by refused writes: version %q %v", v, m)
			}
			for path, wantFamily := range map[string]string{"/fhir/Practitioner/pu1": "After", "/fhir/Practitioner/pu2": "After", "/fhir/Practitioner/upserted": "Upsert", "/fhir/Practitioner/pu3": "After"} {
				if _, m := st.versionOf(t, path, all); !strings.Contains(mustJSON(m), wantFamily) {
					t.Errorf("%s = %v, want family %s", path, m, wantFamily)
				}
			}
			for _, path := range []string{"/fhir/Practitioner/pd1", "/fhir/Practitioner/pd2", "/fhir/Practitioner/pd3", "/fhir/Practitioner/brand-new"} {
				if v, _ := st.versionOf(t, path, all); v != "" {
					t.Errorf("%s still exists (version %s)", path, v)
				}
			}
			for family, n := range map[string]int{"New": 0, "Cond": 0, "Created": 1, "WrittenV1": 1, "Everything": 1} {
				if got := st.search(t, "/fhir/Practitioner?family="+family, all); len(got.matches) != n {
					t.Errorf("Practitioners named %s: %v, want %d", family, got.matches, n)
				}
			}
			if got := st.search(t, "/fhir/Practitioner?identifier=urn:test|cond-create", all); len(got.matches) != 1 {
				t.Errorf("conditional creates made %v, want one", got.matches)
			}
			if got := st.search(t, "/fhir/Organization?name=New", all); len(got.matches) != 1 {
				t.Errorf("organizations created: %v, want one", got.matches)
			}
		})
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// grantedScope asks for scope and returns the granted scope and token.
func grantedScope(t *testing.T, st *stack, c *testClient, scope string) (string, string) {
	t.Helper()
	resp, body := st.tokenResponse(st.tokenForm(c, scope))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token for %q = %d: %s", scope, resp.StatusCode, body)
	}
	m := jsonObject(t, body)
	return m["scope"].(string), m["access_token"].(string)
}

// TestEnforceAuditEvent checks that only an explicit AuditEvent scope
// reaches the audit log.
func TestEnforceAuditEvent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		seedDirectory(st)
		t.Run("wildcard", func(t *testing.T) {
			c := st.register("system/*.rs", false)
			tok := st.token(c, "system/*.rs")
			for _, p := range []string{"/fhir/AuditEvent", "/fhir/AuditEvent/a1", "/fhir?_type=AuditEvent"} {
				resp, body := st.do(http.MethodGet, p, tok, nil)
				want(t, p, resp, body, http.StatusForbidden)
			}
			for _, r := range st.search(t, "/fhir", tok).matches {
				if strings.HasPrefix(r, "AuditEvent/") {
					t.Errorf("system search returned %s", r)
				}
			}
			// Asking by name is beyond the registration.
			resp, body := st.tokenResponse(st.tokenForm(c, "system/AuditEvent.rs"))
			wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_scope")
		})
		t.Run("explicit", func(t *testing.T) {
			c := st.register("system/AuditEvent.rs", false)
			scope, tok := grantedScope(t, st, c, "system/AuditEvent.rs")
			if scope != "system/AuditEvent.rs" {
				t.Errorf("scope = %q", scope)
			}
			if got := st.search(t, "/fhir/AuditEvent?_id=a1", tok).matches; !eq(got, []string{"AuditEvent/a1"}) {
				t.Errorf("AuditEvent search = %v", got)
			}
			resp, body := st.do(http.MethodGet, "/fhir/AuditEvent/a1", tok, nil)
			want(t, "read", resp, body, http.StatusOK)
			resp, body = st.do(http.MethodGet, "/fhir/Practitioner", tok, nil)
			want(t, "Practitioner search", resp, body, http.StatusForbidden)
		})
		t.Run("registered for both, asks the wildcard", func(t *testing.T) {
			c := st.register("system/*.rs system/AuditEvent.rs", false)
			scope, tok := grantedScope(t, st, c, "system/*.rs")
			if strings.Contains(scope, "AuditEvent") || scope != "system/*.rs" {
				t.Errorf("scope = %q, want system/*.rs alone", scope)
			}
			resp, body := st.do(http.MethodGet, "/fhir/AuditEvent", tok, nil)
			want(t, "AuditEvent search", resp, body, http.StatusForbidden)
			// Naming it gets it.
			scope, tok = grantedScope(t, st, c, "system/*.rs system/AuditEvent.rs")
			if scope != "system/*.rs system/AuditEvent.rs" {
				t.Errorf("scope = %q", scope)
			}
			if got := st.search(t, "/fhir/AuditEvent?_id=a1", tok).matches; !eq(got, []string{"AuditEvent/a1"}) {
				t.Errorf("AuditEvent search = %v", got)
			}
		})
	})
}

// TestEnforceQueryFilteredRead checks system/PractitionerRole.rs?active=true.
func TestEnforceQueryFilteredRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		seedDirectory(st)
		const scope = "system/PractitionerRole.rs?active=true"
		c := st.register(scope, false)
		granted, tok := grantedScope(t, st, c, scope)
		if granted != scope {
			t.Errorf("granted %q", granted)
		}
		for _, s := range []struct {
			path string
			want []string
		}{
			{"/fhir/PractitionerRole", []string{"PractitionerRole/r1", "PractitionerRole/r3"}},
			{"/fhir/PractitionerRole?active=true", []string{"PractitionerRole/r1", "PractitionerRole/r3"}},
			{"/fhir/PractitionerRole?active=false", nil},
			{"/fhir/PractitionerRole?_id=r2", nil},
			{"/fhir/PractitionerRole?organization=Organization/o2", []string{"PractitionerRole/r3"}},
		} {
			if got := st.search(t, s.path, tok).matches; !eq(got, s.want) {
				t.Errorf("%s = %v, want %v", s.path, got, s.want)
			}
		}
		resp, body := st.do(http.MethodPost, "/fhir/PractitionerRole/_search", tok, nil)
		want(t, "POST _search", resp, body, http.StatusOK)
		if got := parseSearch(t, body).matches; !eq(got, []string{"PractitionerRole/r1", "PractitionerRole/r3"}) {
			t.Errorf("POST _search = %v", got)
		}
		for _, c := range []struct {
			path   string
			status int
		}{
			{"/fhir/PractitionerRole/r1", 200},
			{"/fhir/PractitionerRole/r3", 200},
			{"/fhir/PractitionerRole/r2", 404},
			{"/fhir/PractitionerRole/r2/_history/1", 404},
			{"/fhir/PractitionerRole/r1/_history", 200},
			{"/fhir/PractitionerRole/r2/_history", 404},
			{"/fhir/PractitionerRole/_history", 403},
			{"/fhir/_history", 403},
			{"/fhir?_type=PractitionerRole", 403},
			{"/fhir/Practitioner", 403},
		} {
			resp, body := st.do(http.MethodGet, c.path, tok, nil)
			want(t, c.path, resp, body, c.status)
			if c.status == 404 {
				wantIssue(t, body, "not-found")
				if strings.Contains(string(body), "Practitioner/p2") {
					t.Errorf("%s leaks the hidden role: %s", c.path, body)
				}
			}
		}
	})
}

// TestEnforceIncludesAndChains checks that includes, chains and _has never
// reach a type the token cannot read.
func TestEnforceIncludesAndChains(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		seedDirectory(st)
		c := st.register("system/*.rs", false)
		rolesOnly := st.token(c, "system/PractitionerRole.rs")
		pracOnly := st.token(c, "system/Practitioner.rs")
		both := st.token(c, "system/Practitioner.rs system/PractitionerRole.rs")
		activeRoles := st.token(c, "system/Practitioner.rs system/PractitionerRole.rs?active=true")
		allRoles := []string{"PractitionerRole/r1", "PractitionerRole/r2", "PractitionerRole/r3"}
		allPracs := []string{"Practitioner/p1", "Practitioner/p2", "Practitioner/p3"}

		const inc = "/fhir/PractitionerRole?_include=PractitionerRole:practitioner"
		got := st.search(t, inc, rolesOnly)
		if !eq(got.matches, allRoles) || len(got.includes) != 0 {
			t.Errorf("roles-only include = %+v, want the roles and no includes", got)
		}
		got = st.search(t, inc, both)
		if !eq(got.matches, allRoles) || !eq(got.includes, allPracs) {
			t.Errorf("include with both = %+v", got)
		}
		got = st.search(t, inc, activeRoles)
		if !eq(got.matches, []string{"PractitionerRole/r1", "PractitionerRole/r3"}) || !eq(got.includes, []string{"Practitioner/p1", "Practitioner/p3"}) {
			t.Errorf("include under active=true = %+v", got)
		}
		got = st.search(t, "/fhir/Practitioner?_revinclude=PractitionerRole:practitioner", activeRoles)
		if !eq(got.matches, allPracs) || slices.Contains(got.includes, "PractitionerRole/r2") {
			t.Errorf("revinclude under active=true = %+v: the inactive role leaked", got)
		}
		got = st.search(t, "/fhir/Practitioner?_revinclude=PractitionerRole:practitioner", pracOnly)
		if !eq(got.matches, allPracs) || len(got.includes) != 0 {
			t.Errorf("practitioner-only revinclude = %+v", got)
		}
		got = st.search(t, "/fhir/Practitioner?_revinclude=PractitionerRole:practitioner", both)
		if !eq(got.includes, allRoles) {
			t.Errorf("revinclude with both = %+v", got)
		}

		for _, c := range []struct {
			name, path, token string
			status            int
			matches           []string
		}{
			{"chain through unreadable Organization", "/fhir/PractitionerRole?organization.address-city=Springfield", rolesOnly, 403, nil},
			{"chain on the role's own reference type", "/fhir/PractitionerRole?practitioner.family=Ames", rolesOnly, 403, nil},
			{"chain with both readable", "/fhir/PractitionerRole?practitioner.family=Ames", both, 200, []string{"PractitionerRole/r1"}},
			{"_has through unreadable role", "/fhir/Practitioner?_has:PractitionerRole:practitioner:active=true", pracOnly, 403, nil},
			{"_has through filtered role", "/fhir/Practitioner?_has:PractitionerRole:practitioner:active=false", activeRoles, 403, nil},
			{"_has with both readable", "/fhir/Practitioner?_has:PractitionerRole:practitioner:active=true", both, 200, []string{"Practitioner/p1", "Practitioner/p3"}},
			{"_has inactive with both readable", "/fhir/Practitioner?_has:PractitionerRole:practitioner:active=false", both, 200, []string{"Practitioner/p2"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				resp, body := st.do(http.MethodGet, c.path, c.token, nil)
				want(t, c.path, resp, body, c.status)
				if c.status == 200 {
					if got := parseSearch(t, body).matches; !eq(got, c.matches) {
						t.Errorf("matches = %v, want %v", got, c.matches)
					}
				}
			})
		}
	})
}

// TestEnforceSystemSearch checks that a search across types returns only
// what the token may search.
func TestEnforceSystemSearch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		seedDirectory(st)
		c := st.register("system/*.rs", false)
		pracOnly := st.token(c, "system/Practitioner.rs")
		pracLoc := st.token(c, "system/Practitioner.rs system/Location.rs")
		filtered := st.token(c, "system/Practitioner.rs system/PractitionerRole.rs?active=true")
		wildcard := st.token(c, "system/*.rs")

		for _, p := range []string{"/fhir?_type=Practitioner,Location", "/fhir?_type=Location", "/fhir/_search?_type=Organization"} {
			resp, body := st.do(http.MethodGet, p, pracOnly, nil)
			want(t, p, resp, body, http.StatusForbidden)
		}
		for _, c := range []struct {
			path, token string
			want        []string
		}{
			{"/fhir?_type=Practitioner", pracOnly, []string{"Practitioner/p1", "Practitioner/p2", "Practitioner/p3"}},
			{"/fhir", pracOnly, []string{"Practitioner/p1", "Practitioner/p2", "Practitioner/p3"}},
			{"/fhir?_count=100", pracLoc, []string{"Location/l1", "Location/l2", "Practitioner/p1", "Practitioner/p2", "Practitioner/p3"}},
			{"/fhir?_count=100", filtered, []string{"Practitioner/p1", "Practitioner/p2", "Practitioner/p3"}},
			{"/fhir?_count=100", wildcard, []string{"Location/l1", "Location/l2", "Organization/o1", "Organization/o2",
				"Practitioner/p1", "Practitioner/p2", "Practitioner/p3", "PractitionerRole/r1", "PractitionerRole/r2", "PractitionerRole/r3"}},
		} {
			got := st.search(t, c.path, c.token)
			if !eq(got.matches, c.want) {
				t.Errorf("%s = %v, want %v", c.path, got.matches, c.want)
			}
		}
		resp, body := st.do(http.MethodGet, "/fhir?_type=PractitionerRole", filtered, nil)
		want(t, "filtered type in _type", resp, body, http.StatusForbidden)
	})
}

// bundleStatuses returns each response entry's status of a batch or
// transaction response.
func bundleStatuses(t *testing.T, body []byte, typ string) []string {
	t.Helper()
	var b struct {
		ResourceType, Type string
		Entry              []struct {
			Response struct {
				Status  string
				Outcome *struct {
					Issue []struct{ Code string }
				}
			}
		}
	}
	if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" || b.Type != typ {
		t.Fatalf("not a %s Bundle (%v): %s", typ, err, body)
	}
	var out []string
	for _, e := range b.Entry {
		s := e.Response.Status
		if o := e.Response.Outcome; o != nil && len(o.Issue) > 0 && strings.HasPrefix(s, "4") {
			s += " " + o.Issue[0].Code
		}
		out = append(out, s)
	}
	return out
}

// TestEnforceBundles checks batch entries one by one and transactions as a
// whole.
func TestEnforceBundles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		seedDirectory(st)
		c := st.register("system/*.cruds", false)
		pracRS := st.token(c, "system/Practitioner.rs")
		pracAll := st.token(c, "system/Practitioner.cruds")
		all := st.token(c, "system/*.cruds")

		batch := []byte(`{"resourceType":"Bundle","type":"batch","entry":[
			{"request":{"method":"GET","url":"Practitioner/p1"}},
			{"request":{"method":"GET","url":"Organization/o1"}},
			{"request":{"method":"GET","url":"Practitioner?family=Ames"}},
			{"request":{"method":"POST","url":"Practitioner"},"resource":{"resourceType":"Practitioner","name":[{"family":"Batched"}]}}]}`)
		resp, body := st.do(http.MethodPost, "/fhir", pracRS, batch)
		want(t, "batch", resp, body, http.StatusOK)
		if got, w := bundleStatuses(t, body, "batch-response"), []string{"200 OK", "403 Forbidden forbidden", "200 OK", "403 Forbidden forbidden"}; !eq(got, w) {
			t.Errorf("batch statuses = %v, want %v", got, w)
		}

		tx := func(entries ...string) []byte {
			return []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`)
		}
		create := func(typ, body string) string {
			return `{"fullUrl":"urn:uuid:` + randomUUID() + `","request":{"method":"POST","url":"` + typ + `"},"resource":` + body + `}`
		}
		newPrac := create("Practitioner", `{"resourceType":"Practitioner","name":[{"family":"Txn"}]}`)
		newOrg := create("Organization", `{"resourceType":"Organization","name":"Txn Org"}`)
		for _, c := range []struct {
			name  string
			token string
			body  []byte
		}{
			{"forbidden create", pracAll, tx(newPrac, newOrg)},
			{"forbidden read", pracAll, tx(newPrac, `{"request":{"method":"GET","url":"Organization/o1"}}`)},
			{"forbidden delete", pracAll, tx(newPrac, `{"request":{"method":"DELETE","url":"Organization/o2"}}`)},
			{"no write permission", pracRS, tx(newPrac)},
		} {
			t.Run(c.name, func(t *testing.T) {
				resp, body := st.do(http.MethodPost, "/fhir", c.token, c.body)
				want(t, "transaction", resp, body, http.StatusForbidden)
				if got := st.search(t, "/fhir/Practitioner?family=Txn", all).matches; len(got) != 0 {
					t.Errorf("refused transaction wrote %v", got)
				}
				if v, _ := st.versionOf(t, "/fhir/Organization/o2", all); v != "1" {
					t.Errorf("Organization/o2 version = %q after a refused transaction", v)
				}
			})
		}
		t.Run("allowed", func(t *testing.T) {
			resp, body := st.do(http.MethodPost, "/fhir", pracAll, tx(newPrac, `{"request":{"method":"GET","url":"Practitioner/p1"}}`))
			want(t, "transaction", resp, body, http.StatusOK)
			if got := bundleStatuses(t, body, "transaction-response"); len(got) != 2 || got[0] != "201 Created" || got[1] != "200 OK" {
				t.Errorf("statuses = %v", got)
			}
			if got := st.search(t, "/fhir/Practitioner?family=Txn", all).matches; len(got) != 1 {
				t.Errorf("allowed transaction wrote %v, want one", got)
			}
		})
	})
}

// randomUUID makes a version 4 UUID for urn:uuid fullUrls.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// TestEnforceQueryFilteredWrite checks writes under
// system/PractitionerRole.cruds?active=true: the resource must qualify
// before and after.
func TestEnforceQueryFilteredWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *stack) {
		seedDirectory(st)
		const scope = "system/PractitionerRole.cruds?active=true"
		c := st.register(scope, false)
		granted, tok := grantedScope(t, st, c, scope)
		if granted != scope {
			t.Errorf("granted %q", granted)
		}
		all := st.token(st.register("system/*.cruds", false), "system/*.cruds")
		role := func(id, ident string, active bool) []byte {
			idPart := ""
			if id != "" {
				idPart = `"id":"` + id + `",`
			}
			a := "false"
			if active {
				a = "true"
			}
			return []byte(`{"resourceType":"PractitionerRole",` + idPart + `"identifier":[{"system":"urn:test","value":"` + ident + `"}],"active":` + a +
				`,"practitioner":{"reference":"Practitioner/p1"},"organization":{"reference":"Organization/o1"}}`)
		}
		count := func(ident string) int {
			t.Helper()
			return len(st.search(t, "/fhir/PractitionerRole?identifier=urn:test|"+ident, all).matches)
		}

		resp, body := st.do(http.MethodPost, "/fhir/PractitionerRole", tok, role("", "new-active", true))
		want(t, "create active", resp, body, http.StatusCreated)
		if n := count("new-active"); n != 1 {
			t.Errorf("active role stored %d times", n)
		}

		resp, body = st.do(http.MethodPost, "/fhir/PractitionerRole", tok, role("", "new-inactive", false))
		want(t, "create inactive", resp, body, http.StatusForbidden)
		if n := count("new-inactive"); n != 0 {
			t.Errorf("inactive role stored %d times", n)
		}

		resp, body = st.do(http.MethodPut, "/fhir/PractitionerRole/r1", tok, role("r1", "r1", false))
		want(t, "deactivate r1", resp, body, http.StatusForbidden)
		if v, m := st.versionOf(t, "/fhir/PractitionerRole/r1", all); v != "1" || m["active"] != true {
			t.Errorf("r1 after refused update: version %q active %v", v, m["active"])
		}

		resp, body = st.do(http.MethodPut, "/fhir/PractitionerRole/r2", tok, role("r2", "r2", true))
		want(t, "reactivate r2 (outside the scope before)", resp, body, http.StatusForbidden)

		resp, body = st.do(http.MethodDelete, "/fhir/PractitionerRole/r2", tok, nil)
		want(t, "delete inactive r2", resp, body, http.StatusForbidden)
		if v, _ := st.versionOf(t, "/fhir/PractitionerRole/r2", all); v != "1" {
			t.Errorf("r2 after refused delete: version %q", v)
		}

		resp, body = st.do(http.MethodPut, "/fhir/PractitionerRole?identifier=urn:test|new-active", tok, role("", "new-active", true))
		want(t, "conditional update", resp, body, http.StatusForbidden)
		resp, body = st.do(http.MethodDelete, "/fhir/PractitionerRole?identifier=urn:test|new-active", tok, nil)
		want(t, "conditional delete", resp, body, http.StatusForbidden)
		if n := count("new-active"); n != 1 {
			t.Errorf("conditional writes changed the role: %d", n)
		}

		// Within the scope: an active role stays active, and is deleted.
		resp, body = st.do(http.MethodPut, "/fhir/PractitionerRole/r3", tok, role("r3", "r3-updated", true))
		want(t, "update active r3", resp, body, http.StatusOK)
		if v, _ := st.versionOf(t, "/fhir/PractitionerRole/r3", all); v != "2" {
			t.Errorf("r3 version = %q after update", v)
		}
		resp, body = st.do(http.MethodDelete, "/fhir/PractitionerRole/r3", tok, nil)
		want(t, "delete active r3", resp, body, http.StatusOK)
		if v, _ := st.versionOf(t, "/fhir/PractitionerRole/r3", all); v != "" {
			t.Errorf("r3 still readable (version %q) after delete", v)
		}
		// A transaction is all or nothing under the scope too.
		txn := []byte(`{"resourceType":"Bundle","type":"transaction","entry":[
			{"fullUrl":"urn:uuid:` + randomUUID() + `","request":{"method":"POST","url":"PractitionerRole"},"resource":` + string(role("", "txn-active", true)) + `},
			{"fullUrl":"urn:uuid:` + randomUUID() + `","request":{"method":"POST","url":"PractitionerRole"},"resource":` + string(role("", "txn-inactive", false)) + `}]}`)
		resp, body = st.do(http.MethodPost, "/fhir", tok, txn)
		want(t, "transaction with an inactive role", resp, body, http.StatusForbidden)
		if n := count("txn-active") + count("txn-inactive"); n != 0 {
			t.Errorf("refused transaction stored %d roles", n)
		}
		// Other types are out of reach.
		resp, body = st.do(http.MethodPost, "/fhir/Practitioner", tok, []byte(`{"resourceType":"Practitioner"}`))
		want(t, "create Practitioner", resp, body, http.StatusForbidden)
	})
}
