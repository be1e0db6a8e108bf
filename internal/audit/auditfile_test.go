package audit_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// TestWriteRecordsSurviveALostAuditCommit: on SQLite the chain lives in
// its own file, and a write commits its data first, then its records. A
// crash between the two commits leaves the data and a copy of the
// records beside it; the store chains that copy when it opens again, so
// the write is still audited, verified and searchable.
func TestWriteRecordsSurviveALostAuditCommit(t *testing.T) {
	b := testdb.All[0]
	if b.Name != "sqlite" {
		t.Fatalf("testdb.All[0] = %s; want sqlite", b.Name)
	}
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
	st.Close()

	var logged bytes.Buffer
	reopened := openLogged(t, b.Name, addr, slog.New(slog.NewTextHandler(&logged, nil)))
	after, err := reopened.AuditChain(ctx, 0, 10)
	if err != nil || len(after) != 2 || after[1].ID != lost.ID || !bytes.Equal(after[1].Body, lost.Body) {
		t.Fatalf("chain after reopening = %d links, %v; want the write's record %s chained again", len(after), err, lost.ID)
	}
	if !strings.Contains(logged.String(), "records=1") {
		t.Errorf("the store said %q; want the one record it chained", logged.String())
	}
	rep, err := audit.Verify(ctx, reopened, nil)
	if err != nil || rep.Problem != nil || rep.Records != 2 {
		t.Fatalf("verify = %+v, %v", rep, err)
	}
	s2 := newStack(t, reopened, b.Raw(t, addr), true)
	r := s2.do("GET", "/fhir/AuditEvent?entity=Practitioner/p1", "auditor", "", "")
	if n, _ := r.body["entry"].([]any); r.status != 200 || len(n) != 1 {
		t.Errorf("search for the write's record = %d %.300s", r.status, r.raw)
	}
	// The next write prunes the copy, once chained.
	if r := s2.do("PUT", "/fhir/Practitioner/p2", "a", "", prac("p2", "Bo")); r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.raw)
	}
	var copies int
	if err := s2.raw.QueryRow("SELECT COUNT(*) FROM audit_pending").Scan(&copies); err != nil || copies != 1 {
		t.Errorf("copies kept = %d, %v; want the last write's alone", copies, err)
	}
}
