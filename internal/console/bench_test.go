package console_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/server/benchdir"
	"github.com/vhdir/vhdir/internal/store"
)

var (
	benchPractitioners = flag.Int("bench.practitioners", 20000, "practitioners in the console benchmark's generated directory (20000 ≈ 100k resources)")
	benchRecords       = flag.Int("bench.records", 100000, "audit records the console benchmark's trail holds at least")
)

// BenchmarkConsolePages times each console page over HTTPS, as a browser
// asks for it, on the generated directory (100k resources) with an audit
// trail of -bench.records records: ms/page is the server's answer as the
// browser waits for it. Every page is audited, as served.
//
//	go test -run XXX -bench BenchmarkConsolePages -benchtime 50x -timeout 60m ./internal/console/
func BenchmarkConsolePages(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			st := benchdir.Open(b, backend, *benchPractitioners)
			defer st.Close()
			h := benchConsole(b, st)
			browser := h.login()
			for _, p := range benchPages(b, h, browser) {
				h.get(browser, p.path) // as a browser would have: caches warm, the overview's figures counted
				b.Run(p.name, func(b *testing.B) {
					times := make([]time.Duration, 0, b.N)
					for b.Loop() {
						began := time.Now()
						status, body := h.get(browser, p.path)
						times = append(times, time.Since(began))
						if status != http.StatusOK {
							b.Fatalf("GET %s: %d\n%.2000s", p.path, status, body)
						}
					}
					slices.Sort(times)
					b.ReportMetric(ms(times[len(times)/2]), "p50-ms")
					b.ReportMetric(ms(times[len(times)*99/100]), "p99-ms")
				})
			}
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// benchConsole serves a console on st, its audit trail filled to
// -bench.records records first (kept in the database for later runs).
func benchConsole(b *testing.B, st store.Store) *harness {
	srv, err := server.New(server.Config{BaseURL: "urn:vhdir:cli", Store: st, Clock: clock.System{}, AuditSite: "console bench", ProfileValidation: profile.Enforce})
	if err != nil {
		b.Fatal(err)
	}
	fillTrail(b, st, srv.AuditLog(), *benchRecords)
	con, err := srv.Console(server.ConsoleOptions{Operator: "bench", Database: st.Backend() + " bench", Secure: true})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewTLSServer(con.Handler())
	b.Cleanup(ts.Close)
	return &harness{t: b, Backend: st.Backend(), Store: st, Server: srv, Console: con, TS: ts}
}

// fillTrail appends records of reads by 20 clients until the chain holds
// n: what a directory's trail is mostly made of.
func fillTrail(b *testing.B, st store.Store, log *audit.Log, n int) {
	ctx := context.Background()
	head, err := st.AuditHead(ctx)
	if err != nil {
		b.Fatal(err)
	}
	const group = 1000
	for have := int(head.Seq); have < n; have += group {
		events := make([]*audit.Event, group)
		for i := range events {
			k := have + i
			caller := &interaction.Caller{ClientID: fmt.Sprintf("bench-client-%d", k%20), ClientName: "bench client", Organization: fmt.Sprintf("Organization/bench-org-%d", k%7), Scope: "system/*.rs", Address: "10.0.0.1"}
			req := &interaction.Request{Kind: interaction.Read, Type: "Practitioner", ID: fmt.Sprintf("p%d", k%5000), Entry: -1, Method: "GET"}
			var fail error
			resp := &interaction.Response{Status: http.StatusOK}
			if k%50 == 0 {
				resp, fail = nil, store.ErrNotFound
			}
			events[i] = audit.ForInteraction(req, resp, fail, caller, "/fhir/Practitioner/"+req.ID)
		}
		if err := log.Commit(ctx, events...); err != nil {
			b.Fatal(err)
		}
	}
	// What autovacuum does on a live PostgreSQL after such growth.
	if pg, ok := st.(interface{ WritePool() *sql.DB }); ok && int(head.Seq) < n {
		if _, err := pg.WritePool().ExecContext(ctx, "ANALYZE audit_chain"); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPage is one page the benchmark asks for.
type benchPage struct{ name, path string }

// benchPages are the console's pages, with real ids from the data.
func benchPages(b *testing.B, h *harness, browser *http.Client) []benchPage {
	ctx := context.Background()
	prac, err := h.Store.Search(ctx, &store.Query{Types: []string{"Practitioner"}, Count: 100, Viewer: store.SeeAll})
	if err != nil || len(prac.Versions) == 0 {
		b.Fatalf("no Practitioner: %v", err)
	}
	p := prac.Versions[len(prac.Versions)/2]
	// A few registered clients for the clients pages.
	for i := range 10 {
		id := fmt.Sprintf("bench-client-%d", i)
		if _, _, err := h.Server.Registry().Get(ctx, id); err == nil {
			continue
		}
		form := registration(id)
		form.Set("organization", "Organization/bench-org-1")
		if resp, body := h.post(browser, "/clients", form); resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("register %s: %s\n%.1000s", id, resp.Status, body)
		}
	}
	_, timeline := h.get(browser, "/audit")
	next := regexp.MustCompile(`id="next" href="([^"]+)"`).FindStringSubmatch(timeline)
	record := regexp.MustCompile(`href="(/audit/[A-Za-z0-9.-]+)"`).FindStringSubmatch(timeline)
	if next == nil || record == nil {
		b.Fatalf("the timeline has no next page or no record link:\n%.3000s", timeline)
	}
	family := familyOf(p.Body)
	return []benchPage{
		{"overview", "/"},
		{"clients", "/clients"},
		{"client", "/clients/bench-client-3"},
		{"audit", "/audit"},
		{"audit-page-2", unescapeHTML(next[1])},
		{"audit-client", "/audit?client=bench-client-7"},
		{"audit-failures", "/audit?outcome=4,8,12"},
		{"audit-organization-day", "/audit?organization=Organization/bench-org-2&from=" + time.Now().UTC().Format("2006-01-02")},
		{"audit-record", record[1]},
		{"data-search", "/data/Practitioner?family=" + url.QueryEscape(family)},
		{"data-resource", "/data/Practitioner/" + p.ID},
		{"exports", "/exports"},
	}
}

var familyPattern = regexp.MustCompile(`"family":"([^"]+)"`)

func familyOf(body []byte) string {
	if m := familyPattern.FindSubmatch(body); m != nil {
		return string(m[1])
	}
	return "Smith"
}

// unescapeHTML reads a link's href as the browser does.
func unescapeHTML(s string) string { return html.UnescapeString(s) }
