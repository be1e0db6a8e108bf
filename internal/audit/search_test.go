package audit_test

import (
	"bytes"
	"context"
	"net/url"
	"testing"
)

// TestSearchForAuditors runs the core AuditEvent search parameters an
// auditor uses over the records of a few requests (scopes that admit the
// search are tested in package auth; here every client may search).
func TestSearchForAuditors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		s.do("PUT", "/fhir/Practitioner/p1", "a", "", prac("p1", "Ann")) // C by a
		s.do("GET", "/fhir/Practitioner/p1", "b", "", "")                // R by b
		s.do("GET", "/fhir/Practitioner/zz", "b", "", "")                // R by b, 404
		s.do("GET", "/fhir/Practitioner/p1", "", "", "")                 // 401
		cases := []struct {
			query string
			want  int
		}{
			{"action=C", 1},
			{"action=R", 2},
			{"outcome=4", 2},
			{"subtype=read", 2},
			{"subtype=http://hl7.org/fhir/restful-interaction|create", 1},
			{"type=rest", 4},
			{"address=127.0.0.1", 4},
			{"date=ge2026-05-06", 4},
			{"date=lt2026-05-06", 0},
			{"entity=Practitioner/p1/_history/1", 2},
			{"agent:identifier=urn:vhdir:client-id|b", 2},
			{"agent=Organization/org-a", 1},
			{"source:identifier=" + url.QueryEscape(s.base+"/fhir"), 4},
		}
		for _, c := range cases {
			t.Run(c.query, func(t *testing.T) {
				// Each search is audited too: count only records that
				// existed before it, by restricting to requests by a or b
				// and the unauthenticated one, not by the auditor.
				r := s.do("GET", "/fhir/AuditEvent?"+c.query+"&_total=accurate&_count=100", "auditor", "", "")
				if r.status != 200 {
					t.Fatalf("search = %d %s", r.status, r.raw)
				}
				n := 0
				entries, _ := r.body["entry"].([]any)
				for _, e := range entries {
					if str(e, "resource", "agent", "0", "who", "identifier", "value") != "auditor" {
						n++
					}
				}
				if n != c.want {
					t.Errorf("AuditEvent?%s found %d records, want %d", c.query, n, c.want)
				}
			})
		}
	})
}

// TestReadRecordJustCommitted: a record is readable, searchable and in
// the type's history as soon as its request is answered, byte for byte as
// chained.
func TestReadRecordJustCommitted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		s.do("GET", "/fhir/Practitioner/zz", "a", "", "")
		links, err := s.store.AuditChain(context.Background(), 0, 10)
		if err != nil || len(links) != 1 {
			t.Fatalf("chain = %d links, %v", len(links), err)
		}
		id, chained := links[0].ID, links[0].Body
		for _, path := range []string{"/fhir/AuditEvent/" + id, "/fhir/AuditEvent/" + id + "/_history/1"} {
			r := s.do("GET", path, "auditor", "", "")
			if r.status != 200 || !bytes.Equal(r.raw, chained) {
				t.Errorf("GET %s = %d %s; want the chained bytes", path, r.status, r.raw)
			}
		}
		if r := s.do("GET", "/fhir/AuditEvent/"+id+"/_history/2", "auditor", "", ""); r.status != 404 {
			t.Errorf("GET a second version of a record = %d; want 404", r.status)
		}
		r := s.do("GET", "/fhir/AuditEvent?_id="+id, "auditor", "", "")
		if n, _ := r.body["entry"].([]any); r.status != 200 || len(n) != 1 {
			t.Errorf("search by _id = %d %.300s", r.status, r.raw)
		}
		s.do("GET", "/fhir/Practitioner/zz", "a", "", "")
		r = s.do("GET", "/fhir/AuditEvent/_history", "auditor", "", "")
		if n, _ := r.body["entry"].([]any); r.status != 200 || len(n) < 4 {
			t.Errorf("type history = %d with %d entries; want the 4 records before it", r.status, len(n))
		}
	})
}
