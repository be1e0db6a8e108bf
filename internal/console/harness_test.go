package console_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/console"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// harness is a real console, built as `vhdir console` builds it, on a real
// database, served over TLS.
type harness struct {
	t       testing.TB
	Backend string
	Store   store.Store
	Raw     *sql.DB // the database behind the store's back (tampering)
	Server  *server.Server
	Console *console.Console
	TS      *httptest.Server
	Clock   *clock.Fake // nil unless the test asked for a fake clock
}

// startOptions are what a test may choose.
type startOptions struct {
	// Seed loads the IG's examples first.
	Seed bool
	// Clock, when set, is the one time source (session expiry tests).
	Clock *clock.Fake
	// SessionIdle is the console's (0: its default).
	SessionIdle time.Duration
}

// forEachBackend runs fn on a console over each backend.
func forEachBackend(t *testing.T, opts startOptions, fn func(t *testing.T, h *harness)) {
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			fn(t, start(t, b, opts))
		})
	}
}

// start builds and serves a console on a fresh database of backend b.
func start(t testing.TB, b testdb.Backend, opts startOptions) *harness {
	t.Helper()
	addr := b.New(t)
	st := b.Open(t, addr)
	raw := b.Raw(t, addr)
	t.Cleanup(func() { raw.Close(); st.Close() })
	var clk clock.Clock = clock.System{}
	if opts.Clock != nil {
		clk = opts.Clock
	}
	srv, err := server.New(server.Config{BaseURL: "urn:vhdir:cli", Store: st, Clock: clk, AuditSite: "console test", ProfileValidation: profile.Enforce})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Seed {
		if _, _, err := srv.SeedExamples(server.AsOperator(context.Background(), "tester", "test")); err != nil {
			t.Fatal(err)
		}
	}
	con, err := srv.Console(server.ConsoleOptions{Operator: "tester", Database: b.Name + " test database", Secure: true, SessionIdle: opts.SessionIdle})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(con.Handler())
	t.Cleanup(ts.Close)
	return &harness{t: t, Backend: b.Name, Store: st, Raw: raw, Server: srv, Console: con, TS: ts, Clock: opts.Clock}
}

// client is a browser without a session: cookies kept, redirects not
// followed (tests look at them).
func (h *harness) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *h.TS.Client() // a browser of its own: the listener's client is shared
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// login opens the console's one session with its login URL and returns
// the browser holding it.
func (h *harness) login() *http.Client {
	h.t.Helper()
	c := h.client()
	resp, err := c.Get(h.TS.URL + "/login?token=" + url.QueryEscape(h.Console.LoginToken()))
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("login: %s", resp.Status)
	}
	return c
}

// get fetches a console path and returns its status and body.
func (h *harness) get(c *http.Client, path string) (int, string) {
	h.t.Helper()
	resp, err := c.Get(h.TS.URL + path)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, h.read(resp)
}

// read reads and closes a response's body.
func (h *harness) read(resp *http.Response) string {
	h.t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(body)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the session's CSRF token from a page of it.
func (h *harness) csrf(c *http.Client) string {
	h.t.Helper()
	_, body := h.get(c, "/clients")
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		h.t.Fatal("no CSRF token on /clients")
	}
	return m[1]
}

// post submits a form (with the session's CSRF token unless form has
// one) and returns the response, its body read.
func (h *harness) post(c *http.Client, path string, form url.Values) (*http.Response, string) {
	h.t.Helper()
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", h.csrf(c))
	}
	resp, err := c.Post(h.TS.URL+path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, h.read(resp)
}
