package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// TestVerifyDetectsTampering edits, deletes and reorders records directly
// in the database, both while they are staged in their chain links and
// once the indexer has stored them as resources: Verify must stop at the
// damaged record and say what happened to it.
func TestVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name string
		// tamper damages the chain around record 4 (ids by position).
		// stored says whether the records are resources yet (else their
		// bodies are staged in their links).
		tamper  func(t *testing.T, s *stack, ids map[int64]string, stored bool)
		seq     int64
		problem string
	}{
		{"intact", func(*testing.T, *stack, map[int64]string, bool) {}, 0, ""},
		{"edited", func(t *testing.T, s *stack, ids map[int64]string, stored bool) {
			if stored {
				exec(t, s, "UPDATE resources SET body = "+replaceBody(s)+" WHERE type = 'AuditEvent' AND id = "+ph(s, 1), ids[4])
			} else {
				exec(t, s, "UPDATE audit_chain SET body = "+replaceBody(s)+" WHERE seq = 4")
			}
		}, 4, "edited"},
		{"deleted record", func(t *testing.T, s *stack, ids map[int64]string, stored bool) {
			if stored {
				exec(t, s, "DELETE FROM resources WHERE type = 'AuditEvent' AND id = "+ph(s, 1), ids[4])
			} else {
				exec(t, s, "UPDATE audit_chain SET body = NULL WHERE seq = 4")
			}
		}, 4, "deleted"},
		{"deleted link", func(t *testing.T, s *stack, ids map[int64]string, _ bool) {
			exec(t, s, "DELETE FROM audit_chain WHERE seq = 4")
		}, 4, "missing"},
		{"deleted link renumbered", func(t *testing.T, s *stack, ids map[int64]string, _ bool) {
			exec(t, s, "DELETE FROM audit_chain WHERE seq = 4")
			exec(t, s, "UPDATE audit_chain SET seq = seq - 1 WHERE seq > 4")
		}, 4, "out of order"},
		{"reordered", func(t *testing.T, s *stack, ids map[int64]string, _ bool) {
			exec(t, s, "UPDATE audit_chain SET seq = -1 WHERE seq = 4")
			exec(t, s, "UPDATE audit_chain SET seq = 4 WHERE seq = 5")
			exec(t, s, "UPDATE audit_chain SET seq = 5 WHERE seq = -1")
		}, 4, "out of order"},
	}
	for _, b := range testdb.All {
		for _, stored := range []bool{false, true} {
			t.Run(b.Name+map[bool]string{false: "/staged", true: "/stored"}[stored], func(t *testing.T) {
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
						links, err := st.AuditChain(context.Background(), 0, 100)
						if err != nil || len(links) != 6 {
							t.Fatalf("chain = %d links, %v", len(links), err)
						}
						ids := map[int64]string{}
						for _, l := range links {
							ids[l.Seq] = l.ID
						}
						if stored {
							if err := s.ix.CatchUp(context.Background()); err != nil {
								t.Fatal(err)
							}
							// Each record is kept once: the staged bodies are gone.
							var staged int
							if err := raw.QueryRow("SELECT COUNT(*) FROM audit_chain WHERE body IS NOT NULL").Scan(&staged); err != nil || staged != 0 {
								t.Fatalf("staged bodies after indexing = %d, %v; want 0", staged, err)
							}
						}
						c.tamper(t, s, ids, stored)
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
}

// ph is the n-th bind parameter of the stack's database.
func ph(s *stack, n int) string {
	if s.store.Backend() == "postgres" {
		return "$" + string(rune('0'+n))
	}
	return "?"
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

// TestDamagedRecordNotStored edits a record while it is staged in its
// link: the indexer stores the others and not that one (it would be
// served and searched), auditors' searches keep working, and verify still
// names it.
func TestDamagedRecordNotStored(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		for _, id := range []string{"p1", "p2", "p3"} {
			s.do("GET", "/fhir/Practitioner/"+id, "a", "", "")
		}
		links, err := s.store.AuditChain(context.Background(), 0, 10)
		if err != nil || len(links) != 3 {
			t.Fatalf("chain = %d links, %v", len(links), err)
		}
		exec(t, s, "UPDATE audit_chain SET body = "+replaceIn(s, "Practitioner/p2", "Practitioner/p9")+" WHERE seq = 2")
		if err := s.ix.CatchUp(context.Background()); err != nil {
			t.Fatalf("catch-up with a damaged record = %v; want the others stored", err)
		}
		for i, l := range links {
			_, err := s.store.Read(context.Background(), "AuditEvent", l.ID)
			if stored := err == nil; stored != (i != 1) {
				t.Errorf("record %d stored = %v (%v); want only the undamaged ones", l.Seq, stored, err)
			}
		}
		if r := s.do("GET", "/fhir/AuditEvent?outcome=4", "auditor", "", ""); r.status != 200 {
			t.Errorf("search after a damaged record = %d %s", r.status, r.raw)
		}
		rep, err := audit.Verify(context.Background(), s.store, nil)
		if err != nil || rep.Problem == nil || rep.Problem.Seq != 2 || !strings.Contains(rep.Problem.Error(), "edited") {
			t.Errorf("verify = %+v, %v; want record 2 edited", rep, err)
		}
	})
}
