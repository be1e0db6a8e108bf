package rest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestBatchRuns: a batch's writes commit together in runs, yet each entry
// is answered, stored, given Provenance and audited exactly as if sent
// alone. An entry sees the writes before it (a conditional create matches
// a resource created two entries earlier, a read sees a delete), one that
// fails in the middle of a run (If-Match) leaves the writes around it
// stored and makes no version, and one refused while parsed splits the
// run.
func TestBatchRuns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		srv.do(http.MethodPut, "/Practitioner/b1", `{"resourceType":"Practitioner","id":"b1","active":true}`).want(t, http.StatusCreated)
		before := total(t, srv, "/AuditEvent?_total=accurate&_count=0")
		batch := `{"resourceType":"Bundle","type":"batch","entry":[
		 {"resource":{"resourceType":"Practitioner","id":"b2","identifier":[{"system":"urn:x","value":"2"}]},"request":{"method":"PUT","url":"Practitioner/b2"}},
		 {"resource":{"resourceType":"Practitioner","active":false},"request":{"method":"POST","url":"Practitioner","ifNoneExist":"identifier=urn:x|2"}},
		 {"resource":{"resourceType":"Practitioner","id":"b1","active":false},"request":{"method":"PUT","url":"Practitioner/b1","ifMatch":"W/\"9\""}},
		 {"resource":{"resourceType":"Practitioner","id":"b3","active":true},"request":{"method":"PUT","url":"Practitioner/b3"}},
		 {"request":{"method":"DELETE","url":"Practitioner/b1"}},
		 {"request":{"method":"GET","url":"Practitioner/b1"}},
		 {"resource":{"resourceType":"Practitioner","id":"b3","active":true},"request":{"method":"PUT","url":"Practitioner/b3"}},
		 {"resource":{"resourceType":"Location","status":"active"},"request":{"method":"POST","url":"Organization"}},
		 {"resource":{"resourceType":"Organization","id":"o1","active":true},"request":{"method":"PUT","url":"Organization/o1"}}
		]}`
		r := srv.do(http.MethodPost, "/", batch).want(t, http.StatusOK)
		want := "201 Created,200 OK,412 Precondition Failed,201 Created,200 OK,410 Gone,200 OK,400 Bad Request,201 Created"
		if got := strings.Join(statuses(r), ","); got != want {
			t.Fatalf("batch statuses = %s; want %s", got, want)
		}
		// One record per entry, the failures' included, the Bundle's, and
		// the count's before it.
		if got := total(t, srv, "/AuditEvent?_total=accurate&_count=0") - before; got != 11 {
			t.Errorf("the batch left %d audit records; want 10", got-1)
		}
		if id := r.str("entry", "1", "resource", "id"); id != "b2" {
			t.Errorf("conditional create answered %q; want b2, created two entries before", id)
		}
		for _, tt := range []struct {
			query string
			want  int
		}{
			{"/Practitioner/b1/_history", 2},     // created, deleted: the failed update made no version
			{"/Practitioner/b3/_history", 1},     // the identical update made none either
			{"/Practitioner?_total=accurate", 2}, // b2, b3: the conditional create matched
			{"/Organization?_total=accurate", 1},
			{"/Provenance?_total=accurate", 5}, // b1 before, then b2, b3, b1's delete, o1
			{"/Provenance?target=Practitioner/b1&_total=accurate", 2},
		} {
			if got := total(t, srv, tt.query); got != tt.want {
				t.Errorf("%s: total %d; want %d", tt.query, got, tt.want)
			}
		}
		if !auditedRefusal(t, srv, "update", "If-Match") {
			t.Error("the failed update has no audit record naming its If-Match")
		}
	})
}

// total is the Bundle.total of a search.
func total(t *testing.T, srv *testServer, query string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(fmt.Sprint(srv.do(http.MethodGet, query, "").want(t, http.StatusOK).get("total")), &n); err != nil {
		t.Fatalf("%s: no total: %v", query, err)
	}
	return n
}
