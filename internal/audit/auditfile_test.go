package audit_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// TestWriteRecordsSurviveALostAuditCommit: on SQLite the chain lives in
// its own file, and a write commits its data first, then its records. A
// crash between the two commits, or an audit file that refuses the
// second (a full disk), leaves the data and a copy of the records beside
// it. The next write chains that copy before its own records; so does the
// store when it opens again. Either way the write is audited, verified
// and searchable.
func TestWriteRecordsSurviveALostAuditCommit(t *testing.T) {
	b := testdb.All[0]
	if b.Name != "sqlite" {
		t.Fatalf("testdb.All[0] = %s; want sqlite", b.Name)
	}
	for _, tt := range []struct {
		name string
		heal func(t *testing.T, s *stack, addr string, logged *bytes.Buffer) *stack
	}{
		{"the next write chains it", func(t *testing.T, s *stack, _ string, _ *bytes.Buffer) *stack {
			if r := s.do("PUT", "/fhir/Practitioner/p2", "a", "", prac("p2", "Bo")); r.status != 201 {
				t.Fatalf("create = %d %s", r.status, r.raw)
			}
			return s
		}},
		{"reopening chains it", func(t *testing.T, s *stack, addr string, logged *bytes.Buffer) *stack {
			s.store.Close()
			reopened := openLogged(t, b.Name, addr, slog.New(slog.NewTextHandler(logged, nil)))
			if !strings.Contains(logged.String(), "records=1") {
				t.Errorf("the store said %q; want the one record it chained", logged.String())
			}
			return newStack(t, reopened, b.Raw(t, addr), true)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr := b.New(t)
			st, raw := b.Open(t, addr), b.Raw(t, addr)
			s := newStack(t, st, raw, true)
			s.do("GET", "/fhir/Practitioner/zz", "a", "", "")
			if r := s.do("PUT", "/fhir/Practitioner/p1", "a", "", prac("p1", "Ann")); r.status != 201 {
				t.Fatalf("create = %d %s", r.status, r.raw)
			}
			ctx := context.Background()
			links, err := st.AuditChain(ctx, 0, 10)
			if err != nil || len(links) != 2 {
				t.Fatalf("chain = %d links, %v", len(links), err)
			}
			lost := links[1]
			// What the crash leaves: the audit file without the write's link.
			exec(t, s, "DELETE FROM audit_ref WHERE seq = ?", lost.Seq)
			exec(t, s, "DELETE FROM audit_chain WHERE seq = ?", lost.Seq)

			var logged bytes.Buffer
			s = tt.heal(t, s, addr, &logged)
			after, err := s.store.AuditChain(ctx, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(after, func(l store.AuditLink) bool { return l.ID == lost.ID })
			if i < 0 || !bytes.Equal(after[i].Body, lost.Body) {
				t.Fatalf("chain after healing: %d links, the write's record %s at %d; want it chained again, byte for byte", len(after), lost.ID, i)
			}
			rep, err := audit.Verify(ctx, s.store, nil)
			if err != nil || rep.Problem != nil || rep.Records != int64(len(after)) {
				t.Fatalf("verify = %+v, %v", rep, err)
			}
			r := s.do("GET", "/fhir/AuditEvent?entity=Practitioner/p1", "auditor", "", "")
			if n, _ := r.body["entry"].([]any); r.status != 200 || len(n) != 1 {
				t.Errorf("search for the write's record = %d %.300s", r.status, r.raw)
			}
			// A later write prunes the copies chained.
			if r := s.do("PUT", "/fhir/Practitioner/p3", "a", "", prac("p3", "Cy")); r.status != 201 {
				t.Fatalf("create = %d %s", r.status, r.raw)
			}
			var copies int
			if err := s.raw.QueryRow("SELECT COUNT(*) FROM audit_pending").Scan(&copies); err != nil || copies != 1 {
				t.Errorf("copies kept = %d, %v; want the last write's alone", copies, err)
			}
		})
	}
}
