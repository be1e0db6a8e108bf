package audit_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/interaction"
)

// prac is a Practitioner with id (none when "") and given name.
func prac(id, given string) string {
	idPart := ""
	if id != "" {
		idPart = `"id":"` + id + `",`
	}
	return `{"resourceType":"Practitioner",` + idPart + `"name":[{"family":"Audit","given":["` + given + `"]}],"active":true}`
}

// TestEventsFieldByField checks the record of each kind of request.
func TestEventsFieldByField(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		created := s.do("PUT", "/fhir/Practitioner/p1", "a", "req-create", prac("p1", "Ann"))
		if created.status != 201 {
			t.Fatalf("create = %d %s", created.status, created.raw)
		}
		n := len(s.records())
		type step struct {
			name, method, path, client, body string
			status                           int
			check                            func(t *testing.T, recs []map[string]any)
		}
		one := func(t *testing.T, recs []map[string]any) map[string]any {
			t.Helper()
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1: %v", len(recs), recs)
			}
			return recs[0]
		}
		steps := []step{
			{"read", "GET", "/fhir/Practitioner/p1", "a", "", 200, func(t *testing.T, recs []map[string]any) {
				r := one(t, recs)
				want(t, r, "action", "R")
				want(t, r, "outcome", "0")
				want(t, r, "subtype.0.code", "read")
				want(t, r, "type.code", "rest")
				want(t, r, "meta.profile.0", "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Read")
				if got := entityWhat(r); !slices.Equal(got, []string{"Practitioner/p1/_history/1"}) {
					t.Errorf("entities = %v", got)
				}
			}},
			{"vread", "GET", "/fhir/Practitioner/p1/_history/1", "a", "", 200, func(t *testing.T, recs []map[string]any) {
				r := one(t, recs)
				want(t, r, "subtype.0.code", "vread")
				want(t, r, "action", "R")
			}},
			{"search", "GET", "/fhir/Practitioner?family=audit&_count=5", "a", "", 200, func(t *testing.T, recs []map[string]any) {
				r := one(t, recs)
				want(t, r, "action", "E")
				want(t, r, "subtype.0.code", "search-type")
				want(t, r, "meta.profile.0", "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Query")
				if q := entityQuery(t, r); q != "GET /fhir/Practitioner?family=audit&_count=5" {
					t.Errorf("query = %q", q)
				}
				if len(entityWhat(r)) != 0 {
					t.Errorf("a query record lists results: %v", entityWhat(r))
				}
			}},
			{"history", "GET", "/fhir/Practitioner/p1/_history", "a", "", 200, func(t *testing.T, recs []map[string]any) {
				r := one(t, recs)
				want(t, r, "subtype.0.code", "history-instance")
				if q := entityQuery(t, r); q != "GET /fhir/Practitioner/p1/_history" {
					t.Errorf("query = %q", q)
				}
			}},
			{"update", "PUT", "/fhir/Practitioner/p1", "b", prac("p1", "Anna"), 200, func(t *testing.T, recs []map[string]any) {
				r := one(t, recs)
				want(t, r, "action", "U")
				want(t, r, "subtype.0.code", "update")
				want(t, r, "agent.0.who.identifier.value", "b")
				want(t, r, "agent.2.who.reference", "Organization/org-b")
				if got := entityWhat(r); !slices.Equal(got, []string{"Practitioner/p1/_history/2"}) {
					t.Errorf("entities = %v", got)
				}
			}},
			{"create", "POST", "/fhir/Practitioner", "a", prac("", "Bo"), 201, func(t *testing.T, recs []map[string]any) {
				r := one(t, recs)
				want(t, r, "action", "C")
				want(t, r, "meta.profile.0", "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Create")
				if got := entityWhat(r); len(got) != 1 || !strings.HasSuffix(got[0], "/_history/1") {
					t.Errorf("entities = %v", got)
				}
			}},
			{"delete", "DELETE", "/fhir/Practitioner/p1", "a", "", 200, func(t *testing.T, recs []map[string]any) {
				r := one(t, recs)
				want(t, r, "action", "D")
				if got := entityWhat(r); !slices.Equal(got, []string{"Practitioner/p1/_history/3"}) {
					t.Errorf("entities = %v", got)
				}
			}},
			{"read gone", "GET", "/fhir/Practitioner/p1", "a", "", 410, func(t *testing.T, recs []map[string]any) {
				r := one(t, recs)
				want(t, r, "outcome", "4")
				if r["outcomeDesc"] == nil || at(r, "meta", "profile") != nil {
					t.Errorf("a failure needs outcomeDesc and no success profile: %v", r)
				}
			}},
			{"invalid create", "POST", "/fhir/Practitioner", "a", `{"resourceType":"Practitioner","active":"yes"}`, 400, func(t *testing.T, recs []map[string]any) {
				r := one(t, recs)
				want(t, r, "outcome", "4")
				want(t, r, "action", "C")
			}},
			{"no token", "GET", "/fhir/Practitioner/p1", "", "", 401, func(t *testing.T, recs []map[string]any) {
				r := one(t, recs)
				want(t, r, "outcome", "4")
				want(t, r, "agent.0.who.display", "unauthenticated client")
				if !strings.Contains(str(r, "outcomeDesc"), "no valid access token") {
					t.Errorf("outcomeDesc = %q", str(r, "outcomeDesc"))
				}
				if q := entityQuery(t, r); q != "GET /fhir/Practitioner/p1" {
					t.Errorf("query = %q", q)
				}
			}},
			{"audit is read-only", "POST", "/fhir/AuditEvent", "a", `{"resourceType":"AuditEvent"}`, 405, func(t *testing.T, recs []map[string]any) {
				want(t, one(t, recs), "outcome", "4")
			}},
			{"transaction", "POST", "/fhir", "a", `{"resourceType":"Bundle","type":"transaction","entry":[
				{"fullUrl":"urn:uuid:0f3b0c36-7a54-4d5c-9f5e-1a2b3c4d5e6f","resource":{"resourceType":"Organization","name":"T Org"},"request":{"method":"POST","url":"Organization"}},
				{"resource":{"resourceType":"Practitioner","id":"p2","active":true},"request":{"method":"PUT","url":"Practitioner/p2"}},
				{"request":{"method":"GET","url":"Practitioner/p2"}}]}`, 200, func(t *testing.T, recs []map[string]any) {
				var actions []string
				for _, r := range recs {
					actions = append(actions, str(r, "action")+":"+str(r, "subtype", "0", "code"))
				}
				// Writes and the transaction commit together; the GET runs after.
				if !slices.Equal(actions, []string{"C:create", "U:update", "E:transaction", "R:read"}) && !slices.Equal(actions, []string{"C:create", "C:create", "E:transaction", "R:read"}) {
					t.Errorf("transaction records = %v", actions)
				}
			}},
			{"batch", "POST", "/fhir", "a", `{"resourceType":"Bundle","type":"batch","entry":[
				{"request":{"method":"GET","url":"Practitioner/p2"}},
				{"request":{"method":"GET","url":"Practitioner/nope"}},
				{"request":{"method":"PATCH","url":"Practitioner/p2"}}]}`, 200, func(t *testing.T, recs []map[string]any) {
				var got []string
				for _, r := range recs {
					got = append(got, str(r, "subtype", "0", "code")+":"+str(r, "outcome"))
				}
				if !slices.Equal(got, []string{"read:0", "read:4", ":4", "batch:0"}) {
					t.Errorf("batch records = %v", got)
				}
				if len(recs) > 2 && !strings.Contains(str(recs[2], "outcomeDesc"), "PATCH") {
					t.Errorf("the refused entry's record says %q", str(recs[2], "outcomeDesc"))
				}
			}},
			{"batch with an invalid resource", "POST", "/fhir", "a", `{"resourceType":"Bundle","type":"batch","entry":[
				{"resource":{"resourceType":"Practitioner","id":"p3","active":true},"request":{"method":"PUT","url":"Practitioner/p3"}},
				{"resource":{"resourceType":"Practitioner","identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":1234567893}]},"request":{"method":"POST","url":"Practitioner"}},
				{"resource":{"resourceType":"Practitioner","id":"p4","active":true},"request":{"method":"PUT","url":"Practitioner/p4"}}]}`, 200, func(t *testing.T, recs []map[string]any) {
				var got []string
				for _, r := range recs {
					got = append(got, str(r, "subtype", "0", "code")+":"+str(r, "outcome"))
				}
				// The writes commit their records in their own transactions;
				// the refused entry and the batch are recorded at its end.
				if !slices.Equal(got, []string{"create:0", "create:0", ":4", "batch:0"}) {
					t.Errorf("batch records = %v", got)
				}
				if len(recs) > 2 && !strings.Contains(str(recs[2], "outcomeDesc"), "Bundle.entry[1].resource.identifier[0].value") {
					t.Errorf("the refused entry's record says %q; want the element named", str(recs[2], "outcomeDesc"))
				}
			}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				reqID := "req-" + strings.ReplaceAll(st.name, " ", "-")
				r := s.do(st.method, st.path, st.client, reqID, st.body)
				if r.status != st.status {
					t.Fatalf("%s %s = %d %s; want %d", st.method, st.path, r.status, r.raw, st.status)
				}
				recs := s.newRecords(n)
				n += len(recs)
				for _, rec := range recs {
					common(t, s, rec, reqID, st.client)
				}
				st.check(t, recs)
			})
		}
	})
}

// common checks what every record says: who, from where, which server,
// when, by which clock, and the X-Request-Id.
func common(t *testing.T, s *stack, r map[string]any, reqID, client string) {
	t.Helper()
	want(t, r, "resourceType", "AuditEvent")
	want(t, r, "recorded", "2026-05-06T07:08:09.000Z")
	want(t, r, "meta.lastUpdated", "2026-05-06T07:08:09.000Z")
	want(t, r, "extension.0.valueString", "fake")
	want(t, r, "source.site", "test-site")
	want(t, r, "source.observer.identifier.value", s.base+"/fhir")
	want(t, r, "agent.0.network.address", "127.0.0.1")
	want(t, r, "agent.1.network.address", s.base+"/fhir")
	if at(r, "agent", "0", "requestor") != true || at(r, "agent", "1", "requestor") != false {
		t.Errorf("requestor flags wrong: %v", r["agent"])
	}
	if got := requestIDOf(r); got != reqID {
		t.Errorf("X-Request-Id entity = %q, want %q", got, reqID)
	}
	if client != "" {
		want(t, r, "agent.0.who.identifier.value", client)
		want(t, r, "agent.0.policy.0", "urn:vhdir:access-token:tok-"+client)
		want(t, r, "agent.2.who.reference", "Organization/org-"+client)
	}
}

func want(t *testing.T, r map[string]any, path, value string) {
	t.Helper()
	if got := str(r, strings.Split(path, ".")...); got != value {
		t.Errorf("%s = %q, want %q", path, got, value)
	}
}

// TestFailClosed breaks the audit table: requests fail with 500, return no
// data and change nothing; once repaired, the chain is intact.
func TestFailClosed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		if r := s.do("PUT", "/fhir/Practitioner/p1", "a", "", prac("p1", "Ann")); r.status != 201 {
			t.Fatalf("create = %d", r.status)
		}
		if err := s.log.Check(context.Background()); err != nil {
			t.Fatalf("readiness before = %v", err)
		}
		exec(t, s, "ALTER TABLE audit_chain RENAME TO audit_chain_away")
		if err := s.log.Check(context.Background()); err == nil {
			t.Error("readiness with the audit chain gone = ok; want an error")
		}
		read := s.do("GET", "/fhir/Practitioner/p1", "a", "", "")
		if read.status != 500 || strings.Contains(string(read.raw), "Audit") {
			t.Errorf("read with the audit trail down = %d %s; want 500 without the resource", read.status, read.raw)
		}
		created := s.do("PUT", "/fhir/Practitioner/p9", "a", "", prac("p9", "Ann"))
		if created.status != 500 {
			t.Errorf("create with the audit trail down = %d %s", created.status, created.raw)
		}
		exec(t, s, "ALTER TABLE audit_chain_away RENAME TO audit_chain")
		if r := s.do("GET", "/fhir/Practitioner/p9", "a", "", ""); r.status != 404 {
			t.Errorf("the create that could not be audited left Practitioner/p9: %d", r.status)
		}
		if r := s.do("GET", "/fhir/Practitioner/p1", "a", "", ""); r.status != 200 {
			t.Errorf("read after repair = %d", r.status)
		}
		rep, err := audit.Verify(context.Background(), s.store, nil)
		if err != nil || rep.Problem != nil || rep.Records != int64(len(s.records())) {
			t.Fatalf("verify = %+v, %v", rep, err)
		}
	})
}

func exec(t *testing.T, s *stack, q string, args ...any) {
	t.Helper()
	if _, err := s.raw.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestGroupCommit commits records from many concurrent callers: every
// caller's record is in the chain once, in a valid chain, and the callers
// shared transactions (fewer commits than records), which Stats reports.
func TestGroupCommit(t *testing.T) {
	const callers = 64
	forEachBackend(t, func(t *testing.T, s *stack) {
		before := s.log.Stats()
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for i := range callers {
			wg.Go(func() {
				errs <- s.log.Commit(context.Background(), audit.ForLoad(&interaction.Caller{ClientID: "operator:group", Address: "localhost"}, fmt.Sprint("file-", i), map[string]int{"Practitioner": i}, 0))
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("commit: %v", err)
			}
		}
		got := s.log.Stats()
		records, batches := got.Records-before.Records, got.Batches-before.Batches
		if records != callers || batches < 1 || batches >= callers || got.Busy <= before.Busy {
			t.Errorf("stats = %d records in %d commits (busy %v); want %d records in fewer commits", records, batches, got.Busy-before.Busy, callers)
		}
		rep, err := audit.Verify(context.Background(), s.store, nil)
		if err != nil || rep.Problem != nil || rep.Records != callers {
			t.Fatalf("verify = %+v, %v; want %d records, no problem", rep, err, callers)
		}
	})
}

// TestMalformedRequestsRecorded: a request naming what cannot be a
// resource, or carrying text no record may hold, is answered as the bad
// request it is (never the 500 of a record that cannot be written) and
// leaves its record, which describes it by its request line.
func TestMalformedRequestsRecorded(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		n := len(s.records())
		tests := []struct {
			name, method, path, body string
			status                   int
			query                    string // the record's query entity; "" for none
		}{
			{"read of an unknown type", "GET", "/fhir/Spaceship/1", "", 404, "GET /fhir/Spaceship/1"},
			{"vread of an unknown type", "GET", "/fhir/Spaceship/1/_history/1", "", 404, "GET /fhir/Spaceship/1/_history/1"},
			{"read of an invalid id", "GET", "/fhir/Practitioner/a_b", "", 400, "GET /fhir/Practitioner/a_b"},
			{"update of an unknown type", "PUT", "/fhir/Spaceship/x", `{"resourceType":"Spaceship","id":"x"}`, 404, "PUT /fhir/Spaceship/x"},
			{"delete of an id with a form feed", "DELETE", "/fhir/Practitioner/a%0Cb", "", 400, "DELETE /fhir/Practitioner/a%0Cb"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := s.do(tt.method, tt.path, "a", "", tt.body)
				if r.status != tt.status {
					t.Fatalf("%s %s = %d %s; want %d", tt.method, tt.path, r.status, r.raw, tt.status)
				}
				recs := s.newRecords(n)
				n += len(recs)
				if len(recs) != 1 {
					t.Fatalf("%d records; want 1", len(recs))
				}
				want(t, recs[0], "outcome", "4")
				if q := entityQuery(t, recs[0]); q != tt.query {
					t.Errorf("query = %q; want %q", q, tt.query)
				}
				if what := entityWhat(recs[0]); len(what) != 0 {
					t.Errorf("the record names %v as a resource", what)
				}
			})
		}
	})
}

// TestRecordsHoldAnyText: text from the request that a FHIR string may
// not hold (a form feed, a NUL) reaches the records in a form they can
// hold (a batch entry refused before it was read, the client a refused
// token request claims), and a long text is cut.
func TestRecordsHoldAnyText(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		n := len(s.records())
		long := strings.Repeat("X", 10000)
		r := s.do("POST", "/fhir", "a", "", `{"resourceType":"Bundle","type":"batch","entry":[
			{"request":{"method":"G\fT","url":"Practitioner/p1"}},
			{"request":{"method":"`+long+`","url":"Practitioner/p1"}}]}`)
		if r.status != 200 {
			t.Fatalf("batch = %d %s; want 200", r.status, r.raw)
		}
		recs := s.newRecords(n)
		n += len(recs)
		if len(recs) != 3 {
			t.Fatalf("%d records; want one per entry and the batch's", len(recs))
		}
		want(t, recs[0], "outcome", "4")
		if d := str(recs[0], "entity", "1", "description"); d != "G\uFFFDT (refused before it was read)" {
			t.Errorf("entry 0's record describes it as %q", d)
		}
		if d := str(recs[1], "entity", "1", "description"); len(d) > 5000 || !strings.HasPrefix(d, "XXXX") || !strings.HasSuffix(d, "…") {
			t.Errorf("entry 1's record describes it in %d bytes: %.40q…; want it cut", len(d), d)
		}

		for _, iss := range []string{`a\fb`, `a\u0000b`} { // as JSON escapes them
			enc := base64.RawURLEncoding.EncodeToString
			assertion := enc([]byte(`{"alg":"RS384","typ":"JWT"}`)) + "." + enc([]byte(`{"iss":"`+iss+`","sub":"x"}`)) + "." + enc([]byte("sig"))
			form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion": {assertion}, "scope": {"system/*.rs"}}
			resp, err := s.ts.Client().PostForm(s.base+"/auth/token", form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Fatalf("token request claiming %s = %d; want 400", iss, resp.StatusCode)
			}
			recs := s.newRecords(n)
			n += len(recs)
			if len(recs) != 1 || str(recs[0], "agent", "0", "who", "identifier", "value") != "a\uFFFDb" {
				t.Errorf("records of a token request claiming %s = %v; want one naming a\uFFFDb", iss, recs)
			}
		}
	})
}
