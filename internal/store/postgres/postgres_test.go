package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/postgres"
	"github.com/vhdir/vhdir/internal/store/postgres/pgtest"
	"github.com/vhdir/vhdir/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() store.Store {
		url := pgtest.NewDatabase(t)
		return func() store.Store {
			db, err := postgres.Open(context.Background(), url)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			return db
		}
	})
}

// TestExportDir: with Options.ExportDir the export files live in a folder
// (shared by the nodes) and the export part of the suite passes the same.
func TestExportDir(t *testing.T) {
	storetest.RunExport(t, func(t *testing.T) func() store.Store {
		url := pgtest.NewDatabase(t)
		dir := t.TempDir()
		return func() store.Store {
			db, err := postgres.OpenWith(context.Background(), url, postgres.Options{ExportDir: dir})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			return db
		}
	})
}

// BenchmarkSnapshotScan: go test -run '^$' -bench SnapshotScan ./internal/store/postgres
func BenchmarkSnapshotScan(b *testing.B) {
	db, err := postgres.Open(context.Background(), pgtest.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchSnapshotScan(b, db, 50_000)
}

// TestChainAfterRowLocks: two write transactions of one process register
// the same new parameter group and append to the audit chain. The second
// registers it first; the first, which reaches the chain meanwhile, must
// not hold the chain while it waits for that row, or neither ever
// commits (a wait the database cannot see).
func TestChainAfterRowLocks(t *testing.T) {
	db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const param = 990001 // a parameter no group has yet
	write := func(id string, tx store.Tx) error {
		v := &store.Version{Type: "Practitioner", ID: id, VersionID: 1, LastUpdated: time.Now(), Body: []byte(`{"resourceType":"Practitioner","id":"` + id + `"}`)}
		return tx.Put(ctx, v, &store.Index{Tokens: []store.TokenValue{{Param: param, Code: "x"}}})
	}
	record := func(id string, tx store.Tx) error {
		_, err := tx.ChainAudit(ctx, []store.AuditItem{{ID: "ae-" + id, Body: []byte(`{"resourceType":"AuditEvent","id":"ae-` + id + `"}`),
			Fields: store.AuditFields{Recorded: time.Now(), Action: "C", Outcome: "0"}}})
		return err
	}
	firstPut, secondRegistered := make(chan struct{}), make(chan struct{})
	errs := make(chan error, 2)
	go func() {
		errs <- db.Update(ctx, func(tx store.Tx) error {
			if err := write("first", tx); err != nil {
				return err
			}
			close(firstPut)
			<-secondRegistered
			return record("first", tx)
		})
	}()
	go func() {
		errs <- db.Update(ctx, func(tx store.Tx) error {
			<-firstPut
			if err := write("second", tx); err != nil {
				return err
			}
			// A search flushes the transaction's rows: the group first.
			if _, err := tx.Search(ctx, &store.Query{Types: []string{"Practitioner"}, Count: 1}); err != nil {
				return err
			}
			close(secondRegistered)
			time.Sleep(100 * time.Millisecond) // the first reaches the chain
			return record("second", tx)
		})
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("a write failed: %v", err)
		}
	}
	links, err := db.AuditChain(context.Background(), 0, 10)
	if err != nil || len(links) != 2 {
		t.Fatalf("chain: %d links, %v; want 2", len(links), err)
	}
}

// TestStablePlans: the walk of one token runs on the pool that keeps
// generic plans, and every other page statement on the one that plans
// each run for its values.
func TestStablePlans(t *testing.T) {
	db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	const code, other = 990101, 990102
	err = db.Update(ctx, func(tx store.Tx) error {
		var vs []*store.Version
		var idxs []*store.Index
		for i := range 300 {
			id := fmt.Sprint("r", i)
			vs = append(vs, &store.Version{Type: "PractitionerRole", ID: id, VersionID: 1, LastUpdated: time.Now(), Body: []byte(`{"resourceType":"PractitionerRole","id":"` + id + `"}`)})
			idxs = append(idxs, &store.Index{Tokens: []store.TokenValue{{Param: code, Code: "common"}, {Param: other, Code: fmt.Sprint(i % 2)}}})
		}
		return tx.PutMany(ctx, vs, idxs)
	})
	if err != nil {
		t.Fatal(err)
	}
	token := func(p int64, c string) store.TokenMatch { return store.TokenMatch{Param: p, Code: &c} }
	tests := []struct {
		name  string
		where store.Cond
		want  string
	}{
		{"walk of one token", token(code, "common"), "force_generic_plan"},
		{"walk with a probe", store.And{token(code, "common"), token(other, "1")}, "force_custom_plan"},
		{"set", token(code, "rare"), "force_custom_plan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, pool, err := db.PageSQL(ctx, &store.Query{Types: []string{"PractitionerRole"}, Where: tt.where, Count: 20})
			if err != nil {
				t.Fatal(err)
			}
			var mode string
			if err := pool.QueryRowContext(ctx, "SHOW plan_cache_mode").Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if mode != tt.want {
				t.Errorf("page statement pool plans %s; want %s", mode, tt.want)
			}
		})
	}
}
