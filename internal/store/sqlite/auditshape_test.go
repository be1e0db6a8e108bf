package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/store/sqlite"
)

// BenchmarkAuditRowShape measures what each index an audit record
// touches adds to the commit every audited request waits for: one read's
// record appended in its own transaction as the audit store does (the
// head read, then its row), with the store's indexes, then without some
// of them, then the same row kept in audit_ref instead of in its own row's
// columns. The differences are what each B-tree costs a commit.
//
//	go test -run XXX -bench BenchmarkAuditRowShape -benchtime 3000x -count 2 ./internal/store/sqlite/
func BenchmarkAuditRowShape(b *testing.B) {
	body := strings.Repeat("x", 2100) // a read's record
	for _, v := range []struct {
		name     string
		drop     []string
		refsRows bool // the references as audit_ref rows, not columns
	}{
		{"as-stored", nil, false},
		{"without-client-index", []string{"DROP INDEX audit_chain_client"}, false},
		{"without-reference-indexes", []string{"DROP INDEX audit_chain_agent", "DROP INDEX audit_chain_entity"}, false},
		{"chain-row-alone", []string{"DROP INDEX audit_chain_client", "DROP INDEX audit_chain_agent", "DROP INDEX audit_chain_entity",
			"DROP INDEX audit_chain_recorded", "DROP INDEX audit_chain_res_id"}, false},
		{"references-as-audit_ref-rows", nil, true},
	} {
		b.Run(v.name, func(b *testing.B) {
			db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "vhdir.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			w := db.WritePool()
			ctx := context.Background()
			for _, q := range v.drop {
				if _, err := w.ExecContext(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
			head, err := w.PrepareContext(ctx, "SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1")
			if err != nil {
				b.Fatal(err)
			}
			insert, err := w.PrepareContext(ctx, "INSERT INTO audit_chain (seq, res_id, prev, hash, body, recorded, action, outcome, type_system, type_code, "+
				"subtype_system, subtype_code, client, address, source, policy, profile, request_id, agent, entity) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
			if err != nil {
				b.Fatal(err)
			}
			refs, err := w.PrepareContext(ctx, "INSERT INTO audit_ref (seq, entity, type, id, url) VALUES (?, false, 'Organization', 'acme', ''), (?, true, 'Practitioner', ?, '')")
			if err != nil {
				b.Fatal(err)
			}
			seq := int64(0)
			for b.Loop() {
				seq++
				tx, err := w.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				var last int64
				var prev []byte
				_ = tx.StmtContext(ctx, head).QueryRowContext(ctx).Scan(&last, &prev)
				hash := []byte(fmt.Sprintf("%032d", seq))
				agent, entity := "Organization/acme", fmt.Sprint("Practitioner/p", seq%2000)
				if v.refsRows {
					agent, entity = "", ""
				}
				if _, err := tx.StmtContext(ctx, insert).ExecContext(ctx, seq, fmt.Sprintf("%016x", time.Now().UnixNano()), append(prev, 0), hash, body,
					time.Now().UnixMicro(), "R", "0", "sys", "rest", "sys", "read", "acme", "127.0.0.1", "https://dir.example/fhir", "urn:vhdir:access-token:t",
					"profile", "req", agent, entity); err != nil {
					b.Fatal(err)
				}
				if v.refsRows {
					if _, err := tx.StmtContext(ctx, refs).ExecContext(ctx, seq, seq, fmt.Sprint("p", seq%2000)); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
