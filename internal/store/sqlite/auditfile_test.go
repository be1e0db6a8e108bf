package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/sqlstore"
)

// migrationsUpTo are the migrations numbered up to last.
func migrationsUpTo(t *testing.T, last int) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	files, err := fs.Glob(dialect.Migrations, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if n, _ := strconv.Atoi(strings.SplitN(f, "_", 2)[0]); n <= last {
			b, err := fs.ReadFile(dialect.Migrations, f)
			if err != nil {
				t.Fatal(err)
			}
			out[f] = &fstest.MapFile{Data: b}
		}
	}
	return out
}

// TestAuditChainMovesToItsFile: a database whose chain is inside it (as
// migration 0008 left it) opens with its chain moved, link for link, to
// the audit file, and the chain goes on from there.
func TestAuditChainMovesToItsFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vhdir.db")
	before := *dialect
	before.Migrations, before.BeforeMigration = migrationsUpTo(t, 8), nil
	w, err := sql.Open("sqlite", dsn(path, false, dataCacheKiB(false))+"&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	w.SetMaxOpenConns(1)
	old, err := sqlstore.Open(ctx, &before, sqlstore.Config{Write: w})
	if err != nil {
		t.Fatal(err)
	}
	record := func(id string) store.AuditItem {
		f := store.AuditFields{Recorded: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC), Action: "R", Outcome: "0", Client: "c",
			Refs: []store.AuditRef{{Type: "Organization", ID: "o1"}, {Type: "Organization", ID: "o2"}, {Entity: true, Type: "Practitioner", ID: id}}}
		return store.AuditItem{ID: id, Body: fmt.Appendf(nil, `{"resourceType":"AuditEvent","id":%q}`, id), Fields: f}
	}
	for _, id := range []string{"r1", "r2", "r3"} {
		if _, err := old.AppendAudit(ctx, []store.AuditItem{record(id)}); err != nil {
			t.Fatal(err)
		}
	}
	chained, err := old.AuditChain(ctx, 0, 10)
	if err != nil || len(chained) != 3 {
		t.Fatalf("chain before = %d links, %v", len(chained), err)
	}
	old.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	moved, err := db.AuditChain(ctx, 0, 10)
	if err != nil || len(moved) != 3 {
		t.Fatalf("chain after = %d links, %v", len(moved), err)
	}
	for i, l := range moved {
		c := chained[i]
		if l.Seq != c.Seq || l.ID != c.ID || !bytes.Equal(l.Hash, c.Hash) || !bytes.Equal(l.Body, c.Body) || l.Fields == nil || !l.Fields.Same(*c.Fields) {
			t.Errorf("link %d after the move = %+v; want %+v", i+1, l, c)
		}
	}
	plain, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	var left int
	if err := plain.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('audit_chain', 'audit_ref', 'audit_export_marks')`).Scan(&left); err != nil || left != 0 {
		t.Errorf("tables of the chain left in the database = %d, %v; want none", left, err)
	}
	links, err := db.AppendAudit(ctx, []store.AuditItem{record("r4")})
	if err != nil || len(links) != 1 || links[0].Seq != 4 || !bytes.Equal(links[0].Prev, chained[2].Hash) {
		t.Fatalf("append after the move = %+v, %v; want link 4 after link 3", links, err)
	}
}
