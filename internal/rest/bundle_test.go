package rest_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

func statuses(r *response) []string {
	var out []string
	for i := range asArray(r.get("entry")) {
		out = append(out, r.str("entry", strconv.Itoa(i), "response", "status"))
	}
	return out
}

func TestTransaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		srv.do(http.MethodPut, "/Practitioner/p1", `{"resourceType":"Practitioner","id":"p1","active":true,"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"999"}]}`).want(t, http.StatusCreated)
		srv.do(http.MethodPut, "/Location/old", `{"resourceType":"Location","id":"old","status":"active"}`).want(t, http.StatusCreated)
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[
		 {"fullUrl":"urn:uuid:9b1c3a8e-0000-4000-8000-000000000001","resource":{"resourceType":"Organization","active":true,"name":"New Org"},"request":{"method":"POST","url":"Organization"}},
		 {"fullUrl":"urn:uuid:9b1c3a8e-0000-4000-8000-000000000002","resource":{"resourceType":"PractitionerRole","active":true,
		    "organization":{"reference":"urn:uuid:9b1c3a8e-0000-4000-8000-000000000001"},
		    "practitioner":{"reference":"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|999"}},"request":{"method":"POST","url":"PractitionerRole"}},
		 {"resource":{"resourceType":"Location","id":"loc-a","status":"active","managingOrganization":{"reference":"urn:uuid:9b1c3a8e-0000-4000-8000-000000000001"}},"request":{"method":"PUT","url":"Location/loc-a"}},
		 {"request":{"method":"DELETE","url":"Location/old"}},
		 {"request":{"method":"GET","url":"PractitionerRole?practitioner=Practitioner/p1"}}
		]}`
		resp := srv.do(http.MethodPost, "", tx).want(t, http.StatusOK)
		if resp.str("type") != "transaction-response" {
			t.Fatalf("type = %q", resp.str("type"))
		}
		if got := strings.Join(statuses(resp), ","); got != "201 Created,201 Created,201 Created,200 OK,200 OK" {
			t.Errorf("statuses = %s", got)
		}
		orgLoc := resp.str("entry", "0", "response", "location")
		orgID := strings.Split(strings.TrimPrefix(orgLoc, srv.base+"/Organization/"), "/")[0]
		roleLoc := resp.str("entry", "1", "response", "location")
		role := srv.do(http.MethodGet, strings.TrimSuffix(roleLoc, "/_history/1"), "").want(t, http.StatusOK)
		if got := role.str("organization", "reference"); got != "Organization/"+orgID {
			t.Errorf("urn:uuid reference rewritten to %q; want Organization/%s", got, orgID)
		}
		if got := role.str("practitioner", "reference"); got != "Practitioner/p1" {
			t.Errorf("conditional reference resolved to %q; want Practitioner/p1", got)
		}
		loc := srv.do(http.MethodGet, "/Location/loc-a", "").want(t, http.StatusOK)
		if got := loc.str("managingOrganization", "reference"); got != "Organization/"+orgID {
			t.Errorf("Location reference = %q", got)
		}
		srv.do(http.MethodGet, "/Location/old", "").want(t, http.StatusGone)
		if got := resp.get("entry", "4", "resource", "total"); fmt.Sprint(got) != "1" {
			t.Errorf("GET entry after the writes found %v roles; want 1", got)
		}
	})
}

// TestTransactionAllOrNothing: a failing entry leaves nothing written.
func TestTransactionAllOrNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		tests := []struct {
			name   string
			second string
			status int
			diag   string
		}{
			{"version conflict", `{"resource":{"resourceType":"Organization","id":"o2","active":true},"request":{"method":"PUT","url":"Organization/o2","ifMatch":"W/\"5\""}}`, 412, "If-Match"},
			{"unresolved conditional reference", `{"resource":{"resourceType":"PractitionerRole","practitioner":{"reference":"Practitioner?identifier=none"}},"request":{"method":"POST","url":"PractitionerRole"}}`, 412, "matches 0"},
			{"url type differs from resource", `{"resource":{"resourceType":"Location","status":"active"},"request":{"method":"POST","url":"Organization"}}`, 400, "names Organization but the resource is a Location"},
			{"dangling urn:uuid", `{"resource":{"resourceType":"PractitionerRole","organization":{"reference":"urn:uuid:9b1c3a8e-0000-4000-8000-00000000dead"}},"request":{"method":"POST","url":"PractitionerRole"}}`, 400, "names no entry"},
			{"two writes of one resource", `{"resource":{"resourceType":"Organization","id":"o1","active":true},"request":{"method":"PUT","url":"Organization/o1"}}`, 400, "both write Organization/o1"},
			{"invalid resource", `{"resource":{"resourceType":"Organization","active":"yes"},"request":{"method":"POST","url":"Organization"}}`, 400, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tx := `{"resourceType":"Bundle","type":"transaction","entry":[
				 {"resource":{"resourceType":"Organization","id":"o1","active":true,"name":"First"},"request":{"method":"PUT","url":"Organization/o1"}},` + tt.second + `]}`
				r := srv.do(http.MethodPost, "", tx).want(t, tt.status)
				if d, _ := r.issue(); !strings.Contains(d, tt.diag) {
					t.Errorf("diagnostics = %q; want %q", d, tt.diag)
				}
				srv.do(http.MethodGet, "/Organization/o1", "").want(t, http.StatusNotFound)
			})
		}
	})
}

func TestTransactionConditionalCreateMatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		srv.do(http.MethodPut, "/Organization/known", `{"resourceType":"Organization","id":"known","active":true,"identifier":[{"system":"urn:oid:2.16.840.1.113883.4.4","value":"12-345"}]}`).want(t, http.StatusCreated)
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[
		 {"fullUrl":"urn:uuid:00000000-0000-4000-8000-0000000000aa","resource":{"resourceType":"Organization","active":true},"request":{"method":"POST","url":"Organization","ifNoneExist":"identifier=12-345"}},
		 {"resource":{"resourceType":"Endpoint","status":"active","connectionType":{"code":"hl7-fhir-rest"},"payloadType":[{"text":"any"}],"address":"https://x.example/fhir","managingOrganization":{"reference":"urn:uuid:00000000-0000-4000-8000-0000000000aa"}},"request":{"method":"POST","url":"Endpoint"}}
		]}`
		r := srv.do(http.MethodPost, "", tx).want(t, http.StatusOK)
		if got := strings.Join(statuses(r), ","); got != "200 OK,201 Created" {
			t.Errorf("statuses = %s; want the matched create to be 200", got)
		}
		ep := srv.do(http.MethodGet, strings.TrimSuffix(r.str("entry", "1", "response", "location"), "/_history/1"), "").want(t, http.StatusOK)
		if got := ep.str("managingOrganization", "reference"); got != "Organization/known" {
			t.Errorf("reference to the matched entry = %q; want Organization/known", got)
		}
	})
}

func TestBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		srv.do(http.MethodPut, "/Organization/o1", `{"resourceType":"Organization","id":"o1","active":true}`).want(t, http.StatusCreated)
		batch := `{"resourceType":"Bundle","type":"batch","entry":[
		 {"resource":{"resourceType":"Organization","active":true,"name":"B"},"request":{"method":"POST","url":"Organization"}},
		 {"resource":{"resourceType":"Location","status":"active"},"request":{"method":"POST","url":"Organization"}},
		 {"request":{"method":"GET","url":"Organization/o1"}},
		 {"request":{"method":"GET","url":"Organization/missing"}},
		 {"request":{"method":"DELETE","url":"Organization/o1"}},
		 {"resource":{"resourceType":"Organization","id":"o9","active":true,"partOf":{"reference":"https://other.example/fhir/Organization/77"}},"request":{"method":"PUT","url":"Organization/o9"}},
		 {"request":{"method":"PATCH","url":"Organization/o1"}}
		]}`
		r := srv.do(http.MethodPost, "/", batch).want(t, http.StatusOK)
		want := "201 Created,400 Bad Request,200 OK,404 Not Found,200 OK,201 Created,400 Bad Request"
		if got := strings.Join(statuses(r), ","); got != want {
			t.Errorf("batch statuses = %s; want %s", got, want)
		}
		if r.str("entry", "1", "response", "outcome", "resourceType") != "OperationOutcome" {
			t.Errorf("failed entry has no outcome: %v", r.get("entry", "1"))
		}
		if r.str("entry", "2", "resource", "id") != "o1" {
			t.Errorf("GET entry resource = %v", r.get("entry", "2", "resource"))
		}
		srv.do(http.MethodGet, "/Organization/o1", "").want(t, http.StatusGone)
		o9 := srv.do(http.MethodGet, "/Organization/o9", "").want(t, http.StatusOK)
		if got := o9.str("partOf", "reference"); got != "https://other.example/fhir/Organization/77" {
			t.Errorf("absolute reference to another server stored as %q", got)
		}
		srv.do(http.MethodPost, "/", `{"resourceType":"Bundle","type":"collection"}`).want(t, http.StatusBadRequest)
		srv.do(http.MethodPost, "/", `{"resourceType":"Organization"}`).want(t, http.StatusBadRequest)
	})
}

// mixedEntries are Bundle entries around one whose resource is invalid
// (identifier.value written as a JSON number): entry 1.
func mixedEntries(suffix string) string {
	return `[
	 {"resource":{"resourceType":"Practitioner","id":"good-` + suffix + `","active":true},"request":{"method":"PUT","url":"Practitioner/good-` + suffix + `"}},
	 {"resource":{"resourceType":"Practitioner","identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":1234567893}]},"request":{"method":"POST","url":"Practitioner"}},
	 {"resource":{"resourceType":"Organization","id":"org-` + suffix + `","active":true},"request":{"method":"PUT","url":"Organization/org-` + suffix + `"}}]`
}

// TestBatchInvalidEntry: a batch judges its entries one by one; one
// invalid resource fails its own entry, with an OperationOutcome naming
// the element, and the others are written. The same entries in a
// transaction fail it whole and write nothing.
func TestBatchInvalidEntry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		const bad = "Bundle.entry[1].resource.identifier[0].value"
		r := srv.do(http.MethodPost, "", `{"resourceType":"Bundle","type":"batch","entry":`+mixedEntries("b")+`}`).want(t, http.StatusOK)
		if got := strings.Join(statuses(r), ","); got != "201 Created,400 Bad Request,201 Created" {
			t.Errorf("batch statuses = %s; want the invalid entry alone refused", got)
		}
		if rt := r.str("entry", "1", "response", "outcome", "resourceType"); rt != "OperationOutcome" {
			t.Fatalf("refused entry = %v; want an OperationOutcome", r.get("entry", "1"))
		}
		if expr := r.str("entry", "1", "response", "outcome", "issue", "0", "expression", "0"); expr != bad {
			t.Errorf("refused entry's issue expression = %q; want %q", expr, bad)
		}
		if d := r.str("entry", "1", "response", "outcome", "issue", "0", "diagnostics"); !strings.Contains(d, "Bundle.entry[1]") || !strings.Contains(d, "expected string") {
			t.Errorf("refused entry's diagnostics = %q; want the entry and the problem named", d)
		}
		srv.do(http.MethodGet, "/Practitioner/good-b", "").want(t, http.StatusOK)
		srv.do(http.MethodGet, "/Organization/org-b", "").want(t, http.StatusOK)
		if n := srv.do(http.MethodGet, "/Practitioner?_total=accurate", "").want(t, http.StatusOK).get("total"); fmt.Sprint(n) != "1" {
			t.Errorf("Practitioners after the batch = %v; want 1 (the invalid one not stored)", n)
		}

		tx := srv.do(http.MethodPost, "", `{"resourceType":"Bundle","type":"transaction","entry":`+mixedEntries("t")+`}`).want(t, http.StatusBadRequest)
		if d, expr := tx.issue(); expr != bad || !strings.Contains(d, "Bundle.entry[1]") {
			t.Errorf("transaction issue = %q at %q; want entry 1 named at %s", d, expr, bad)
		}
		srv.do(http.MethodGet, "/Practitioner/good-t", "").want(t, http.StatusNotFound)
		srv.do(http.MethodGet, "/Organization/org-t", "").want(t, http.StatusNotFound)
	})
}

// TestBundleEntryLimit: a batch or transaction Bundle with more entries
// than --max-bundle-entries is refused whole before any entry runs (413,
// too-costly, naming the limit and the flag), writes nothing and is
// audited; one with exactly that many runs.
func TestBundleEntryLimit(t *testing.T) {
	const limit = 3
	bundle := func(typ, prefix string, n int) string {
		var entries []string
		for i := range n {
			entries = append(entries, fmt.Sprintf(`{"resource":{"resourceType":"Practitioner","id":"%s-%d","active":true},"request":{"method":"PUT","url":"Practitioner/%s-%d"}}`, prefix, i, prefix, i))
		}
		return `{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(entries, ",") + `]}`
	}
	tests := []struct {
		name, typ string
		entries   int
		status    int
	}{
		{"transaction at the limit", "transaction", limit, http.StatusOK},
		{"transaction over the limit", "transaction", limit + 1, http.StatusRequestEntityTooLarge},
		{"batch at the limit", "batch", limit, http.StatusOK},
		{"batch over the limit", "batch", limit + 1, http.StatusRequestEntityTooLarge},
	}
	for _, be := range testdb.All {
		t.Run(be.Name, func(t *testing.T) {
			srv := startWith(t, opener(t, be), func(cfg *server.Config) { cfg.MaxBundleEntries = limit })
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					prefix := fmt.Sprintf("p%d", i)
					r := srv.do(http.MethodPost, "", bundle(tt.typ, prefix, tt.entries)).want(t, tt.status)
					stored := http.StatusOK
					if tt.status == http.StatusOK {
						if got := len(statuses(r)); got != tt.entries {
							t.Errorf("response has %d entries; want %d", got, tt.entries)
						}
					} else {
						stored = http.StatusNotFound
						diag, _ := r.issue()
						if code := r.str("issue", "0", "code"); code != "too-costly" {
							t.Errorf("issue code = %q; want too-costly", code)
						}
						for _, want := range []string{fmt.Sprint(tt.entries), fmt.Sprint(limit), "--max-bundle-entries"} {
							if !strings.Contains(diag, want) {
								t.Errorf("diagnostics = %q; want it to name %q", diag, want)
							}
						}
						if !auditedRefusal(t, srv, tt.typ, "--max-bundle-entries") {
							t.Errorf("no AuditEvent records the refused %s", tt.typ)
						}
					}
					for j := range tt.entries {
						srv.do(http.MethodGet, fmt.Sprintf("/Practitioner/%s-%d", prefix, j), "").want(t, stored)
					}
				})
			}
		})
	}
}

// auditedRefusal reports whether an AuditEvent of the interaction
// (subtype) has an outcomeDesc that mentions text.
func auditedRefusal(t *testing.T, srv *testServer, interaction, text string) bool {
	t.Helper()
	r := srv.do(http.MethodGet, "/AuditEvent?_count=500", "").want(t, http.StatusOK)
	for i := range asArray(r.get("entry")) {
		e := strconv.Itoa(i)
		if r.str("entry", e, "resource", "subtype", "0", "code") == interaction && strings.Contains(r.str("entry", e, "resource", "outcomeDesc"), text) {
			return true
		}
	}
	return false
}
