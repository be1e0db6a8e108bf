package console_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// TestLogin: the printed URL opens one session, once; the cookie is
// HttpOnly, Secure and SameSite=Strict; without a live session every page
// is refused.
func TestLogin(t *testing.T) {
	h := start(t, testdb.All[0], startOptions{})
	browser := h.client()
	resp, err := browser.Get(h.TS.URL + "/login?token=" + url.QueryEscape(h.Console.LoginToken()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %s to %q; want 303 to /", resp.Status, resp.Header.Get("Location"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("login set %d cookies", len(cookies))
	}
	ck := cookies[0]
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Domain != "" || !strings.HasPrefix(ck.Name, "__Host-") || len(ck.Value) < 40 {
		t.Errorf("session cookie %+v: want __Host-, HttpOnly, Secure, SameSite=Strict, Path=/, no Domain, a long random value", ck)
	}

	forged := h.client()
	u, _ := url.Parse(h.TS.URL)
	forged.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: strings.Repeat("A", len(ck.Value))}})
	for _, tc := range []struct {
		name    string
		browser *http.Client
		path    string
		want    int
	}{
		{"the session's overview", browser, "/", http.StatusOK},
		{"the session's clients", browser, "/clients", http.StatusOK},
		{"the login URL again", h.client(), "/login?token=" + url.QueryEscape(h.Console.LoginToken()), http.StatusUnauthorized},
		{"a wrong token", h.client(), "/login?token=nope", http.StatusUnauthorized},
		{"no cookie", h.client(), "/", http.StatusUnauthorized},
		{"no cookie, clients", h.client(), "/clients", http.StatusUnauthorized},
		{"no cookie, verification status", h.client(), "/audit/verify/status", http.StatusUnauthorized},
		{"a forged cookie", forged, "/clients", http.StatusUnauthorized},
		{"an unknown page", browser, "/nowhere", http.StatusNotFound},
		{"the stylesheet, without a session", h.client(), "/static/console.css", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := h.get(tc.browser, tc.path)
			if status != tc.want {
				t.Fatalf("GET %s: %d; want %d\n%s", tc.path, status, tc.want, body)
			}
			if status == http.StatusUnauthorized && strings.Contains(body, `name="csrf"`) {
				t.Error("a refused page carries a CSRF token")
			}
		})
	}
}

// TestSessionIdle: a session unused for --session-idle ends.
func TestSessionIdle(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	h := start(t, testdb.All[0], startOptions{Clock: clk, SessionIdle: 10 * time.Minute})
	browser := h.login()
	for _, step := range []struct {
		wait time.Duration
		want int
	}{
		{9 * time.Minute, http.StatusOK},
		{9 * time.Minute, http.StatusOK}, // each use starts the idle time again
		{11 * time.Minute, http.StatusUnauthorized},
		{0, http.StatusUnauthorized}, // ended for good
	} {
		clk.Advance(step.wait)
		if status, _ := h.get(browser, "/"); status != step.want {
			t.Fatalf("after %v idle: %d; want %d", step.wait, status, step.want)
		}
	}
}

// TestCSRF: a form without its session's token changes nothing.
func TestCSRF(t *testing.T) {
	h := start(t, testdb.All[0], startOptions{Seed: true})
	browser := h.login()
	reg := registration("csrf-test")
	for _, tc := range []struct {
		name, path, token string
	}{
		{"register, no token", "/clients", ""},
		{"register, another token", "/clients", strings.Repeat("x", 43)},
		{"verify, no token", "/audit/verify", ""},
		{"log out, no token", "/logout", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range reg {
				form[k] = v
			}
			form.Set("csrf", tc.token)
			resp, body := h.post(browser, tc.path, form)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "CSRF") {
				t.Fatalf("POST %s: %s; want 403 naming the CSRF token\n%s", tc.path, resp.Status, body)
			}
		})
	}
	// With its token but from another site's page.
	for _, hd := range [][2]string{{"Origin", "https://evil.example"}, {"Origin", "null"}, {"Sec-Fetch-Site", "cross-site"}} {
		form := url.Values{}
		for k, v := range reg {
			form[k] = v
		}
		form.Set("csrf", h.csrf(browser))
		req, err := http.NewRequest("POST", h.TS.URL+"/clients", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(hd[0], hd[1])
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := h.read(resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "another site") {
			t.Errorf("a form with %s: %s: %s; want 403\n%s", hd[0], hd[1], resp.Status, body)
		}
	}
	if _, _, err := h.Server.Registry().Get(t.Context(), "csrf-test"); err == nil {
		t.Error("a form without its CSRF token registered a client")
	}
	if status, _ := h.get(browser, "/"); status != http.StatusOK {
		t.Errorf("the session ended on a logout without its token: %d", status)
	}
	_, status := h.get(browser, "/audit/verify/status")
	var st struct{ Began time.Time }
	if err := json.Unmarshal([]byte(status), &st); err != nil || !st.Began.IsZero() {
		t.Errorf("a verification without its CSRF token started: %s", status)
	}
}

// TestSecurityHeaders: every page has the strict CSP, is never cached
// and never framed; no page holds inline script or style.
func TestSecurityHeaders(t *testing.T) {
	h := start(t, testdb.All[0], startOptions{Seed: true})
	browser := h.login()
	scripts := regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`)
	inline := regexp.MustCompile(`(?i)\son[a-z]+\s*=|\sstyle\s*=|<style|javascript:`)
	for _, path := range []string{"/", "/clients", "/audit/verify", "/nowhere"} {
		resp, err := browser.Get(h.TS.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		page := h.read(resp)
		hd := resp.Header
		csp := hd.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q allows inline or eval'd script", path, csp)
		}
		if hd.Get("Cache-Control") != "no-store" || hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("X-Frame-Options") != "DENY" || hd.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s: headers %v", path, hd)
		}
		if m := inline.FindString(page); m != "" {
			t.Errorf("%s: inline script or style %q", path, m)
		}
		for _, m := range scripts.FindAllStringSubmatch(page, -1) {
			if !strings.Contains(m[1], `src="/static/`) || strings.TrimSpace(m[2]) != "" {
				t.Errorf("%s: script %q is not the console's own file", path, m[0])
			}
		}
		if strings.Count(page, "<script") != len(scripts.FindAllString(page, -1)) {
			t.Errorf("%s: a script tag is not closed", path)
		}
	}
}

// registration is a valid registration form for clientID.
func registration(clientID string) url.Values {
	return url.Values{
		"name": {"Acme directory sync"}, "organization": {"Organization/Acme"}, "organization_name": {"Acme"},
		"jwks": {publicJWKS()}, "scope": {"system/*.rs"}, "client_id": {clientID}, "roles": {"payer"},
	}
}

// publicJWKS is a JWK Set holding a fresh EC P-384 public key.
func publicJWKS() string {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		panic(err)
	}
	pub, err := key.PublicKey.Bytes() // uncompressed point: 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	jwk := map[string]string{"kty": "EC", "crv": "P-384", "kid": "k1", "alg": "ES384", "use": "sig", "x": enc(pub[1:49]), "y": enc(pub[49:])}
	b, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	return string(b)
}

// TestClients: registration with the CLI's validation, the list, one
// client's page, disable and enable; each change is recorded once, with
// the change, naming the operator and the session.
func TestClients(t *testing.T) {
	forEachBackend(t, startOptions{}, func(t *testing.T, h *harness) {
		browser := h.login()
		refused := []struct {
			name, field, value, says string
		}{
			{"no name", "name", "", "name"},
			{"an unknown scope", "scope", "system/Nothing.rs", "Nothing"},
			{"no key", "jwks", "", "keys"},
			{"a broken key set", "jwks", `{"keys":[{"kty":"EC"}]}`, "jwks"},
			{"no organization", "organization", "Practitioner/1", "organization"},
			{"a bad client_id", "client_id", "bad id!", "client_id"},
		}
		for _, tc := range refused {
			t.Run("refused: "+tc.name, func(t *testing.T) {
				form := registration("acme-sync")
				form.Set(tc.field, tc.value)
				resp, body := h.post(browser, "/clients", form)
				if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="register-error"`) || !strings.Contains(body, tc.says) {
					t.Fatalf("%s: %s; want 422 with an error naming %q\n%s", tc.name, resp.Status, tc.says, body)
				}
			})
		}
		if regs, _, err := h.Server.Registry().List(t.Context()); err != nil || len(regs) != 0 {
			t.Fatalf("refused forms registered %d clients (%v)", len(regs), err)
		}

		resp, _ := h.post(browser, "/clients", registration("acme-sync"))
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/clients/acme-sync" {
			t.Fatalf("register: %s to %q", resp.Status, resp.Header.Get("Location"))
		}
		_, list := h.get(browser, "/clients")
		if !strings.Contains(list, `href="/clients/acme-sync"`) || !strings.Contains(list, "Organization/Acme") {
			t.Errorf("the list lacks the client:\n%s", list)
		}
		for _, verb := range []string{"disable", "enable"} {
			resp, _ := h.post(browser, "/clients/acme-sync/"+verb, url.Values{})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s: %s", verb, resp.Status)
			}
			reg, _, err := h.Server.Registry().Get(t.Context(), "acme-sync")
			if err != nil || reg.Disabled != (verb == "disable") {
				t.Fatalf("after %s: disabled = %v, %v", verb, reg != nil && reg.Disabled, err)
			}
			_, page := h.get(browser, "/clients/acme-sync")
			state := map[string]string{"disable": "disabled", "enable": "active"}[verb]
			if !regexp.MustCompile(`id="client-state"><span class="[a-z]+">` + state).MatchString(page) {
				t.Errorf("after %s the page does not say %s", verb, state)
			}
		}
		if resp, _ := h.post(browser, "/clients/nobody/disable", url.Values{}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("disable an unknown client: %s", resp.Status)
		}
		if status, _ := h.get(browser, "/clients/nobody"); status != http.StatusNotFound {
			t.Errorf("an unknown client's page: %d", status)
		}

		changes, refusedRecords, pageViews := consoleRecords(t, h)
		if want := []string{"clients-add", "clients-disable", "clients-enable"}; strings.Join(changes, " ") != strings.Join(want, " ") {
			t.Errorf("changes recorded %v; want %v, each once", changes, want)
		}
		if want := len(refused) + 1; refusedRecords != want { // the refused forms and the unknown client's disable
			t.Errorf("%d refused changes recorded; want %d", refusedRecords, want)
		}
		if pageViews == 0 {
			t.Error("no page view was recorded")
		}
	})
}

// consoleRecords reads the audit chain: the subtypes of the console's
// registration changes, in order, how many refused change requests were
// recorded, and how many other records name the console's session. A
// change is recorded once, by its own record; every record names the
// operator and session.
func consoleRecords(t *testing.T, h *harness) (changes []string, refused, others int) {
	t.Helper()
	links, err := h.Store.AuditChain(t.Context(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	session := regexp.MustCompile(`operator tester \(vhdir console, session [0-9a-f]{8}\)`)
	for _, l := range links {
		body := string(l.Body)
		if !session.MatchString(body) {
			continue
		}
		f, err := store.AuditFieldsOf(l.Body)
		if err != nil {
			t.Fatal(err)
		}
		if f.Client != "operator:tester" {
			t.Errorf("record %d names client %q", l.Seq, f.Client)
		}
		if strings.HasPrefix(f.Subtype.Code, "clients-") {
			changes = append(changes, f.Subtype.Code)
		} else {
			// The request line is the query entity's, base64: "POST /client" is 12 bytes.
			switch post := strings.Contains(body, `"query":"`+base64.StdEncoding.EncodeToString([]byte("POST /client"))); {
			case post && f.Outcome == "0":
				t.Errorf("record %d records a change's request besides the change's own record:\n%s", l.Seq, body)
			case post:
				refused++
			default:
				others++
			}
		}
	}
	return changes, refused, others
}

// TestOverview: the overview's figures are the database's.
func TestOverview(t *testing.T) {
	forEachBackend(t, startOptions{Seed: true}, func(t *testing.T, h *harness) {
		browser := h.login()
		// The page shows the head before its own record.
		head, err := h.Store.AuditHead(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		status, page := h.get(browser, "/")
		if status != http.StatusOK {
			t.Fatalf("overview: %d\n%s", status, page)
		}
		orgs, err := h.Store.Search(t.Context(), &store.Query{Types: []string{"Organization"}, Total: store.TotalAccurate, Viewer: store.SeeAll})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"head <code>" + strconv.FormatInt(head.Seq, 10) + "</code>",
			`<td><a href="/data/Organization">Organization</a></td><td class="num">` + strconv.FormatInt(orgs.Total, 10) + "</td>",
			`<td>database</td><td class="ok">ok</td>`,
			`<td>audit</td><td class="ok">ok</td>`,
			"not verified since this console started",
		} {
			if !strings.Contains(page, want) {
				t.Errorf("overview lacks %q", want)
			}
		}
		if orgs.Total == 0 {
			t.Error("no Organization was seeded")
		}
	})
}

// TestVerify: a verification runs in the background and reports an intact
// chain, then names the record edited behind the server's back.
func TestVerify(t *testing.T) {
	forEachBackend(t, startOptions{Seed: true}, func(t *testing.T, h *harness) {
		browser := h.login()
		_, page := h.verify(browser)
		if !strings.Contains(page, `id="verify-intact"`) {
			t.Fatalf("an untouched chain is not reported intact:\n%s", page)
		}
		if _, err := h.Raw.Exec(`UPDATE audit_chain SET body = CAST('{"resourceType":"AuditEvent","id":"forged"}' AS BLOB) WHERE seq = 3`); err != nil {
			if _, err := h.Raw.Exec(`UPDATE audit_chain SET body = convert_to('{"resourceType":"AuditEvent","id":"forged"}', 'UTF8') WHERE seq = 3`); err != nil {
				t.Fatal(err)
			}
		}
		_, page = h.verify(browser)
		if !strings.Contains(page, `id="verify-problem"`) || !strings.Contains(page, "audit record 3") || !strings.Contains(page, "2 records before it are intact") {
			t.Fatalf("the edited record is not named:\n%s", page)
		}
		_, overview := h.get(browser, "/")
		if !strings.Contains(overview, "audit record 3") {
			t.Error("the overview does not show the last verification's problem")
		}
	})
}

// verify starts a verification and waits for its result page.
func (h *harness) verify(browser *http.Client) (int, string) {
	h.t.Helper()
	resp, _ := h.post(browser, "/audit/verify", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("start verification: %s", resp.Status)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, status := h.get(browser, "/audit/verify/status")
		var st struct{ Running bool }
		if err := json.Unmarshal([]byte(status), &st); err != nil {
			h.t.Fatalf("status %q: %v", status, err)
		}
		if !st.Running {
			return h.get(browser, "/audit/verify")
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatal("the verification did not end")
	return 0, ""
}

// TestOverviewRecounts: the overview shows figures counted at most a
// minute before without waiting for them, and counts them again in the
// background once they are older.
func TestOverviewRecounts(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	h := start(t, testdb.All[0], startOptions{Clock: clk})
	browser := h.login()
	orgs := func() string {
		_, page := h.get(browser, "/")
		m := regexp.MustCompile(`Organization</a></td><td class="num">(\d+)<`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no Organization count on the overview:\n%s", page)
		}
		return m[1]
	}
	if n := orgs(); n != "0" {
		t.Fatalf("an empty directory counts %s Organizations", n)
	}
	if _, _, err := h.Server.SeedExamples(server.AsOperator(t.Context(), "tester", "test")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second)
	if n := orgs(); n != "0" {
		t.Errorf("figures half a minute old were counted again on the page: %s", n)
	}
	clk.Advance(time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for n := orgs(); n == "0"; n = orgs() {
		if time.Now().After(deadline) {
			t.Fatal("figures older than a minute were not counted again")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
