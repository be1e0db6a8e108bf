package audit_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/postgres"
	"github.com/vhdir/vhdir/internal/store/sqlite"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// TestRecordsFromBeforeTheAuditStore: records chained before the chain
// kept their fields (bodies staged in their links, or stored as AuditEvent
// resources) get their fields when the store opens, leave no resource
// behind, still verify, and are found by auditors.
func TestRecordsFromBeforeTheAuditStore(t *testing.T) {
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			addr := b.New(t)
			st, raw := b.Open(t, addr), b.Raw(t, addr)
			s := newStack(t, st, raw, true)
			s.do("PUT", "/fhir/Practitioner/p1", "a", "", prac("p1", "Ann"))
			s.do("GET", "/fhir/Practitioner/p1", "b", "", "")
			s.do("GET", "/fhir/Practitioner/zz", "b", "", "")
			ctx := context.Background()
			before, err := st.AuditChain(ctx, 0, 100)
			if err != nil || len(before) != 3 {
				t.Fatalf("chain = %d links, %v", len(before), err)
			}
			// Record 1 as an AuditEvent resource (its body no longer in its
			// link), every record without its fields.
			exec(t, s, `INSERT INTO resources (type, id, version, seq, last_updated, deleted, idx_tables, guard, restricted, body) `+
				`SELECT 'AuditEvent', res_id, 1, 1000 + seq, recorded, false, 0, 0, false, body FROM audit_chain WHERE seq = 1`)
			exec(t, s, `UPDATE audit_chain SET body = NULL WHERE seq = 1`)
			exec(t, s, `UPDATE audit_chain SET recorded = 0, action = '', outcome = '', type_system = '', type_code = '', subtype_system = '', `+
				`subtype_code = '', client = '', address = '', source = '', policy = '', profile = '', request_id = '', agent = '', entity = ''`)
			exec(t, s, `DELETE FROM audit_ref`)
			st.Close()

			var logged bytes.Buffer
			reopened := openLogged(t, b.Name, addr, slog.New(slog.NewTextHandler(&logged, nil)))
			after, err := reopened.AuditChain(ctx, 0, 100)
			if err != nil || len(after) != 3 {
				t.Fatalf("chain after reopening = %d links, %v", len(after), err)
			}
			for i, l := range after {
				if l.Fields == nil || !l.Fields.Same(*before[i].Fields) || string(l.Body) != string(before[i].Body) {
					t.Errorf("record %d after reopening: fields %+v, body %d bytes; want as chained", l.Seq, l.Fields, len(l.Body))
				}
			}
			if !strings.Contains(logged.String(), "records=3") || !strings.Contains(logged.String(), "resources_removed=1") {
				t.Errorf("the fill said %q; want the 3 records it filled and the resource it removed", logged.String())
			}
			var left int
			if err := raw.QueryRow(`SELECT COUNT(*) FROM resources WHERE type = 'AuditEvent'`).Scan(&left); err != nil || left != 0 {
				t.Errorf("AuditEvent resources after reopening = %d, %v; want none", left, err)
			}
			if rep, err := audit.Verify(ctx, reopened, nil); err != nil || rep.Problem != nil || rep.Records != 3 {
				t.Errorf("verify = %+v, %v", rep, err)
			}
			s2 := newStack(t, reopened, raw, true)
			r := s2.do("GET", "/fhir/AuditEvent?entity=Practitioner/p1&_total=accurate", "auditor", "", "")
			if total, _ := r.body["total"].(float64); r.status != 200 || total != 2 {
				t.Errorf("records of Practitioner/p1 = %d %.300s; want 2", r.status, r.raw)
			}
		})
	}
}

// openLogged opens the database at addr of backend name, with log.
func openLogged(t *testing.T, name, addr string, log *slog.Logger) store.Store {
	t.Helper()
	var st store.Store
	var err error
	switch name {
	case "sqlite":
		st, err = sqlite.OpenWith(context.Background(), addr, sqlite.Options{Logger: log})
	default:
		st, err = postgres.OpenWith(context.Background(), addr, postgres.Options{Logger: log})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
