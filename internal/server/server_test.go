package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/bulk"
	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/load"
	"github.com/vhdir/vhdir/internal/membership"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/profile/profiletest"
	"github.com/vhdir/vhdir/internal/rest"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

func TestLoopbackOnly(t *testing.T) {
	h := loopbackOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tests := []struct {
		remote string
		want   int
	}{
		{"127.0.0.1:4000", http.StatusOK},
		{"127.1.2.3:4000", http.StatusOK},
		{"[::1]:4000", http.StatusOK},
		{"[::ffff:127.0.0.1]:4000", http.StatusOK},
		{"192.0.2.7:4000", http.StatusForbidden},
		{"[2001:db8::1]:4000", http.StatusForbidden},
		{"garbage", http.StatusForbidden},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = tt.remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("GET /metrics from %s = %d; want %d", tt.remote, rec.Code, tt.want)
		}
	}
}

// TestRequiredCollaborators: a server without a collaborator it cannot be
// safe without fails at start; none of them means "allow".
func TestRequiredCollaborators(t *testing.T) {
	st := testdb.All[0].Fresh(t)
	defer st.Close()
	clk := clock.System{}
	reg, err := search.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	eng := search.NewEngine(reg, "https://x/fhir")
	dir := &directory.Directory{Store: st, Clock: clk, Indexer: eng, Profiles: profiletest.Warn(t)}
	full, err := New(Config{BaseURL: "https://x", Store: st, Clock: clk, ProfileValidation: profile.Warn})
	if err != nil {
		t.Fatalf("New with every collaborator: %v", err)
	}
	viewers, err := membership.New(st, eng, clk)
	if err != nil {
		t.Fatal(err)
	}
	restCfg := rest.Config{BaseURL: "https://x", Store: st, Directory: dir, Search: eng, Clock: clk, MaxBodyBytes: 1, MaxResourceNodes: 1, BodyBudget: 1, MaxBundleEntries: 1,
		Authorizer: full.auth, Viewers: viewers, Auditor: full.recorder, Validator: mustValidator(t)}
	bulkCfg := bulk.Config{Store: st, Search: eng, Clock: clk, FHIRBase: "https://x/fhir", Authorizer: full.auth, Viewers: viewers, Auditor: full.recorder}
	authCfg := auth.Config{BaseURL: "https://x", Store: st, Clock: clk, Filters: eng, Auditor: full.recorder}
	tests := []struct {
		name string
		new  func() error
	}{
		{"server without a store", func() error { _, err := New(Config{BaseURL: "https://x", Clock: clk}); return err }},
		{"server without a clock", func() error { _, err := New(Config{BaseURL: "https://x", Store: st}); return err }},
		{"server without a profile validation mode", func() error { _, err := New(Config{BaseURL: "https://x", Store: st, Clock: clk}); return err }},
		{"rest without a validator", func() error { c := restCfg; c.Validator = nil; _, err := rest.New(c); return err }},
		{"directory without a profile checker", func() error {
			d := *dir
			d.Profiles = nil
			_, err := d.Write(context.Background(), func(*directory.Writer) error { return nil })
			return err
		}},
		{"rest without an authorizer", func() error { c := restCfg; c.Authorizer = nil; _, err := rest.New(c); return err }},
		{"rest without a viewer resolver", func() error { c := restCfg; c.Viewers = nil; _, err := rest.New(c); return err }},
		{"rest without an auditor", func() error { c := restCfg; c.Auditor = nil; _, err := rest.New(c); return err }},
		{"rest without a Bundle entry limit", func() error { c := restCfg; c.MaxBundleEntries = 0; _, err := rest.New(c); return err }},
		{"bulk without an authorizer", func() error { c := bulkCfg; c.Authorizer = nil; _, err := bulk.New(c); return err }},
		{"bulk without a viewer resolver", func() error { c := bulkCfg; c.Viewers = nil; _, err := bulk.New(c); return err }},
		{"bulk without an auditor", func() error { c := bulkCfg; c.Auditor = nil; _, err := bulk.New(c); return err }},
		{"auth without filters", func() error { c := authCfg; c.Filters = nil; _, err := auth.New(c); return err }},
		{"auth without an auditor", func() error { c := authCfg; c.Auditor = nil; _, err := auth.New(c); return err }},
		{"registry without an auditor", func() error { _, err := auth.NewRegistry(st, reg.Types(), clk, nil); return err }},
		{"membership without a store", func() error { _, err := membership.New(nil, eng, clk); return err }},
		{"load without an auditor", func() error {
			cfg := full.LoadConfig()
			cfg.Record = nil
			_, err := load.RunFiles(context.Background(), cfg, nil)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.new(); err == nil {
				t.Errorf("%s: started; want an error", tt.name)
			}
		})
	}
	// The parts still work when complete.
	for _, f := range []func() error{
		func() error { _, err := rest.New(restCfg); return err },
		func() error { _, err := bulk.New(bulkCfg); return err },
		func() error { _, err := auth.New(authCfg); return err },
	} {
		if err := f(); err != nil {
			t.Errorf("complete configuration refused: %v", err)
		}
	}
}

// forEachBackend runs fn with a fresh database of each backend: a server
// built on a store handle, and a raw connection behind its back.
func forEachBackend(t *testing.T, fn func(t *testing.T, srv *Server, st store.Store, raw *sql.DB)) {
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			addr := b.New(t)
			st, raw := b.Open(t, addr), b.Raw(t, addr)
			t.Cleanup(func() {
				st.Close()
				raw.Close()
			})
			srv, err := New(Config{BaseURL: "https://127.0.0.1:8443", Store: st, Clock: clock.System{}, MaxBodyBytes: 1 << 20, ProfileValidation: profile.Warn})
			if err != nil {
				t.Fatal(err)
			}
			fn(t, srv, st, raw)
		})
	}
}

func exec(t *testing.T, raw *sql.DB, q string) {
	t.Helper()
	if _, err := raw.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// chainLength is how many audit records the chain holds.
func chainLength(t *testing.T, st store.Store) int {
	t.Helper()
	links, err := st.AuditChain(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return len(links)
}

// TestOperatorChangesAuditedInTheirTransaction: a registration change and
// each batch of vhdir load commit together with their audit records;
// when the record cannot be written, nothing changes.
func TestOperatorChangesAuditedInTheirTransaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *Server, st store.Store, raw *sql.DB) {
		ctx := AsOperator(context.Background(), "alice", "clients")
		reg := auth.Registration{Name: "Acme", Organization: "Organization/acme", JWKSURI: "https://acme.example/jwks", Scope: "system/*.rs"}

		exec(t, raw, "ALTER TABLE audit_chain RENAME TO audit_chain_away")
		r := reg
		r.ClientID = "refused"
		if _, err := srv.Registry().Add(ctx, r); err == nil {
			t.Error("registration with the audit trail down succeeded")
		}
		if _, err := st.Client(context.Background(), "refused"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a registration whose record failed was kept: %v", err)
		}
		files := []load.File{{Name: "orgs.ndjson", Data: []byte(`{"resourceType":"Organization","id":"o1","name":"One"}` + "\n")}}
		sum, err := load.RunFiles(AsOperator(context.Background(), "alice", "load"), srv.LoadConfig(), files)
		if err != nil || sum.Total() != 0 || len(sum.Problems) != 1 {
			t.Errorf("load with the audit trail down = %+v, %v; want one problem and nothing written", sum, err)
		}
		exec(t, raw, "ALTER TABLE audit_chain_away RENAME TO audit_chain")
		if _, err := st.Read(context.Background(), "Organization", "o1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a load batch whose record failed was kept: %v", err)
		}
		if n := chainLength(t, st); n != 0 {
			t.Fatalf("the chain holds %d records after refused changes", n)
		}

		r.ClientID = "kept"
		if _, err := srv.Registry().Add(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := srv.Registry().SetDisabled(ctx, "kept", true); err != nil {
			t.Fatal(err)
		}
		sum, err = load.RunFiles(AsOperator(context.Background(), "alice", "load"), srv.LoadConfig(), files)
		if err != nil || sum.Total() != 1 {
			t.Fatalf("load = %+v, %v", sum, err)
		}
		links, err := st.AuditChain(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var subtypes []string
		for _, l := range links {
			var rec struct {
				Subtype []struct{ Code string }
				Agent   []struct {
					Who struct{ Identifier struct{ Value string } }
				}
			}
			if err := json.Unmarshal(l.Body, &rec); err != nil {
				t.Fatal(err)
			}
			subtypes = append(subtypes, rec.Subtype[0].Code)
			if who := rec.Agent[0].Who.Identifier.Value; who != "operator:alice" {
				t.Errorf("record %d names %q; want the operator", l.Seq, who)
			}
		}
		if got := strings.Join(subtypes, " "); got != "clients-add clients-disable load" {
			t.Errorf("records = %s; want clients-add clients-disable load", got)
		}
		// The batch's Provenance names what it wrote and who loaded it.
		page, err := st.Search(context.Background(), &store.Query{Types: []string{"Provenance"}, Count: 10, Viewer: store.SeeAll})
		if err != nil || len(page.Versions) != 1 {
			t.Fatalf("Provenance after the load = %v, %v; want one", page, err)
		}
		var p struct {
			Target []struct{ Reference string }
			Agent  []struct {
				Who struct{ Identifier struct{ Value string } }
			}
		}
		if err := json.Unmarshal(page.Versions[0].Body, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Target) != 1 || p.Target[0].Reference != "Organization/o1/_history/1" || p.Agent[0].Who.Identifier.Value != "operator:alice" {
			t.Errorf("the batch's Provenance = %s; want target Organization/o1/_history/1 by operator:alice", page.Versions[0].Body)
		}
	})
}

// TestWritesNameTheirCaller: a write stores a Provenance naming the
// caller and its organization; a request without a caller gets 401 and
// writes nothing.
func TestWritesNameTheirCaller(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *Server, st store.Store, _ *sql.DB) {
		ctx := context.Background()
		body := func(id string) *fhir.Resource {
			res, err := fhir.ParseResource([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Organization","id":"` + id + `","name":"x"},"request":{"method":"PUT","url":"Organization/` + id + `"}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		acme := &interaction.Caller{ClientID: "acme", ClientName: "Acme Health Plan", Organization: "Organization/acme-org", OrganizationName: "Acme", Scope: "system/*.cruds"}
		if _, err := srv.rest.ExecuteBundle(interaction.WithCaller(ctx, acme), body("o1")); err != nil {
			t.Fatal(err)
		}
		page, err := st.Search(ctx, &store.Query{Types: []string{"Provenance"}, Count: 10, Viewer: store.SeeAll})
		if err != nil || len(page.Versions) != 1 {
			t.Fatalf("Provenance = %v, %v; want one", page, err)
		}
		var p struct {
			Agent []struct {
				Who struct {
					Identifier struct{ Value string }
					Display    string
				}
				OnBehalfOf struct{ Reference string }
			}
		}
		if err := json.Unmarshal(page.Versions[0].Body, &p); err != nil {
			t.Fatal(err)
		}
		a := p.Agent[len(p.Agent)-1]
		if a.Who.Identifier.Value != "acme" || a.Who.Display != "Acme Health Plan" || a.OnBehalfOf.Reference != "Organization/acme-org" {
			t.Errorf("Provenance agent = %+v; want the client acme for Organization/acme-org", a)
		}
		_, err = srv.rest.ExecuteBundle(ctx, body("o2"))
		if fhir.StatusOf(err) != http.StatusUnauthorized {
			t.Errorf("a Bundle without a caller: %v; want 401", err)
		}
		if _, err := st.Read(ctx, "Organization", "o2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a Bundle without a caller wrote Organization/o2: %v", err)
		}
	})
}

// TestSeedExamples: the IG examples load once, into an empty directory,
// as the operator, each batch and the whole load audited.
func TestSeedExamples(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *Server, st store.Store, _ *sql.DB) {
		ctx := AsOperator(context.Background(), "alice", "serve --seed-examples")
		if _, _, err := srv.SeedExamples(context.Background()); err == nil {
			t.Error("seeding without an operator succeeded")
		}
		loaded, sum, err := srv.SeedExamples(ctx)
		if err != nil || !loaded || sum.Total() < 20 || len(sum.Problems) != 0 {
			t.Fatalf("seed = %v %+v %v", loaded, sum, err)
		}
		n := chainLength(t, st)
		if n < 2 {
			t.Errorf("the seed left %d audit records; want its batches and the load", n)
		}
		if again, _, err := srv.SeedExamples(ctx); err != nil || again {
			t.Errorf("seeding a directory that has data = %v, %v; want nothing loaded", again, err)
		}
	})
}

// TestRunStops: the background work ends when its context does.
func TestRunStops(t *testing.T) {
	st := testdb.All[0].Fresh(t)
	defer st.Close()
	srv, err := New(Config{BaseURL: "https://x", Store: st, Clock: clock.System{}, ProfileValidation: profile.Warn})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		srv.Run(ctx)
		close(done)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// TestReadyWhenAuditWritable: /readyz fails while the audit chain refuses
// inserts, as every request then does, and recovers with it.
func TestReadyWhenAuditWritable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *Server, st store.Store, raw *sql.DB) {
		ready := func() int {
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			return rec.Code
		}
		if got := ready(); got != http.StatusOK {
			t.Fatalf("/readyz = %d; want 200", got)
		}
		// SQLite keeps the chain in its audit file, attached as "audit".
		block, unblock := "CREATE TRIGGER audit.no_audit BEFORE INSERT ON audit_chain BEGIN SELECT RAISE(ABORT, 'audit refused'); END", "DROP TRIGGER audit.no_audit"
		if st.Backend() == "postgres" {
			exec(t, raw, "CREATE FUNCTION no_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$")
			block, unblock = "CREATE TRIGGER no_audit BEFORE INSERT ON audit_chain FOR EACH ROW EXECUTE FUNCTION no_audit()", "DROP TRIGGER no_audit ON audit_chain"
		}
		exec(t, raw, block)
		if got := ready(); got != http.StatusServiceUnavailable {
			t.Errorf("/readyz with inserts into the audit chain refused = %d; want 503", got)
		}
		exec(t, raw, unblock)
		if got := ready(); got != http.StatusOK {
			t.Errorf("/readyz after repair = %d; want 200", got)
		}
		if n := chainLength(t, st); n != 0 {
			t.Errorf("the readiness probes left %d records in the chain", n)
		}
	})
}
