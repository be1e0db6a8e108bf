package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/store/postgres/pgtest"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// TestConsoleBrowser drives the operator console in headless chromium, as
// an operator would, against `vhdir console` as its own process on a real
// database (a SQLite file, a PostgreSQL database) seeded with the IG
// examples: log in with the printed link, register a client and disable
// it, find its records in the audit timeline, verify the chain, search and
// open a Practitioner and its history, then edit a record behind the
// console's back and see the verification name it. Without chromium the
// test is skipped, unless CI=true.
//
// VHDIR_CONSOLE_SCREENSHOT=1 also writes the overview's screenshot to
// docs/console.png (it always goes to the test's temporary folder).
func TestConsoleBrowser(t *testing.T) {
	browser := findChromium(t)
	examples := t.TempDir()
	for _, f := range ig.Examples() {
		if err := os.WriteFile(filepath.Join(examples, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			began := time.Now()
			dir := t.TempDir()
			// On SQLite the console runs in dir on the default database
			// (vhdir-data/vhdir.db), as an operator's would, and the
			// overview shows it so.
			db, consoleDB := "sqlite:"+filepath.Join(dir, "vhdir-data", "vhdir.db"), defaultDB
			if backend == "postgres" {
				db = pgtest.NewDatabase(t)
				consoleDB = db
			}
			if err := os.MkdirAll(filepath.Join(dir, "vhdir-data"), 0o755); err != nil {
				t.Fatal(err)
			}
			seedConsoleDB(t, dir, db, examples)
			con := startConsole(t, dir, consoleDB)
			b := newConsoleBrowser(t, browser, con)
			b.flow(t, backend, db)
			t.Logf("%s: %v", backend, time.Since(began).Round(100*time.Millisecond))
		})
	}
}

// findChromium is the browser's path; without one the test is skipped, or
// fails under CI=true (CI must run it).
func findChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return chromiumPath
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("chromium is required here (CI=true) but %s is missing: apt-get install -y chromium", chromiumPath)
	}
	t.Skipf("skipping the console's browser test: no chromium at %s (apt-get install -y chromium)", chromiumPath)
	return ""
}

// seedConsoleDB loads the IG examples into db, then a second version of
// Practitioner/practitioner1 (its phone changed), so that its history has
// a change to show.
func seedConsoleDB(t *testing.T, dir, db, examples string) {
	t.Helper()
	second := strings.Replace(exampleData("practitioner-example-washington.json"), "202-123-4567", "202-555-0199", 1)
	changed := filepath.Join(dir, "practitioner1-v2.json")
	if err := os.WriteFile(changed, []byte(second), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{examples, changed} {
		var out, errs bytes.Buffer
		if code := run(context.Background(), []string{"load", "--db", db, "--progress", "off", path}, &out, &errs); code != 0 {
			t.Fatalf("vhdir load %s = %d: %s%s", path, code, out.String(), errs.String())
		}
	}
}

// runningConsole is `vhdir console` as its own process.
type runningConsole struct {
	base, login string
	logs        *syncBuffer
}

// loginLine finds the one-time login link in the console's output.
var loginLine = regexp.MustCompile(`(?m)^\s+(https://127\.0\.0\.1:\d+)/login\?token=\S+$`)

// startConsole runs the test binary as `vhdir console` in dir on db over
// TLS with its development certificate (in dir/vhdir-data), on a port of
// the system's choosing, and reads the login link it prints; it is
// stopped as SIGINT does when the test ends.
func startConsole(t *testing.T, dir, db string) *runningConsole {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	out := &watchWriter{logs: logs, re: loginLine, found: make(chan []string, 1)}
	cmd := exec.Command(self, "console", "--db", db, "--addr", "127.0.0.1:0", "--data-dir", "vhdir-data")
	cmd.Dir, cmd.Env = dir, append(readmeEnv(), runAsVhdir+"=1")
	cmd.Stdout, cmd.Stderr = out, logs
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("vhdir console: %v\n%s", err, logs.String())
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("vhdir console did not stop on SIGINT\n%s", logs.String())
		}
	})
	select {
	case m := <-out.found:
		return &runningConsole{base: m[1], login: strings.TrimSpace(m[0]), logs: logs}
	case err := <-exited:
		t.Fatalf("vhdir console exited before printing its login link: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("vhdir console printed no login link within a minute\n%s", logs.String())
	}
	return nil
}

// watchWriter copies a process's output to logs and sends the first match
// of re in it on found.
type watchWriter struct {
	logs  *syncBuffer
	re    *regexp.Regexp
	mu    sync.Mutex
	seen  bytes.Buffer
	found chan []string
	sent  bool
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.logs.Write(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.sent {
		w.seen.Write(p)
		if m := w.re.FindStringSubmatch(w.seen.String()); m != nil {
			w.found <- m
			w.sent = true
		}
	}
	return len(p), nil
}

// consoleBrowser is one headless chromium with one tab on a console.
type consoleBrowser struct {
	t   *testing.T
	ctx context.Context // the tab
	con *runningConsole

	mu        sync.Mutex
	dialogs   []string // the messages of the dialogs accepted
	dialogErr error    // the first failure to accept one

	tooWide map[string]bool // the paths found wider than the window
}

// stepTimeout bounds one step: a page load and what it should show.
const stepTimeout = 30 * time.Second

func newConsoleBrowser(t *testing.T, path string, con *runningConsole) *consoleBrowser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // as root in a container
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		// The console serves its self-signed development certificate.
		chromedp.IgnoreCertErrors,
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &consoleBrowser{t: t, ctx: ctx, con: con, tooWide: map[string]bool{}}
	// The browser starts with no deadline: a step's timeout must not close it.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// A confirmation (data-confirm) blocks the page, and the click that
	// opened it, until it is answered: accept each, from here.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			_, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			b.mu.Lock()
			b.dialogs = append(b.dialogs, ev.Message)
			if err != nil && b.dialogErr == nil {
				b.dialogErr = fmt.Errorf("accept the dialog %q: %w", ev.Message, err)
			}
			b.mu.Unlock()
		}
	}()
	return b
}

// failMarks are what a page shows when the console refused or failed.
const failMarks = "#error, #register-error"

// do runs actions within stepTimeout; on failure it stops the test with
// the page the browser shows.
func (b *consoleBrowser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\n%s", step, err, b.describe())
	}
}

// describe is the current page's address and text, for a failure.
func (b *consoleBrowser) describe() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return fmt.Sprintf("--- the page at %s ---\n%s\n--- the console's log ---\n%s", loc, text, b.con.logs.String())
}

// open loads a console path and waits until want is shown.
func (b *consoleBrowser) open(step, path, want string) {
	b.t.Helper()
	b.do(step, chromedp.Navigate(b.con.base+path))
	b.expect(step, want)
}

// click clicks a button or link and waits for the page it leads to,
// which shows want. The page clicked on is marked first, so that want is
// looked for on the next one only.
func (b *consoleBrowser) click(step, button, want string) {
	b.t.Helper()
	b.do(step,
		chromedp.Evaluate[chromedp.Void](`document.documentElement.setAttribute("data-left", "")`),
		chromedp.Click(chromedp.CSS(button)))
	b.expect(step, want)
}

// expect waits until the page (not one marked as left) shows want or
// says it failed, and stops the test in the second case.
func (b *consoleBrowser) expect(step, want string) {
	b.t.Helper()
	b.do(step, chromedp.WaitVisible(chromedp.CSS(`html:not([data-left]) :is(`+want+`, `+failMarks+`)`)))
	msg := b.eval(step, `(document.querySelector("`+failMarks+`") || {}).textContent || ""`)
	if msg != "" {
		b.t.Fatalf("%s: the console refused or failed: %s\n%s", step, msg, b.describe())
	}
	// A page fits the window's width: a long value (a hash, a path, an
	// id) wraps or scrolls in its box, rather than widening the page.
	wide := b.eval(step, `document.documentElement.scrollWidth > document.documentElement.clientWidth ? location.pathname + " is " + document.documentElement.scrollWidth + "px wide in a " + document.documentElement.clientWidth + "px window" : ""`)
	if path, _, _ := strings.Cut(wide, " "); wide != "" && !b.tooWide[path] {
		b.tooWide[path] = true
		b.t.Errorf("%s: %s", step, wide)
	}
}

// text is the visible text of the first element sel selects.
func (b *consoleBrowser) text(step, sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("%s: text of %s: %v\n%s", step, sel, err, b.describe())
	}
	return s
}

// eval is the string a JavaScript expression evaluates to on the page.
func (b *consoleBrowser) eval(step, expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("%s: %s: %v\n%s", step, expr, err, b.describe())
	}
	return s
}

// count is how many elements sel selects on the page.
func (b *consoleBrowser) count(step, sel string) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
	if err != nil {
		b.t.Fatalf("%s: count %s: %v\n%s", step, sel, err, b.describe())
	}
	return n
}

// contains stops the test unless the text of sel holds each of want.
func (b *consoleBrowser) contains(step, sel string, want ...string) string {
	b.t.Helper()
	got := b.text(step, sel)
	for _, w := range want {
		if !strings.Contains(got, w) {
			b.t.Fatalf("%s: %s shows %q; want it to contain %q\n%s", step, sel, got, w, b.describe())
		}
	}
	return got
}

// screenshot is a PNG of the whole page.
func (b *consoleBrowser) screenshot(step string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
	if err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
	return png
}

func jsString(s string) string {
	j, _ := json.Marshal(s)
	return string(j)
}

// flow is the operator's round through the console.
func (b *consoleBrowser) flow(t *testing.T, backend, db string) {
	// The printed link logs in and lands on the overview.
	b.do("log in", chromedp.Navigate(b.con.login))
	b.expect("log in", "#chain")
	for _, id := range []string{"#database", "#readiness", "#time", "#requests", "#counts"} {
		b.expect("the overview", id)
	}
	b.contains("the overview's chain", "#chain", "head")
	b.contains("the overview's database", "#database", backend)
	b.contains("the overview's counts", "#counts", "Practitioner", "Organization")
	if bad := b.count("the overview's readiness", "#readiness .bad"); bad != 0 {
		t.Errorf("the overview's readiness shows %d failed checks: %s", bad, b.text("readiness", "#readiness"))
	}

	// Register a client with a pasted JWKS, then disable it.
	b.open("the clients page", "/clients", "#register-form")
	// The organization picker offers the directory's Organizations by name.
	b.do("the organization picker",
		chromedp.SendKeys(chromedp.CSS(`#register-form input[name=organization]`), "Founding"),
		chromedp.WaitReady(chromedp.CSS(`#organizations option[value="Organization/foundingfathers"]`)))
	fill := map[string]string{
		"name":              "Browser test payer",
		"organization":      "Organization/foundingfathers",
		"organization_name": "Founding Fathers Memorial Hospital",
		"jwks":              testJWKS(t),
		"scope":             "system/*.rs",
		"contacts":          "ops@payer.example",
	}
	for name, value := range fill {
		b.do("fill the registration form", chromedp.SetValue(chromedp.CSS(`#register-form [name=`+name+`]`), value))
	}
	b.click("register the client", `#register-form button[type=submit]`, "#client-id")
	id := strings.TrimSpace(b.text("the new client's page", "#client-id"))
	if id == "" {
		t.Fatal("the new client's page shows no client_id")
	}
	b.contains("the new client's state", "#client-state", "active")
	b.contains("the new client's page", "#registration", "Browser test payer", "Organization/foundingfathers", "system/*.rs", "P-384")
	clientLink := `#clients a[href="/clients/` + id + `"]`
	b.open("the client list", "/clients", clientLink)
	b.click("open the client from the list", clientLink, "#disable")
	b.click("disable the client", "#disable", "#enable")
	b.contains("the disabled client's state", "#client-state", "disabled")
	b.mu.Lock()
	dialogs, dialogErr := strings.Join(b.dialogs, "\n"), b.dialogErr
	b.mu.Unlock()
	if dialogErr != nil {
		t.Error(dialogErr)
	}
	if !strings.Contains(dialogs, "Disable this client?") {
		t.Errorf("disabling asked no confirmation; dialogs: %q", dialogs)
	}
	b.open("the client list after disabling", "/clients", clientLink)
	if row := b.eval("the client list", `document.querySelector(`+jsString(clientLink)+`).closest("tr").innerText`); !strings.Contains(row, "disabled") {
		t.Errorf("the client list shows the disabled client as %q", row)
	}

	// Its registration and its disabling are in the audit timeline,
	// among the registration changes (type 110137), which name the
	// operator as their client and the registered client as their entity.
	b.open("the audit timeline", "/audit", "#audit-filters")
	b.do("filter the timeline by type", chromedp.SetValue(chromedp.CSS(`#audit-filters [name=type]`), "110137"))
	b.click("filter the timeline by type", `#audit-filters button[type=submit]`, "table.audit")
	if loc := b.eval("the filtered timeline", `location.search`); !strings.Contains(loc, "type=110137") {
		t.Errorf("the filter form led to %q; want type=110137 in the query", loc)
	}
	if rows := b.count("the registration changes", `table.audit a[href^="/audit/"]`); rows != 2 {
		t.Fatalf("the timeline lists %d registration changes; want the client's registration and its disabling\n%s", rows, b.describe())
	}
	b.contains("the registration changes", "table.audit", "clients-disable", "clients-add", "operator:")
	b.click("open the newest registration change", `table.audit a[href^="/audit/"]`, "#fields")
	b.contains("the disabling's record", "#f-subtype", "clients-disable")
	b.contains("the disabling's record", "#f-entities", "client "+id, "disabled: true")
	b.contains("the disabling's record", "#f-client", "operator:")

	// The chain verifies.
	b.open("the verification page", "/audit/verify", "#verify-form")
	b.click("verify the chain", "#verify-start", "#verify-intact, #verify-problem, #verify-progress")
	b.expect("the verification's result", "#verify-intact, #verify-problem")
	if b.count("the verification's result", "#verify-problem") != 0 {
		t.Fatalf("the untouched chain does not verify: %s", b.text("verification", "#verify-problem"))
	}
	b.contains("the verification's result", "#verify-intact", "intact")
	b.open("the overview after verifying", "/", "#chain")
	b.contains("the overview's chain after verifying", "#chain", "intact")

	// A Practitioner found by name, its current version and its history.
	b.open("the Practitioner search", "/data/Practitioner", "#data-search")
	b.do("search Practitioners by name", chromedp.SetValue(chromedp.CSS(`#data-search input[name=name]`), "Washington"))
	practitioner := `#results a[href="/data/Practitioner/practitioner1"]`
	b.click("search Practitioners by name", `#data-search button[type=submit]`, practitioner)
	if loc := b.eval("the Practitioner search", `location.search`); !strings.Contains(loc, "name=Washington") {
		t.Errorf("the search form led to %q; want name=Washington in the query", loc)
	}
	if n := b.count("the Practitioner search", `#results a[href^="/data/Practitioner/"]`); n != 1 {
		t.Errorf("the search of Practitioners named Washington lists %d; want practitioner1 alone\n%s", n, b.describe())
	}
	b.click("open the Practitioner", practitioner, "pre#resource")
	b.contains("the Practitioner", "pre#resource", `"practitioner1"`, "202-555-0199")
	b.expect("the Practitioner's history", "section#history div.diff")
	b.contains("the Practitioner's history", "section#history", "version 2", "version 1")
	b.contains("the Practitioner's change", "section#history div.diff", "202-123-4567", "202-555-0199")

	// Browsing the console is no failure: the overview's count of the
	// last day's failures is the directory's, not the browser's.
	b.open("the failures in the timeline", "/audit?outcome=4,8,12", "table.audit")
	var failures []string
	if err := json.Unmarshal([]byte(b.eval("the failures in the timeline", `JSON.stringify([...document.querySelectorAll('table.audit a[href^="/audit/"]')].map(a => a.getAttribute("href")))`)), &failures); err != nil {
		t.Fatal(err)
	}
	for _, href := range failures {
		b.open("a failure record", href, "#fields")
		t.Errorf("browsing the console was recorded as a failure: %s: %s", b.text("a failure record", "#f-outcome-desc"), b.text("a failure record", "#f-entities"))
	}

	// The overview, as the operator sees it: before the tampering below,
	// which it would show.
	b.open("the overview", "/", "#counts")
	shot := b.screenshot("the overview's screenshot")
	if err := os.WriteFile(filepath.Join(t.TempDir(), "console.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("VHDIR_CONSOLE_SCREENSHOT") == "1" && backend == "sqlite" {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "console.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A record edited in the database behind the console's back: the
	// verification names it, and so does the overview.
	seq, recordID := tamperAuditRecord(t, db)
	b.open("the verification page after tampering", "/audit/verify", "#verify-form")
	b.click("verify the tampered chain", "#verify-start", "#verify-intact, #verify-problem, #verify-progress")
	b.expect("the tampered verification's result", "#verify-intact, #verify-problem")
	if b.count("the tampered verification's result", "#verify-intact") != 0 {
		t.Fatalf("a chain with record %d edited verifies intact: %s", seq, b.text("verification", "#verify-intact"))
	}
	b.contains("the tampered verification's result", "#verify-problem", fmt.Sprintf("audit record %d (AuditEvent/%s)", seq, recordID), "edited")
	if n := b.count("the tampered verification's result", `#verify-result a[href="/audit/`+recordID+`"]`); n != 1 {
		t.Errorf("the verification's result links the edited record %d times; want once\n%s", n, b.describe())
	}
	b.open("the overview after tampering", "/", "#chain")
	b.contains("the overview's chain after tampering", "#chain .bad", fmt.Sprintf("audit record %d", seq))

	// The login link works once.
	b.do("the login link again", chromedp.Navigate(b.con.login), chromedp.WaitVisible(chromedp.CSS("#error")))
	b.contains("the login link again", "#error", "not valid or was used")
}

// testJWKS is a JWK Set of one new EC P-384 public key, as an operator
// pastes it.
func testJWKS(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, err := key.PublicKey.Bytes() // 0x04 || x || y
	if err != nil {
		t.Fatal(err)
	}
	x, y := point[1:49], point[49:]
	set, err := json.MarshalIndent(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-384", "kid": "browser-test", "alg": "ES384", "use": "sig",
		"x": base64.RawURLEncoding.EncodeToString(x), "y": base64.RawURLEncoding.EncodeToString(y),
	}}}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(set)
}

// tamperAuditRecord edits one record's stored AuditEvent in the database,
// as an intruder hiding a request's outcome would: the earliest record but
// the chain's first whose body says "outcome":"0". It returns the
// record's chain position and id.
func tamperAuditRecord(t *testing.T, db string) (int64, string) {
	t.Helper()
	driver, dsn, update := "pgx", db, "UPDATE audit_chain SET body = $1 WHERE seq = $2"
	if path, ok := strings.CutPrefix(db, "sqlite:"); ok {
		// The chain lives in a file of its own beside the database.
		driver, dsn, update = "sqlite", "file:"+path+"-audit?_pragma=busy_timeout(10000)", "UPDATE audit_chain SET body = ? WHERE seq = ?"
	}
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := raw.QueryContext(ctx, "SELECT seq, res_id, body FROM audit_chain WHERE seq > 1 ORDER BY seq LIMIT 100")
	if err != nil {
		t.Fatal(err)
	}
	var (
		seq  int64
		id   string
		body []byte
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &id, &body); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(body, []byte(`"outcome":"0"`)) {
			break
		}
		body = nil
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		t.Fatal(err)
	}
	if body == nil {
		t.Fatal(`no audit record after the first says "outcome":"0"`)
	}
	edited := bytes.Replace(body, []byte(`"outcome":"0"`), []byte(`"outcome":"4"`), 1)
	res, err := raw.ExecContext(ctx, update, edited, seq)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("edit audit record %d: %d rows, %v", seq, n, err)
	}
	return seq, id
}
