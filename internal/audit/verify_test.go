package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// TestVerifyDetectsTampering edits, deletes and reorders records directly
// in the database, and edits the fields they are searched by: Verify must
// stop at the damaged record and say what happened to it.
func TestVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name string
		// tamper damages the chain around record 4.
		tamper  func(t *testing.T, s *stack)
		seq     int64
		problem string
	}{
		{"intact", func(*testing.T, *stack) {}, 0, ""},
		{"edited", func(t *testing.T, s *stack) {
			exec(t, s, "UPDATE audit_chain SET body = "+replaceBody(s)+" WHERE seq = 4")
		}, 4, "edited: its content"},
		{"deleted record", func(t *testing.T, s *stack) {
			exec(t, s, "UPDATE audit_chain SET body = NULL WHERE seq = 4")
		}, 4, "deleted"},
		{"searched field edited", func(t *testing.T, s *stack) {
			exec(t, s, "UPDATE audit_chain SET client = 'someone-else' WHERE seq = 4")
		}, 4, "edited: the fields"},
		{"searched reference removed", func(t *testing.T, s *stack) {
			exec(t, s, "UPDATE audit_chain SET entity = '' WHERE seq = 4")
		}, 4, "edited: the fields"},
		{"deleted link", func(t *testing.T, s *stack) {
			exec(t, s, "DELETE FROM audit_chain WHERE seq = 4")
		}, 4, "missing"},
		{"deleted link renumbered", func(t *testing.T, s *stack) {
			exec(t, s, "DELETE FROM audit_chain WHERE seq = 4")
			exec(t, s, "UPDATE audit_chain SET seq = seq - 1 WHERE seq > 4")
		}, 4, "out of order"},
		{"reordered", func(t *testing.T, s *stack) {
			exec(t, s, "UPDATE audit_chain SET seq = -1 WHERE seq = 4")
			exec(t, s, "UPDATE audit_chain SET seq = 4 WHERE seq = 5")
			exec(t, s, "UPDATE audit_chain SET seq = 5 WHERE seq = -1")
		}, 4, "out of order"},
	}
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					st, raw := open(t, b)
					s := newStack(t, st, raw, true)
					for _, id := range []string{"p1", "p2", "p3"} {
						if r := s.do("PUT", "/fhir/Practitioner/"+id, "a", "", prac(id, "Ann")); r.status != 201 {
							t.Fatalf("create = %d", r.status)
						}
						if r := s.do("GET", "/fhir/Practitioner/"+id, "a", "", ""); r.status != 200 {
							t.Fatalf("read = %d", r.status)
						}
					}
					c.tamper(t, s)
					rep, err := audit.Verify(context.Background(), st, nil)
					if err != nil {
						t.Fatal(err)
					}
					if c.problem == "" {
						if rep.Problem != nil || rep.Records != 6 || len(rep.Head) != 64 {
							t.Fatalf("intact chain: %+v", rep)
						}
						return
					}
					if rep.Problem == nil {
						t.Fatalf("tampering not detected: %+v", rep)
					}
					if rep.Problem.Seq != c.seq || !strings.Contains(rep.Problem.Error(), c.problem) {
						t.Errorf("problem = %v; want record %d %s", rep.Problem, c.seq, c.problem)
					}
					if rep.Records != c.seq-1 {
						t.Errorf("%d records passed before the problem, want %d", rep.Records, c.seq-1)
					}
				})
			}
		})
	}
}

// replaceBody is an expression that changes one character of the stored
// AuditEvent, as an intruder hiding an outcome would.
func replaceBody(s *stack) string { return replaceIn(s, `"outcome":"0"`, `"outcome":"4"`) }

// replaceIn is an expression that replaces from with to in a body column.
func replaceIn(s *stack, from, to string) string {
	if s.store.Backend() == "postgres" {
		return `convert_to(replace(convert_from(body, 'UTF8'), '` + from + `', '` + to + `'), 'UTF8')`
	}
	return `CAST(replace(CAST(body AS TEXT), '` + from + `', '` + to + `') AS BLOB)`
}

// TestDamagedRecordStillSearched edits a record's bytes: auditors'
// searches keep working and still find it by its fields, and verify
// names it.
func TestDamagedRecordStillSearched(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		for _, id := range []string{"p1", "p2", "p3"} {
			s.do("GET", "/fhir/Practitioner/"+id, "a", "", "")
		}
		exec(t, s, "UPDATE audit_chain SET body = "+replaceIn(s, "Practitioner/p2", "Practitioner/p9")+" WHERE seq = 2")
		r := s.do("GET", "/fhir/AuditEvent?entity=Practitioner/p2", "auditor", "", "")
		if n, _ := r.body["entry"].([]any); r.status != 200 || len(n) != 1 {
			t.Errorf("search after a damaged record = %d %.300s; want the record", r.status, r.raw)
		}
		rep, err := audit.Verify(context.Background(), s.store, nil)
		if err != nil || rep.Problem == nil || rep.Problem.Seq != 2 || !strings.Contains(rep.Problem.Error(), "edited") {
			t.Errorf("verify = %+v, %v; want record 2 edited", rep, err)
		}
	})
}
