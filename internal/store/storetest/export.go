package storetest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// exportCtx bounds a test that could deadlock.
func exportCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// stamped is a write as package directory makes it: stamped with the
// clock, or with the transaction's NotBefore when that is later.
type stamped struct {
	key       string // type/id/version
	notBefore time.Time
	at        time.Time
}

// write creates, updates or (with deleted) deletes typ/id in one
// transaction, stamping it as package directory does with a clock that
// reads clock.
func write(ctx context.Context, s store.Store, typ, id string, clock time.Time, idx *store.Index, deleted bool) (stamped, error) {
	var w stamped
	err := s.Update(ctx, func(tx store.Tx) error {
		next := int64(1)
		cur, err := tx.Current(ctx, typ, id)
		switch {
		case err == nil:
			next = cur.VersionID + 1
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		at := clock
		if nb := tx.NotBefore(); at.Before(nb) {
			at = nb
		}
		v := &store.Version{Type: typ, ID: id, VersionID: next, LastUpdated: at, Deleted: deleted}
		if !deleted {
			v.Body = body(typ, id, next)
		}
		if err := tx.Put(ctx, v, idx); err != nil {
			return err
		}
		w = stamped{key: fmt.Sprintf("%s/%s/%d", typ, id, next), notBefore: tx.NotBefore(), at: at}
		return nil
	})
	return w, err
}

func mustWrite(t *testing.T, ctx context.Context, s store.Store, typ, id string, clock time.Time, idx *store.Index, deleted bool) stamped {
	t.Helper()
	w, err := write(ctx, s, typ, id, clock, idx, deleted)
	if err != nil {
		t.Fatalf("write %s/%s: %v", typ, id, err)
	}
	return w
}

// scanKeys scans q and returns type/id/version of each resource, sorted,
// checking what each version holds.
func scanKeys(ctx context.Context, s store.Snapshot, q store.ExportScan) ([]string, error) {
	var out []string
	err := s.Scan(ctx, q, func(v *store.Version) error {
		key := fmt.Sprintf("%s/%s/%d", v.Type, v.ID, v.VersionID)
		switch {
		case v.Type != q.Type:
			return fmt.Errorf("%s: type %s scanning %s", key, v.Type, q.Type)
		case v.Deleted != q.Deleted:
			return fmt.Errorf("%s: Deleted = %v scanning Deleted = %v", key, v.Deleted, q.Deleted)
		case v.Deleted && v.Body != nil:
			return fmt.Errorf("%s: a delete with body %s", key, v.Body)
		case !v.Deleted && !bytes.Equal(v.Body, body(v.Type, v.ID, v.VersionID)):
			return fmt.Errorf("%s: body %s", key, v.Body)
		case v.Seq <= 0 || v.LastUpdated.IsZero() || v.LastUpdated.Location() != time.UTC:
			return fmt.Errorf("%s: seq %d, lastUpdated %v", key, v.Seq, v.LastUpdated)
		case !q.Since.IsZero() && v.LastUpdated.Before(q.Since):
			return fmt.Errorf("%s: updated %v, before _since %v", key, v.LastUpdated, q.Since)
		}
		out = append(out, key)
		return nil
	})
	slices.Sort(out)
	return out, err
}

func orgIndex(code string) *store.Index {
	return &store.Index{Tokens: []store.TokenValue{{Param: 21, System: "s", Code: code}}}
}

// testExportSnapshot: a snapshot keeps its view while another node (and
// this one) writes; those writes are stamped no earlier than its time,
// and the next snapshot's _since finds them although the writers' clock
// is behind.
func testExportSnapshot(t *testing.T, newDB NewDB) {
	open := newDB(t)
	a, b := open(), open()
	t.Cleanup(func() { a.Close(); b.Close() })
	ctx := exportCtx(t)
	ea := a

	mustWrite(t, ctx, a, "Organization", "o1", t0, orgIndex("x"), false)
	mustWrite(t, ctx, a, "Organization", "o2", t0, orgIndex("y"), false)
	mustWrite(t, ctx, a, "Organization", "o3", t0, orgIndex("x"), false)
	mustWrite(t, ctx, a, "Practitioner", "p1", t0, nil, false)
	mustWrite(t, ctx, a, "Practitioner", "p2", t0, nil, false)
	mustWrite(t, ctx, a, "Practitioner", "p2", t0, nil, true)
	if w := mustWrite(t, ctx, a, "Practitioner", "p3", t0, nil, false); !w.notBefore.IsZero() {
		t.Errorf("NotBefore before any snapshot = %v; want zero", w.notBefore)
	}

	// The writers' clock is an hour behind the exporter's.
	T1 := t0.Add(time.Hour)
	skewed := t0.Add(time.Second)
	var during []stamped
	err := ea.Snapshot(ctx, func() time.Time { return T1 }, func(snap store.Snapshot) error {
		if !snap.Time().Equal(T1) {
			t.Errorf("Time() = %v; want %v", snap.Time(), T1)
		}
		// Writes while the view is open, on the other node and this one.
		for _, w := range []struct {
			s       store.Store
			id      string
			deleted bool
		}{{b, "o1", false}, {b, "o2", true}, {a, "o4", false}, {a, "o3", false}} {
			st, err := write(ctx, w.s, "Organization", w.id, skewed, orgIndex("x"), w.deleted)
			if err != nil {
				return fmt.Errorf("write %s during the snapshot: %w", w.id, err)
			}
			during = append(during, st)
		}
		tests := []struct {
			q    store.ExportScan
			want string
		}{
			{store.ExportScan{Type: "Organization"}, "[Organization/o1/1 Organization/o2/1 Organization/o3/1]"},
			{store.ExportScan{Type: "Organization", Deleted: true}, "[]"},
			{store.ExportScan{Type: "Practitioner"}, "[Practitioner/p1/1 Practitioner/p3/1]"},
			{store.ExportScan{Type: "Practitioner", Deleted: true}, "[Practitioner/p2/2]"},
			{store.ExportScan{Type: "Organization", Cond: store.TokenMatch{Param: 21, Code: ptr("x")}}, "[Organization/o1/1 Organization/o3/1]"},
			{store.ExportScan{Type: "Location"}, "[]"},
		}
		for _, tt := range tests {
			got, err := scanKeys(ctx, snap, tt.q)
			if err != nil {
				return err
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("Scan(%+v) in the view = %v; want %s", tt.q, got, tt.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	for _, w := range during {
		if !w.notBefore.Equal(T1) || !w.at.Equal(T1) {
			t.Errorf("%s written after the snapshot: NotBefore %v, stamped %v; want both %v", w.key, w.notBefore, w.at, T1)
		}
	}

	// An exporter whose clock is behind the mark: times never go back.
	err = b.Snapshot(ctx, func() time.Time { return t0 }, func(snap store.Snapshot) error {
		if !snap.Time().Equal(T1) {
			t.Errorf("Time() with an earlier clock = %v; want the previous mark %v", snap.Time(), T1)
		}
		tests := []struct {
			q    store.ExportScan
			want string
		}{
			{store.ExportScan{Type: "Organization"}, "[Organization/o1/2 Organization/o3/2 Organization/o4/1]"},
			{store.ExportScan{Type: "Organization", Deleted: true}, "[Organization/o2/2]"},
			// The delta since the first snapshot is exactly what was
			// written after it, whatever the writers' clock said.
			{store.ExportScan{Type: "Organization", Since: T1}, "[Organization/o1/2 Organization/o3/2 Organization/o4/1]"},
			{store.ExportScan{Type: "Organization", Since: T1, Deleted: true}, "[Organization/o2/2]"},
			{store.ExportScan{Type: "Organization", Since: T1.Add(time.Millisecond)}, "[]"},
			{store.ExportScan{Type: "Practitioner", Since: T1}, "[]"},
			{store.ExportScan{Type: "Practitioner", Since: t0}, "[Practitioner/p1/1 Practitioner/p3/1]"},
			{store.ExportScan{Type: "Practitioner", Since: t0, Deleted: true}, "[Practitioner/p2/2]"},
			// Cond is ignored with Deleted.
			{store.ExportScan{Type: "Organization", Deleted: true, Cond: store.TokenMatch{Param: 21, Code: ptr("none")}}, "[Organization/o2/2]"},
			{store.ExportScan{Type: "Organization", Since: T1, Cond: store.TokenMatch{Param: 21, Code: ptr("x")}}, "[Organization/o1/2 Organization/o3/2 Organization/o4/1]"},
			{store.ExportScan{Type: "Organization", Cond: store.Not{X: store.IDIs{IDs: []string{"o1", "o3"}}}}, "[Organization/o4/1]"},
		}
		for _, tt := range tests {
			got, err := scanKeys(ctx, snap, tt.q)
			if err != nil {
				return err
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("Scan(%+v) = %v; want %s", tt.q, got, tt.want)
			}
		}
		// fn's error stops the scan and comes back; scans do not overlap.
		stop := errors.New("stop")
		calls := 0
		err := snap.Scan(ctx, store.ExportScan{Type: "Organization"}, func(*store.Version) error {
			calls++
			if err := snap.Scan(ctx, store.ExportScan{Type: "Practitioner"}, func(*store.Version) error { return nil }); err == nil {
				t.Errorf("a Scan inside a Scan of the same snapshot succeeded; want an error")
			}
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("Scan with fn failing = %v after %d calls; want stop after 1", err, calls)
		}
		if _, err := scanKeys(ctx, snap, store.ExportScan{}); err == nil {
			t.Errorf("Scan without a type succeeded; want an error")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("second Snapshot: %v", err)
	}
	if w := mustWrite(t, ctx, a, "Organization", "o5", skewed, nil, false); !w.notBefore.Equal(T1) {
		t.Errorf("NotBefore after a snapshot at an earlier clock = %v; want %v", w.notBefore, T1)
	}
	// fn's error is Snapshot's.
	boom := errors.New("boom")
	if err := ea.Snapshot(ctx, func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }, func(store.Snapshot) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Snapshot with fn failing = %v; want boom", err)
	}
}

// waitQueued waits, on PostgreSQL, until n lock requests on export_mark
// are waiting (the snapshot's, then writers' behind it); elsewhere it
// sleeps a little. The suite needs the SQL pool for that.
func waitQueued(t *testing.T, ctx context.Context, s store.Store, n int) bool {
	t.Helper()
	p, ok := s.(interface{ WritePool() *sql.DB })
	if s.Backend() != "postgres" || !ok {
		time.Sleep(200 * time.Millisecond)
		return false
	}
	for {
		var waiting int
		err := p.WritePool().QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation `+
			`WHERE c.relname = 'export_mark' AND l.locktype = 'relation' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND NOT l.granted`).Scan(&waiting)
		if err != nil {
			t.Fatalf("pg_locks: %v", err)
		}
		if waiting >= n {
			return true
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d queued lock requests: %v", n, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// testExportSnapshotWaits: a snapshot taken while a write transaction is
// in flight waits for it and includes it; a writer arriving meanwhile
// waits for the snapshot and reads its mark.
func testExportSnapshotWaits(t *testing.T, newDB NewDB) {
	for _, twoNodes := range []bool{false, true} {
		t.Run(map[bool]string{false: "one handle", true: "two handles"}[twoNodes], func(t *testing.T) {
			open := newDB(t)
			a := open()
			b := a
			if twoNodes {
				b = open()
			}
			t.Cleanup(func() {
				a.Close()
				if twoNodes {
					b.Close()
				}
			})
			ctx := exportCtx(t)
			mustWrite(t, ctx, a, "Organization", "before", t0, nil, false)

			release, writer := holdWrite(ctx, a, "inflight")

			T := t0.Add(time.Hour)
			var inView []string
			snapshot := make(chan error, 1)
			eb := b
			go func() {
				snapshot <- eb.Snapshot(ctx, func() time.Time { return T }, func(snap store.Snapshot) error {
					var err error
					inView, err = scanKeys(ctx, snap, store.ExportScan{Type: "Organization"})
					return err
				})
			}()
			snapStart := time.Now()
			queued := waitQueued(t, ctx, b, 1)
			select {
			case err := <-snapshot:
				t.Fatalf("Snapshot returned (%v) while a write transaction was in flight", err)
			default:
			}
			// A writer arriving now.
			late := make(chan stamped, 1)
			go func() {
				w, err := write(ctx, a, "Organization", "late", t0, nil, false)
				if err != nil {
					t.Errorf("late write: %v", err)
				}
				late <- w
			}()
			if queued {
				waitQueued(t, ctx, b, 2)
			}
			select {
			case err := <-snapshot:
				t.Fatalf("Snapshot returned (%v) while a write transaction was in flight", err)
			default:
			}
			// The snapshot gives up waiting after a while (a second on
			// PostgreSQL) and lets queued writers pass.
			slow := time.Since(snapStart) > 800*time.Millisecond
			close(release)
			if err := <-writer; err != nil {
				t.Fatalf("in-flight write: %v", err)
			}
			if err := <-snapshot; err != nil {
				t.Fatalf("Snapshot: %v", err)
			}
			lw := <-late
			if !slices.Contains(inView, "Organization/before/1") || !slices.Contains(inView, "Organization/inflight/1") {
				t.Errorf("view = %v; want the write that was in flight and the one before", inView)
			}
			// The late writer either went first (and is in the view) or
			// read the snapshot's mark.
			lateSeen := slices.Contains(inView, lw.key)
			if !lateSeen && (!lw.notBefore.Equal(T) || !lw.at.Equal(T)) {
				t.Errorf("write not in the view has NotBefore %v, stamped %v; want %v", lw.notBefore, lw.at, T)
			}
			if lateSeen && !lw.notBefore.IsZero() {
				t.Errorf("write in the view has NotBefore %v; want zero (it began before the snapshot)", lw.notBefore)
			}
			// On PostgreSQL the order is certain: the writer queued behind
			// the snapshot's lock, and got the row the snapshot updated.
			if queued && lateSeen && !slow {
				t.Errorf("the writer queued behind the snapshot is in its view")
			}
		})
	}
}

// testExportSnapshotLongWriter: a snapshot waiting for a long write
// transaction does not hold the other writers back for its whole length;
// it gives up for a while and is taken once the long one ends.
func testExportSnapshotLongWriter(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	if s.Backend() == "sqlite" {
		t.Skip("SQLite runs one write transaction at a time: no writer can pass a long one anyway")
	}
	ctx := exportCtx(t)
	release, long := holdWrite(ctx, s, "long")
	T := t0.Add(time.Hour)
	var inView []string
	snapshot := make(chan error, 1)
	go func() {
		snapshot <- s.Snapshot(ctx, func() time.Time { return T }, func(snap store.Snapshot) error {
			var err error
			inView, err = scanKeys(ctx, snap, store.ExportScan{Type: "Organization"})
			return err
		})
	}()
	waitQueued(t, ctx, s, 1)
	begin := time.Now()
	w := mustWrite(t, ctx, s, "Organization", "short", t0, nil, false)
	t.Logf("a write behind the waiting snapshot took %v", time.Since(begin))
	select {
	case err := <-snapshot:
		t.Fatalf("Snapshot returned (%v) while a write transaction was in flight", err)
	default:
	}
	close(release)
	if err := <-long; err != nil {
		t.Fatalf("long write: %v", err)
	}
	if err := <-snapshot; err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if fmt.Sprint(inView) != "[Organization/long/1 Organization/short/1]" || !w.notBefore.IsZero() {
		t.Errorf("view = %v, the short write's NotBefore %v; want both writes in the view, the short one before the mark", inView, w.notBefore)
	}
}

// testExportSnapshotUnderLoad takes a snapshot while writers on two nodes
// keep write transactions in flight without a gap (each waits, before it
// commits, until another has begun): the snapshot must not starve (a row
// lock alone would let each new writer in ahead of it), and every write
// is either in the view or stamped no earlier than its time.
func testExportSnapshotUnderLoad(t *testing.T, newDB NewDB) {
	open := newDB(t)
	a, b := open(), open()
	t.Cleanup(func() { a.Close(); b.Close() })
	ctx := exportCtx(t)
	var (
		mu     sync.Mutex
		writes []stamped
		stop   atomic.Bool
		wg     sync.WaitGroup
		n      atomic.Int32
		begun  atomic.Int64 // transactions that have read the mark
	)
	// SQLite writers never overlap (one at a time, across processes too):
	// there a writer could only wait out the hand-over, and the other
	// handle, polling for the write lock, would wait longer.
	hold := 30 * time.Millisecond
	if a.Backend() == "sqlite" {
		hold = 2 * time.Millisecond
	}
	for g := range 4 {
		s := []store.Store{a, b}[g%2]
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				var w stamped
				err := s.Update(ctx, func(tx store.Tx) error {
					mine := begun.Add(1)
					id := fmt.Sprintf("w%d-%d", g, i)
					at := t0
					if nb := tx.NotBefore(); at.Before(nb) {
						at = nb
					}
					if err := tx.Put(ctx, &store.Version{Type: "Organization", ID: id, VersionID: 1, LastUpdated: at, Body: body("Organization", id, 1)}, nil); err != nil {
						return err
					}
					// Hand over: commit once another writer has begun, or
					// after a while (it may be held back by the snapshot,
					// or by SQLite's single writer).
					for deadline := time.Now().Add(hold); begun.Load() == mine && time.Now().Before(deadline); {
						time.Sleep(time.Millisecond)
					}
					w = stamped{key: "Organization/" + id + "/1", notBefore: tx.NotBefore(), at: at}
					return nil
				})
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("write: %v", err)
					}
					return
				}
				mu.Lock()
				writes = append(writes, w)
				mu.Unlock()
				n.Add(1)
				// A breath between transactions: SQLite's lock is polled
				// by other processes, and one that never lets go of it
				// starves them (a property of SQLite, not of snapshots).
				time.Sleep(time.Millisecond)
			}
		})
	}
	waitFor := func(k int32) {
		for n.Load() < k && ctx.Err() == nil {
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitFor(8)
	T := t0.Add(time.Hour)
	var inView []string
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err := a.Snapshot(sctx, func() time.Time { return T }, func(snap store.Snapshot) error {
		var err error
		inView, err = scanKeys(ctx, snap, store.ExportScan{Type: "Organization"})
		return err
	})
	cancel()
	took := time.Since(start)
	after := n.Load()
	if err == nil {
		waitFor(after + 8)
	}
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("Snapshot under load (starved %v?): %v", took, err)
	}
	t.Logf("snapshot under load took %v; %d writes, %d in the view", took, len(writes), len(inView))
	seen := map[string]bool{}
	for _, k := range inView {
		seen[k] = true
	}
	for _, w := range writes {
		switch {
		case seen[w.key] && !w.notBefore.IsZero():
			t.Errorf("%s is in the view but read the mark %v", w.key, w.notBefore)
		case !seen[w.key] && (w.notBefore.Before(T) || w.at.Before(T)):
			t.Errorf("%s is not in the view but has NotBefore %v, stamped %v (before %v): a _since export would miss it", w.key, w.notBefore, w.at, T)
		}
	}
	if len(inView) == 0 || len(inView) == len(writes) {
		t.Errorf("%d of %d writes in the view; want some before and some after", len(inView), len(writes))
	}
}

func exportJob(id string, created time.Time) *store.ExportJob {
	return &store.ExportJob{ID: id, ClientID: "client-1", Request: []byte(`{"types":["Organization"]}`), Created: created, Expires: created.Add(24 * time.Hour)}
}

// chunkData is chunk c of file n, a few KB.
func chunkData(job string, n, c int) []byte {
	line := fmt.Sprintf(`{"job":%q,"file":%d,"chunk":%d}`+"\n", job, n, c)
	return []byte(strings.Repeat(line, 3000/len(line)+1))
}

// readFile reads a whole file back.
func readFile(ctx context.Context, es store.ExportStore, job string, n int) ([]byte, int, error) {
	var out []byte
	chunks := 0
	err := es.ReadExportFile(ctx, job, n, func(c []byte) error {
		out = append(out, c...)
		chunks++
		return nil
	})
	return out, chunks, err
}

func testExportJobs(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	es := s
	ctx := exportCtx(t)

	j := exportJob("job1", t0)
	if err := es.CreateExportJob(ctx, j); err != nil {
		t.Fatalf("CreateExportJob: %v", err)
	}
	if err := es.CreateExportJob(ctx, exportJob("job1", t0)); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateExportJob with a taken id = %v; want ErrExists", err)
	}
	if err := es.CreateExportJob(ctx, &store.ExportJob{ID: "bad"}); err == nil {
		t.Errorf("CreateExportJob without client and times succeeded")
	}
	got, err := es.ExportJob(ctx, "job1")
	if err != nil {
		t.Fatalf("ExportJob: %v", err)
	}
	if got.ID != "job1" || got.ClientID != "client-1" || string(got.Request) != string(j.Request) || got.State != store.ExportQueued ||
		!got.Created.Equal(t0) || !got.Expires.Equal(t0.Add(24*time.Hour)) || got.Owner != "" || !got.LeaseUntil.IsZero() || got.Attempts != 0 || got.Result != nil {
		t.Errorf("ExportJob = %+v; want the queued job as created", got)
	}
	if _, err := es.ExportJob(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ExportJob(unknown) = %v; want ErrNotFound", err)
	}

	// A later job waits for the older one.
	if err := es.CreateExportJob(ctx, exportJob("job2", t0.Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	for client, want := range map[string]int{"client-1": 2, "client-2": 0} {
		if n, err := es.ActiveExportJobs(ctx, client); err != nil || n != want {
			t.Errorf("ActiveExportJobs(%s) = %d, %v; want %d", client, n, err, want)
		}
	}
	lease := t0.Add(time.Minute)
	c, err := es.ClaimExportJob(ctx, "node-a", t0, lease)
	if err != nil || c == nil {
		t.Fatalf("ClaimExportJob = %v, %v; want job1", c, err)
	}
	if c.ID != "job1" || c.State != store.ExportRunning || c.Owner != "node-a" || !c.LeaseUntil.Equal(lease) || c.Attempts != 1 || string(c.Request) != string(j.Request) {
		t.Errorf("claimed %+v; want job1 running for node-a until %v, attempt 1", c, lease)
	}
	if c, err := es.ClaimExportJob(ctx, "node-b", t0, lease); err != nil || c == nil || c.ID != "job2" {
		t.Fatalf("second ClaimExportJob = %+v, %v; want job2", c, err)
	}
	if c, err := es.ClaimExportJob(ctx, "node-b", t0.Add(30*time.Second), lease); err != nil || c != nil {
		t.Errorf("ClaimExportJob with every job leased = %+v, %v; want nil, nil", c, err)
	}

	if err := es.RenewExportJob(ctx, "job1", "node-b", lease, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RenewExportJob by another node = %v; want ErrNotFound", err)
	}
	if err := es.RenewExportJob(ctx, "nope", "node-a", lease, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RenewExportJob of an unknown job = %v; want ErrNotFound", err)
	}
	lease = t0.Add(2 * time.Minute)
	if err := es.RenewExportJob(ctx, "job1", "node-a", lease, "Organization: 40%"); err != nil {
		t.Fatalf("RenewExportJob: %v", err)
	}
	if got, err := es.ExportJob(ctx, "job1"); err != nil || got.Progress != "Organization: 40%" || !got.LeaseUntil.Equal(lease) {
		t.Errorf("after renewal ExportJob = %+v, %v; want progress and the new lease", got, err)
	}

	// Files: 0 with four chunks, 1 with one, 2 an error file.
	files := []store.ExportFile{
		{Job: "job1", N: 0, Type: "Organization", Kind: "output"},
		{Job: "job1", N: 1, Type: "Practitioner", Kind: "output"},
		{Job: "job1", N: 2, Type: "OperationOutcome", Kind: "error"},
	}
	chunks := []int{4, 1, 1}
	want := make([][]byte, len(files))
	for i, f := range files {
		for c := range chunks[i] {
			data := chunkData("job1", f.N, c)
			f.Count = int64(c + 1)
			if err := es.AddExportChunk(ctx, "node-a", f, c, data); err != nil {
				t.Fatalf("AddExportChunk(file %d, chunk %d): %v", f.N, c, err)
			}
			want[i] = append(want[i], data...)
		}
		files[i].Count, files[i].Bytes = int64(10*(i+1)), int64(len(want[i]))
	}
	if err := es.AddExportChunk(ctx, "node-a", files[0], 1, []byte("again")); !errors.Is(err, store.ErrExists) {
		t.Errorf("AddExportChunk of a chunk written already = %v; want ErrExists", err)
	}
	if err := es.AddExportChunk(ctx, "node-b", files[0], 9, []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddExportChunk by another node = %v; want ErrNotFound", err)
	}
	if err := es.AddExportChunk(ctx, "node-a", store.ExportFile{Job: "nope", Type: "Organization", Kind: "output"}, 0, []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddExportChunk to an unknown job = %v; want ErrNotFound", err)
	}
	listed, err := es.ExportFiles(ctx, "job1")
	if err != nil || len(listed) != 3 {
		t.Fatalf("ExportFiles = %+v, %v; want 3 files", listed, err)
	}
	for i, f := range listed {
		if f.Job != "job1" || f.N != i || f.Type != files[i].Type || f.Kind != files[i].Kind || f.Bytes != int64(len(want[i])) || f.Count != int64(chunks[i]) {
			t.Errorf("file %d while running = %+v; want %s %s with %d bytes and the count of its last chunk", i, f, files[i].Type, files[i].Kind, len(want[i]))
		}
	}
	for i := range files {
		// The pieces fn gets may be the chunks as written or larger ones
		// (a backend keeping the bytes in a file): the bytes are what counts.
		data, n, err := readFile(ctx, es, "job1", i)
		if err != nil || n < 1 || n > chunks[i] || !bytes.Equal(data, want[i]) {
			t.Errorf("ReadExportFile(%d) = %d pieces, %d bytes, %v; want at most %d pieces, %d bytes in order", i, n, len(data), err, chunks[i], len(want[i]))
		}
	}
	for _, bad := range []struct {
		job string
		n   int
	}{{"job1", 3}, {"nope", 0}, {"job2", 0}} {
		if _, _, err := readFile(ctx, es, bad.job, bad.n); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ReadExportFile(%s, %d) = %v; want ErrNotFound", bad.job, bad.n, err)
		}
	}
	stop := errors.New("stop")
	if err := es.ReadExportFile(ctx, "job1", 0, func([]byte) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("ReadExportFile with fn failing = %v; want its error", err)
	}

	// Finishing: only the owner, only into an end state.
	manifest := []byte(`{"transactionTime":"2026-01-02T03:04:05.123Z"}`)
	if err := es.FinishExportJob(ctx, "job1", "node-a", store.ExportRunning, manifest, files); err == nil {
		t.Errorf("FinishExportJob into state running succeeded")
	}
	if err := es.FinishExportJob(ctx, "job1", "node-b", store.ExportDone, manifest, files); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishExportJob by another node = %v; want ErrNotFound", err)
	}
	empty := store.ExportFile{Job: "job1", N: 3, Type: "Location", Kind: "output"}
	if err := es.FinishExportJob(ctx, "job1", "node-a", store.ExportDone, manifest, append(slices.Clone(files), empty)); err != nil {
		t.Fatalf("FinishExportJob: %v", err)
	}
	got, err = es.ExportJob(ctx, "job1")
	if err != nil || got.State != store.ExportDone || string(got.Result) != string(manifest) || got.Owner != "" || got.Attempts != 1 {
		t.Errorf("finished job = %+v, %v; want done with the manifest and no owner", got, err)
	}
	if n, err := es.ActiveExportJobs(ctx, "client-1"); err != nil || n != 1 {
		t.Errorf("ActiveExportJobs after one job finished = %d, %v; want 1", n, err)
	}
	listed, err = es.ExportFiles(ctx, "job1")
	if err != nil || len(listed) != 4 {
		t.Fatalf("ExportFiles after finish = %+v, %v; want 4 files", listed, err)
	}
	for i, f := range listed[:3] {
		if f.Count != files[i].Count || f.Bytes != files[i].Bytes {
			t.Errorf("finished file %d = %+v; want count %d, bytes %d", i, f, files[i].Count, files[i].Bytes)
		}
	}
	if data, n, err := readFile(ctx, es, "job1", 3); err != nil || n != 0 || len(data) != 0 {
		t.Errorf("ReadExportFile of a file without chunks = %d chunks, %v; want an empty file", n, err)
	}
	if err := es.FinishExportJob(ctx, "job1", "node-a", store.ExportFailed, nil, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishExportJob of a finished job = %v; want ErrNotFound", err)
	}
	if err := es.RenewExportJob(ctx, "job1", "node-a", lease, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RenewExportJob of a finished job = %v; want ErrNotFound", err)
	}
	if c, err := es.ClaimExportJob(ctx, "node-c", t0.Add(time.Hour), t0.Add(2*time.Hour)); err != nil || c == nil || c.ID != "job2" {
		t.Errorf("claim after job2's lease ended = %+v, %v; want job2 (a finished job is never claimed)", c, err)
	}

	// Deleting in a write transaction (the operator's cancel, recorded with
	// it): nothing is deleted when the transaction rolls back.
	errRollBack := errors.New("roll back")
	if err := es.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteExportJob(ctx, "job1"); err != nil {
			return err
		}
		return errRollBack
	}); !errors.Is(err, errRollBack) {
		t.Fatalf("a rolled-back delete = %v", err)
	}
	if files, err := es.ExportFiles(ctx, "job1"); err != nil || len(files) != 4 {
		t.Fatalf("a rolled-back delete left %d files, %v; want 4", len(files), err)
	}
	if data, _, err := readFile(ctx, es, "job1", 0); err != nil || !bytes.Equal(data, want[0]) {
		t.Fatalf("a rolled-back delete left file 0 as %q, %v", data, err)
	}
	if err := es.Update(ctx, func(tx store.Tx) error { return tx.DeleteExportJob(ctx, "nope") }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Tx.DeleteExportJob(unknown) = %v; want ErrNotFound", err)
	}
	if err := es.Update(ctx, func(tx store.Tx) error { return tx.DeleteExportJob(ctx, "job1") }); err != nil {
		t.Fatalf("Tx.DeleteExportJob: %v", err)
	}
	if _, err := es.ExportJob(ctx, "job1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ExportJob after delete = %v; want ErrNotFound", err)
	}
	if files, err := es.ExportFiles(ctx, "job1"); err != nil || len(files) != 0 {
		t.Errorf("ExportFiles after delete = %+v, %v; want none", files, err)
	}
	if _, _, err := readFile(ctx, es, "job1", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReadExportFile after delete = %v; want ErrNotFound", err)
	}
	if err := es.DeleteExportJob(ctx, "job1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteExportJob again = %v; want ErrNotFound", err)
	}
	// A running job deleted under its worker: the worker is told to stop.
	if err := es.DeleteExportJob(ctx, "job2"); err != nil {
		t.Fatal(err)
	}
	if err := es.AddExportChunk(ctx, "node-c", store.ExportFile{Job: "job2", Type: "Organization", Kind: "output"}, 0, []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddExportChunk to a deleted job = %v; want ErrNotFound", err)
	}
	if err := es.RenewExportJob(ctx, "job2", "node-c", lease, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RenewExportJob of a deleted job = %v; want ErrNotFound", err)
	}
}

// testExportJobList: ExportJobs lists every job, whatever its state or
// client, newest first (ties by id, descending), without its Result; a
// deleted job is gone from the list.
func testExportJobList(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	es := s
	ctx := exportCtx(t)
	if jobs, err := es.ExportJobs(ctx); err != nil || len(jobs) != 0 {
		t.Fatalf("ExportJobs on an empty store = %+v, %v; want none", jobs, err)
	}
	for _, j := range []*store.ExportJob{
		exportJob("a-old", t0),
		exportJob("b-mid", t0.Add(time.Minute)),
		exportJob("a-mid", t0.Add(time.Minute)),
		exportJob("c-new", t0.Add(time.Hour)),
	} {
		if j.ID == "c-new" {
			j.ClientID = "client-2"
		}
		if err := es.CreateExportJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	// a-old, the oldest, is claimed and finished: its state and attempts
	// show, its manifest does not.
	if c, err := es.ClaimExportJob(ctx, "node-a", t0, t0.Add(time.Minute)); err != nil || c == nil || c.ID != "a-old" {
		t.Fatalf("ClaimExportJob = %+v, %v; want a-old", c, err)
	}
	if err := es.RenewExportJob(ctx, "a-old", "node-a", t0.Add(2*time.Minute), "Organization: 50%"); err != nil {
		t.Fatal(err)
	}
	if err := es.FinishExportJob(ctx, "a-old", "node-a", store.ExportDone, []byte(`{"output":[]}`), nil); err != nil {
		t.Fatal(err)
	}
	jobs, err := es.ExportJobs(ctx)
	if err != nil {
		t.Fatalf("ExportJobs: %v", err)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	if want := []string{"c-new", "b-mid", "a-mid", "a-old"}; !slices.Equal(ids, want) {
		t.Fatalf("ExportJobs = %v; want %v (newest first, ties by id descending)", ids, want)
	}
	newest, oldest := jobs[0], jobs[3]
	if newest.ClientID != "client-2" || newest.State != store.ExportQueued || !newest.Created.Equal(t0.Add(time.Hour)) ||
		!newest.Expires.Equal(t0.Add(25*time.Hour)) || string(newest.Request) != `{"types":["Organization"]}` || newest.Attempts != 0 {
		t.Errorf("listed c-new = %+v; want the queued job of client-2 as created", newest)
	}
	if oldest.State != store.ExportDone || oldest.Attempts != 1 || oldest.Progress != "Organization: 50%" || oldest.Owner != "" || oldest.Result != nil {
		t.Errorf("listed a-old = %+v; want done after 1 attempt with its progress, and no Result", oldest)
	}
	if err := es.DeleteExportJob(ctx, "b-mid"); err != nil {
		t.Fatal(err)
	}
	jobs, err = es.ExportJobs(ctx)
	if err != nil || len(jobs) != 3 || jobs[1].ID != "a-mid" {
		t.Errorf("ExportJobs after deleting b-mid = %d jobs, %v; want c-new, a-mid, a-old", len(jobs), err)
	}
}

// testExportJobReclaim: a job whose node stopped renewing is claimed again
// by another; what the first attempt wrote is discarded and the first
// node can no longer touch the job.
func testExportJobReclaim(t *testing.T, newDB NewDB) {
	open := newDB(t)
	a, b := open(), open()
	t.Cleanup(func() { a.Close(); b.Close() })
	ea, eb := a, b
	ctx := exportCtx(t)
	if err := ea.CreateExportJob(ctx, exportJob("j", t0)); err != nil {
		t.Fatal(err)
	}
	if c, err := ea.ClaimExportJob(ctx, "node-a", t0, t0.Add(time.Minute)); err != nil || c == nil || c.Attempts != 1 {
		t.Fatalf("claim = %+v, %v", c, err)
	}
	f := store.ExportFile{Job: "j", N: 0, Type: "Organization", Kind: "output"}
	for c := range 3 {
		if err := ea.AddExportChunk(ctx, "node-a", f, c, chunkData("j", 0, c)); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := eb.ClaimExportJob(ctx, "node-b", t0.Add(59*time.Second), t0.Add(2*time.Minute)); err != nil || c != nil {
		t.Fatalf("claim before the lease ends = %+v, %v; want nil", c, err)
	}
	c, err := eb.ClaimExportJob(ctx, "node-b", t0.Add(61*time.Second), t0.Add(3*time.Minute))
	if err != nil || c == nil || c.ID != "j" || c.Owner != "node-b" || c.Attempts != 2 || c.State != store.ExportRunning {
		t.Fatalf("claim after the lease ended = %+v, %v; want j for node-b, attempt 2", c, err)
	}
	if files, err := ea.ExportFiles(ctx, "j"); err != nil || len(files) != 0 {
		t.Errorf("files after the reclaim = %+v, %v; want the first attempt's removed", files, err)
	}
	if _, _, err := readFile(ctx, ea, "j", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReadExportFile of the first attempt's file = %v; want ErrNotFound", err)
	}
	if err := ea.AddExportChunk(ctx, "node-a", f, 3, []byte("late")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddExportChunk by the former owner = %v; want ErrNotFound", err)
	}
	if err := ea.RenewExportJob(ctx, "j", "node-a", t0.Add(time.Hour), ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RenewExportJob by the former owner = %v; want ErrNotFound", err)
	}
	if err := ea.FinishExportJob(ctx, "j", "node-a", store.ExportDone, []byte("{}"), nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishExportJob by the former owner = %v; want ErrNotFound", err)
	}
	data := chunkData("j", 0, 0)
	if err := eb.AddExportChunk(ctx, "node-b", f, 0, data); err != nil {
		t.Fatal(err)
	}
	f.Count, f.Bytes = 7, int64(len(data))
	if err := eb.FinishExportJob(ctx, "j", "node-b", store.ExportDone, []byte("{}"), []store.ExportFile{f}); err != nil {
		t.Fatal(err)
	}
	if got, n, err := readFile(ctx, ea, "j", 0); err != nil || n != 1 || !bytes.Equal(got, data) {
		t.Errorf("file of the second attempt = %d chunks, %v; want its one chunk", n, err)
	}
	if j, err := ea.ExportJob(ctx, "j"); err != nil || j.State != store.ExportDone || j.Attempts != 2 {
		t.Errorf("job = %+v, %v; want done after 2 attempts", j, err)
	}
}

// testExportClaimRace: workers on two nodes claiming at once never get
// the same job, and every job is claimed.
func testExportClaimRace(t *testing.T, newDB NewDB) {
	open := newDB(t)
	a, b := open(), open()
	t.Cleanup(func() { a.Close(); b.Close() })
	ctx := exportCtx(t)
	const jobs = 12
	for i := range jobs {
		if err := a.CreateExportJob(ctx, exportJob(fmt.Sprintf("r%02d", i), t0.Add(time.Duration(i)*time.Millisecond))); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu      sync.Mutex
		claimed = map[string]string{}
		wg      sync.WaitGroup
	)
	for w := range 6 {
		es := []store.Store{a, b}[w%2]
		owner := fmt.Sprintf("worker-%d", w)
		wg.Go(func() {
			for {
				c, err := es.ClaimExportJob(ctx, owner, t0, t0.Add(time.Hour))
				if err != nil {
					t.Errorf("%s: claim: %v", owner, err)
					return
				}
				if c == nil {
					return
				}
				mu.Lock()
				if prev, ok := claimed[c.ID]; ok {
					t.Errorf("%s claimed by %s and %s", c.ID, prev, owner)
				}
				claimed[c.ID] = owner
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != jobs {
		t.Errorf("%d jobs claimed; want all %d", len(claimed), jobs)
	}
}

func testExportPurge(t *testing.T, newDB NewDB) {
	s := openOne(t, newDB)
	es := s
	ctx := exportCtx(t)
	for i, id := range []string{"e1", "e2", "e3"} {
		j := exportJob(id, t0)
		j.Expires = t0.Add(time.Duration(i+1) * time.Hour)
		if err := es.CreateExportJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := es.ClaimExportJob(ctx, "node", t0, t0.Add(time.Minute)); err != nil || c == nil || c.ID != "e1" {
		t.Fatalf("claim = %+v, %v; want e1", c, err)
	}
	if err := es.AddExportChunk(ctx, "node", store.ExportFile{Job: "e1", Type: "Organization", Kind: "output"}, 0, []byte("x\n")); err != nil {
		t.Fatal(err)
	}
	if n, err := es.PurgeExportJobs(ctx, t0.Add(2*time.Hour)); err != nil || n != 1 {
		t.Errorf("PurgeExportJobs = %d, %v; want 1 (e2 expires exactly then: kept)", n, err)
	}
	if _, err := es.ExportJob(ctx, "e1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("purged job: %v; want ErrNotFound", err)
	}
	if _, _, err := readFile(ctx, es, "e1", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("purged job's file: %v; want ErrNotFound", err)
	}
	for _, id := range []string{"e2", "e3"} {
		if _, err := es.ExportJob(ctx, id); err != nil {
			t.Errorf("ExportJob(%s) after purge: %v; want it kept", id, err)
		}
	}
	if n, err := es.PurgeExportJobs(ctx, t0.Add(10*time.Hour)); err != nil || n != 2 {
		t.Errorf("second PurgeExportJobs = %d, %v; want 2", n, err)
	}
	if n, err := es.PurgeExportJobs(ctx, t0.Add(10*time.Hour)); err != nil || n != 0 {
		t.Errorf("PurgeExportJobs with nothing expired = %d, %v; want 0", n, err)
	}
}

// BenchSnapshotScan measures Scan over n small resources of one type
// (resources/s), on a store the caller opened on an empty database.
// VHDIR_BENCH_SCAN_N overrides n.
func BenchSnapshotScan(b *testing.B, s store.Store, n int) {
	ctx := context.Background()
	if v, err := strconv.Atoi(os.Getenv("VHDIR_BENCH_SCAN_N")); err == nil && v > 0 {
		n = v
	}
	const batch = 2000
	for start := 0; start < n; start += batch {
		err := s.Update(ctx, func(tx store.Tx) error {
			var vs []*store.Version
			for i := start; i < min(start+batch, n); i++ {
				id := fmt.Sprintf("org-%07d", i)
				vs = append(vs, &store.Version{Type: "Organization", ID: id, VersionID: 1, LastUpdated: t0,
					Body: fmt.Appendf(nil, `{"resourceType":"Organization","id":%q,"meta":{"versionId":"1","lastUpdated":"2026-01-02T03:04:05.123Z"},"active":true,"name":"Organization number %d","telecom":[{"system":"phone","value":"+1-555-%07d"}],"address":[{"city":"Springfield","state":"IL"}]}`, id, i, i)})
			}
			return tx.PutMany(ctx, vs, make([]*store.Index, len(vs)))
		})
		if err != nil {
			b.Fatalf("load: %v", err)
		}
	}
	es := s
	b.ResetTimer()
	var rows, size int64
	for b.Loop() {
		err := es.Snapshot(ctx, func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }, func(snap store.Snapshot) error {
			return snap.Scan(ctx, store.ExportScan{Type: "Organization"}, func(v *store.Version) error {
				rows++
				size += int64(len(v.Body))
				return nil
			})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if rows != int64(n)*int64(b.N) {
		b.Fatalf("scanned %d rows in %d runs; want %d each", rows, b.N, n)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "resources/s")
	b.ReportMetric(float64(size)/b.Elapsed().Seconds()/(1<<20), "MiB/s")
}

// holdWrite starts a write transaction that creates Organization/id and
// returns once it is in flight; it commits when release is closed, and its
// result arrives on done.
func holdWrite(ctx context.Context, s store.Store, id string) (release chan struct{}, done <-chan error) {
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	result := make(chan error, 1)
	go func() {
		result <- s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Put(ctx, &store.Version{Type: "Organization", ID: id, VersionID: 1, LastUpdated: t0, Body: body("Organization", id, 1)}, nil); err != nil {
				return err
			}
			once.Do(func() { close(started) })
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	select {
	case <-started:
	case err := <-result:
		result <- err // failed before it was in flight: the caller sees it on done
	}
	return release, result
}
