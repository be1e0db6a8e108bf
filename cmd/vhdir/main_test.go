package main

import (
	"bytes"
	"context"
	"crypto/fips140"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"github.com/vhdir/vhdir/internal/store"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, io.Discard); code != 0 {
		t.Fatalf("vhdir version exit = %d", code)
	}
	// The test runs in both modes (make test-fips sets GODEBUG=fips140=on),
	// and under GOFIPS140=v1.0.0 too: the mode and the module's version
	// are named either way.
	mode := "off"
	if fips140.Enabled() {
		mode = "on"
	}
	for _, want := range []string{"vhdir ", "go go1.", "fips140 " + mode + ", module " + fips140.Version() + " ("} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version output %q lacks %q", out.String(), want)
		}
	}
}

func TestFIPSDescription(t *testing.T) {
	tests := []struct {
		enabled bool
		module  string
		want    string
	}{
		{true, "v1.0.0", "on, module v1.0.0 (CMVP validated)"},
		{false, "v1.0.0", "off, module v1.0.0 (CMVP validated)"},
		{true, "latest", "on, module latest (not validated)"},
		{false, "latest", "off, module latest (not validated)"},
		{true, "v1.26.0", "on, module v1.26.0 (not validated)"},
	}
	for _, tt := range tests {
		if got := fipsDescription(tt.enabled, tt.module); got != tt.want {
			t.Errorf("fipsDescription(%v, %q) = %q; want %q", tt.enabled, tt.module, got, tt.want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"nope"}, 2},
		{[]string{"load"}, 2},
		{[]string{"serve", "--tls-cert", "x.pem"}, 1},
		{[]string{"serve", "--bogus"}, 1},
		{[]string{"serve", "--help"}, 0},
		{[]string{"serve", "--audit-syslog", "no-port"}, 1},
		{[]string{"serve", "--cors-origins", "app.example.org"}, 1},
		{[]string{"serve", "--cors-origins", "*,https://app.example.org"}, 1},
		{[]string{"serve", "--max-bundle-entries", "0"}, 1},
		{[]string{"load", "--max-bundle-entries", "0", "x.json"}, 1},
		{[]string{"audit"}, 2},
		{[]string{"audit", "verify", "--bogus"}, 1},
	}
	for _, tt := range tests {
		if code := run(context.Background(), tt.args, io.Discard, io.Discard); code != tt.code {
			t.Errorf("vhdir %v exit = %d; want %d", tt.args, code, tt.code)
		}
	}
}

// TestCORSOriginsFlag: a malformed --cors-origins (or VHDIR_CORS_ORIGINS)
// stops serve at start with a message naming the flag and the problem.
func TestCORSOriginsFlag(t *testing.T) {
	tests := []struct {
		name, flag, env, want string
	}{
		{"no scheme", "app.example.org", "", "scheme://host"},
		{"path", "https://app.example.org/app", "", "no path"},
		{"star in a list", "*,https://app.example.org", "", "goes alone"},
		{"empty item", "https://app.example.org,", "", "scheme://host"},
		{"bad port", "https://app.example.org:0", "", "port"},
		{"env twin", "", "ftp://app.example.org", "VHDIR_CORS_ORIGINS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("VHDIR_DB", "sqlite:"+filepath.Join(t.TempDir(), "never-opened.db"))
			args := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}
			if tt.flag != "" {
				args = append(args, "--cors-origins", tt.flag)
			}
			if tt.env != "" {
				t.Setenv("VHDIR_CORS_ORIGINS", tt.env)
			}
			// Cancelled: were the value let through, serve would stop at once.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var errs bytes.Buffer
			code := run(ctx, args, io.Discard, &errs)
			if code != 1 || !strings.Contains(errs.String(), tt.want) || !strings.Contains(errs.String(), "cors") {
				t.Errorf("vhdir %s (VHDIR_CORS_ORIGINS=%q) = %d, %q; want 1 naming the flag and %q", strings.Join(args, " "), tt.env, code, errs.String(), tt.want)
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeSeedAndDrain starts the real server on the embedded database
// with the IG examples, then stops it (as SIGTERM does) while a request is
// in flight: the request completes and the server exits cleanly.
func TestServeSeedAndDrain(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	t.Setenv("VHDIR_DB", "sqlite:"+filepath.Join(dir, "vhdir.db")) // the env twin of --db
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--data-dir", filepath.Join(dir, "data"), "--seed-examples", "--log-format", "json"}, io.Discard, logs)
	}()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the development certificate
	base := "https://" + addr
	waitReady(t, client, base, done, logs)
	if !strings.Contains(logs.String(), `"fips140":"`+fipsMode()+`"`) || !strings.Contains(logs.String(), "self-signed development certificate") {
		t.Errorf("start-up log lacks FIPS or TLS mode: %s", logs.String())
	}
	resp, err := client.Get(base + "/fhir/Practitioner/practitioner1")
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("read without a token = %v, %v; want 401 with a Bearer challenge", resp, err)
	}
	resp.Body.Close()

	// The operator's path: a key pair, a registration, a token.
	token := clientToken(t, dir, base, "system/*.rs system/Organization.c system/AuditEvent.rs")
	get, _ := http.NewRequest(http.MethodGet, base+"/fhir/Practitioner/practitioner1", nil)
	get.Header.Set("Authorization", "Bearer "+token)
	resp, err = client.Do(get)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("read seeded example with a token = %v, %v", resp, err)
	}
	resp.Body.Close()

	intro, _ := http.NewRequest(http.MethodPost, base+"/auth/introspect", strings.NewReader("token="+token))
	intro.Header.Set("Authorization", "Bearer "+token)
	intro.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(intro)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("introspect = %v, %v", resp, err)
	}
	resp.Body.Close()

	// Everything so far left its AuditEvent: the seeding, the registration,
	// the refused read, the token, the read, the introspection.
	for query, want := range map[string]string{
		"subtype=introspect&agent:identifier=urn:vhdir:client-id|test-payer": `"code":"introspect"`,
		"subtype=load":        "the VhDir IG examples",
		"subtype=clients-add": "client test-payer",
		"outcome=4&type=rest": "no valid access token",
		"subtype=ITI-71":      "urn:vhdir:access-token:",
		"subtype=read&agent:identifier=urn:vhdir:client-id|test-payer": "Practitioner/practitioner1/_history/1",
	} {
		req, _ := http.NewRequest(http.MethodGet, base+"/fhir/AuditEvent?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("AuditEvent?%s = %d, lacks %q: %.600s", query, resp.StatusCode, want, b)
		}
	}

	exportRoundTrip(t, client, base, token)

	// A create whose body arrives slowly is in flight when the stop comes.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, base+"/fhir/Organization", pr)
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Authorization", "Bearer "+token)
	result := make(chan int, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	body := `{"resourceType":"Organization","active":true,"type":[{"text":"Clinic"}],"name":"In flight"}`
	if _, err := pw.Write([]byte(body[:20])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the request reach the handler
	stop()
	time.Sleep(100 * time.Millisecond) // shutdown has begun
	if _, err := pw.Write([]byte(body[20:])); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if code := <-result; code != http.StatusCreated {
		t.Errorf("in-flight create during shutdown = %d; want 201", code)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit = %d; logs %s", code, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(logs.String(), "draining in-flight requests") || !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("shutdown not logged: %s", logs.String())
	}
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"audit", "verify"}, &out, &errs); code != 0 || !strings.Contains(out.String(), "audit trail intact") {
		t.Errorf("audit verify = %d: %s %s", code, out.String(), errs.String())
	}
	head := regexp.MustCompile(`head (\d+:[0-9a-f]{64})`).FindStringSubmatch(out.String())
	if head == nil {
		t.Fatalf("audit verify printed no head: %s", out.String())
	}
	if code := run(context.Background(), []string{"audit", "verify", "--expect", head[1], "--quiet"}, io.Discard, io.Discard); code != 0 {
		t.Errorf("audit verify --expect its own head = %d", code)
	}
	seq, _, _ := strings.Cut(head[1], ":")
	if code := run(context.Background(), []string{"audit", "verify", "--expect", seq + ":" + strings.Repeat("0", 64)}, io.Discard, io.Discard); code != 1 {
		t.Errorf("audit verify --expect another hash = %d; want 1", code)
	}
}

// exportRoundTrip runs a bulk export as a client would: kick-off, polls,
// the manifest, a download with the bearer token; each step is audited.
func exportRoundTrip(t *testing.T, client *http.Client, base, token string) {
	t.Helper()
	call := func(method, url string, header map[string]string) (*http.Response, []byte) {
		req, _ := http.NewRequest(method, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	_, meta := call("GET", base+"/fhir/metadata", nil)
	if !strings.Contains(string(meta), "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export") {
		t.Errorf("the CapabilityStatement does not offer $export")
	}
	resp, b := call("GET", base+"/fhir/$export?_type=Practitioner,Organization", map[string]string{"Prefer": "respond-async", "Accept": "application/fhir+json"})
	status := resp.Header.Get("Content-Location")
	if resp.StatusCode != http.StatusAccepted || !strings.HasPrefix(status, base+"/fhir/$export-status/") {
		t.Fatalf("kick-off = %d %s (Content-Location %q)", resp.StatusCode, b, status)
	}
	var m struct {
		Output []struct {
			Type, URL string
			Count     int
		}
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, b = call("GET", status, nil)
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("manifest: %v %s", err, b)
			}
			break
		}
		if resp.StatusCode != http.StatusAccepted || time.Now().After(deadline) {
			t.Fatalf("status = %d %s", resp.StatusCode, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(m.Output) != 2 {
		t.Fatalf("manifest output %+v", m.Output)
	}
	resp, b = call("GET", m.Output[0].URL, map[string]string{"Accept": "application/fhir+ndjson"})
	if resp.StatusCode != http.StatusOK || bytes.Count(b, []byte("\n")) != m.Output[0].Count || m.Output[0].Count == 0 {
		t.Errorf("download = %d, %d lines for count %d", resp.StatusCode, bytes.Count(b, []byte("\n")), m.Output[0].Count)
	}
	for _, sub := range []string{"export", "export-status", "export-download"} {
		_, b := call("GET", base+"/fhir/AuditEvent?subtype="+sub+"&agent:identifier=urn:vhdir:client-id|test-payer", nil)
		if !strings.Contains(string(b), `"total":`) || strings.Contains(string(b), `"total":0`) {
			t.Errorf("no AuditEvent of subtype %s: %.400s", sub, b)
		}
	}
}

// clientToken makes a key pair, registers a client with scope on the
// database the server uses (VHDIR_DB), and gets a token with the token
// command, trusting the server's development certificate.
func clientToken(t *testing.T, dir, base, scope string) string {
	t.Helper()
	ctx := context.Background()
	var out, errs bytes.Buffer
	prefix := filepath.Join(dir, "client")
	if code := run(ctx, []string{"keygen", "--out", prefix}, &out, &errs); code != 0 {
		t.Fatalf("keygen = %d: %s", code, errs.String())
	}
	out.Reset()
	if code := run(ctx, []string{"clients", "add", "--name", "Test payer", "--organization", "Organization/acme",
		"--jwks-file", prefix + ".jwks.json", "--scope", scope, "--client-id", "test-payer"}, &out, &errs); code != 0 {
		t.Fatalf("clients add = %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), `"client_id": "test-payer"`) || !strings.Contains(out.String(), `"status": "active"`) {
		t.Errorf("clients add printed %s", out.String())
	}
	out.Reset()
	if code := run(ctx, []string{"token", "--server", base, "--client-id", "test-payer", "--key", prefix + ".key.json",
		"--scope", scope, "--ca", filepath.Join(dir, "data", "tls", "dev-cert.pem")}, &out, &errs); code != 0 {
		t.Fatalf("token = %d: %s", code, errs.String())
	}
	return strings.TrimSpace(out.String())
}

func waitReady(t *testing.T, client *http.Client, base string, done chan int, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case code := <-done:
			t.Fatalf("serve exited early with %d: %s", code, logs.String())
		default:
		}
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server not ready: %s", logs.String())
}

func TestLoadExitCode(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "in.ndjson")
	if err := os.WriteFile(file, []byte(`{"resourceType":"Organization","id":"ok","active":true,"type":[{"text":"Clinic"}],"name":"OK"}`+"\n"+`{"resourceType":"Organization","id":"bad","active":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite:" + filepath.Join(dir, "db")
	var out bytes.Buffer
	if code := run(context.Background(), []string{"load", "--db", db, file}, &out, io.Discard); code != 1 {
		t.Errorf("load with a bad resource exit = %d; want 1", code)
	}
	if !strings.Contains(out.String(), "in.ndjson:2 (Organization/bad): Organization.active") {
		t.Errorf("summary does not name the bad line: %s", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"load", "--db", db, "--keep-going", file}, &out, io.Discard); code != 0 {
		t.Errorf("load --keep-going exit = %d; want 0", code)
	}
	if !strings.Contains(out.String(), "1 unchanged, 1 failed") {
		t.Errorf("second load summary = %s", out.String())
	}
	if code := run(context.Background(), []string{"load", "--db", db, filepath.Join(dir, "missing")}, io.Discard, io.Discard); code != 1 {
		t.Errorf("load of a missing path exit = %d; want 1", code)
	}
	// A transaction Bundle runs through the FHIR pipeline as the operator:
	// authorized, with a Provenance per entry, and the load audited once.
	bundle := filepath.Join(dir, "tx.json")
	if err := os.WriteFile(bundle, []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Organization","id":"tx1","active":true,"type":[{"text":"Clinic"}],"name":"Tx"},"request":{"method":"PUT","url":"Organization/tx1"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	var errs bytes.Buffer
	if code := run(context.Background(), []string{"load", "--db", db, bundle}, &out, &errs); code != 0 {
		t.Fatalf("load of a transaction Bundle = %d: %s %s", code, out.String(), errs.String())
	}
	st, err := openStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.History(context.Background(), store.HistoryQuery{Type: "Provenance", Count: 10})
	if err != nil || len(page.Versions) == 0 || !strings.Contains(string(page.Versions[0].Body), `"operator:`) {
		t.Errorf("Provenance after the load: %v, %v; want one naming the operator", page, err)
	}
	// The load's record is in the chain.
	links, err := st.(store.AuditStore).AuditChain(context.Background(), 0, 100)
	if err != nil || len(links) == 0 || !strings.Contains(string(links[len(links)-1].Body), `(vhdir load)`) {
		t.Errorf("audit chain after the load: %d links, %v; want the last naming (vhdir load)", len(links), err)
	}
}

// TestLoadBundleEntryLimit: vhdir load refuses a batch or transaction
// file with more entries than its --max-bundle-entries (or the env twin)
// whole, naming the flag, and loads one within it.
func TestLoadBundleEntryLimit(t *testing.T) {
	dir := t.TempDir()
	var entries []string
	for i := range 3 {
		entries = append(entries, fmt.Sprintf(`{"resource":{"resourceType":"Organization","id":"o%d","active":true,"type":[{"text":"Clinic"}],"name":"Org"},"request":{"method":"PUT","url":"Organization/o%d"}}`, i, i))
	}
	for _, typ := range []string{"transaction", "batch"} {
		body := `{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(entries, ",") + `]}`
		if err := os.WriteFile(filepath.Join(dir, typ+".json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, file string
		args       []string
		env        string // VHDIR_MAX_BUNDLE_ENTRIES
		code       int
		want       string
	}{
		{"transaction over the limit", "transaction.json", []string{"--max-bundle-entries", "2"}, "", 1, "0 resources written"},
		{"batch over the limit", "batch.json", []string{"--max-bundle-entries", "2"}, "", 1, "0 resources written"},
		{"env twin", "transaction.json", nil, "2", 1, "0 resources written"},
		{"flag over env twin", "transaction.json", []string{"--max-bundle-entries", "3"}, "2", 0, "3 resources written"},
		{"at the limit", "batch.json", []string{"--max-bundle-entries", "3"}, "", 0, "3 resources written"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("VHDIR_MAX_BUNDLE_ENTRIES", tt.env)
			}
			db := "sqlite:" + filepath.Join(dir, fmt.Sprintf("db%d", i))
			args := append(append([]string{"load", "--db", db}, tt.args...), filepath.Join(dir, tt.file))
			var out, errs bytes.Buffer
			if code := run(context.Background(), args, &out, &errs); code != tt.code {
				t.Errorf("vhdir %v exit = %d; want %d: %s %s", args, code, tt.code, out.String(), errs.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("vhdir %v printed\n%s\nwant it to contain %q", args, out.String(), tt.want)
			}
			if tt.code == 0 {
				return
			}
			for _, w := range []string{"has 3 entries", "at most 2", "--max-bundle-entries"} {
				if !strings.Contains(out.String(), w) {
					t.Errorf("vhdir %v printed\n%s\nwant the problem to name %q", args, out.String(), w)
				}
			}
		})
	}
}

// TestClientsCommands: registration through the CLI, on the database
// directly; bad registrations are refused with a reason and store nothing.
// TestLoadLenient runs vhdir load on internal/load's lenient fixture:
// strictly every mismatched primitive fails; --lenient (or its env twin)
// loads the repairable ones and prints a warning per repair, and the exit
// status counts only what failed.
func TestLoadLenient(t *testing.T) {
	const fixture = "../../internal/load/testdata/lenient"
	dir := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		env     string // VHDIR_LENIENT
		code    int
		want    []string
		notWant string
	}{
		{"strict", []string{fixture}, "", 1,
			[]string{"1 resources written", "data.ndjson:1 (Practitioner/p1): Practitioner.identifier[0].value: expected string (a string), got a number"}, "warnings:"},
		{"lenient", []string{"--lenient", fixture}, "", 1, []string{
			"8 resources written", "1 failed",
			"warnings:\n  " + fixture + "/batch.json entry 0 (Practitioner/p5): repaired Practitioner.identifier[0].value: number 1234567801 → string\n",
			"  " + fixture + "/data.ndjson:1 (Practitioner/p1): repaired Practitioner.identifier[0].value: number 1234567893 → string\n",
			"  " + fixture + `/data.ndjson:3 (Location/l1): repaired Location.position.latitude: string "38.50" → decimal` + "\n",
			"problems:\n  " + fixture + "/data.ndjson:6 (Practitioner/p4): ",
		}, ""},
		{"env twin, nothing failed", []string{fixture + "/single.json"}, "true", 0, []string{
			"1 resources written", "0 failed",
			"warnings:\n  " + fixture + `/single.json (Practitioner/p6): repaired Practitioner.active: string "false" → boolean` + "\n",
		}, "problems:"},
		{"env twin off", []string{fixture + "/single.json"}, "false", 1, []string{"1 failed"}, "warnings:"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("VHDIR_LENIENT", tt.env)
			}
			db := "sqlite:" + filepath.Join(dir, fmt.Sprintf("db%d", i))
			var out, errs bytes.Buffer
			args := append([]string{"load", "--db", db}, tt.args...)
			if code := run(context.Background(), args, &out, &errs); code != tt.code {
				t.Errorf("vhdir %v exit = %d; want %d: %s %s", args, code, tt.code, out.String(), errs.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("vhdir %v printed\n%s\nwant it to contain %q", args, out.String(), w)
				}
			}
			if tt.notWant != "" && strings.Contains(out.String(), tt.notWant) {
				t.Errorf("vhdir %v printed\n%s\nwant no %q", args, out.String(), tt.notWant)
			}
		})
	}
}

func TestClientsCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("VHDIR_DB", "sqlite:"+filepath.Join(dir, "vhdir.db"))
	ctx := context.Background()
	prefix := filepath.Join(dir, "k")
	var out, errs bytes.Buffer
	if code := run(ctx, []string{"keygen", "--out", prefix, "--alg", "RS384"}, &out, &errs); code != 0 {
		t.Fatalf("keygen = %d: %s", code, errs.String())
	}
	jwks := prefix + ".jwks.json"
	tests := []struct {
		name     string
		args     []string
		code     int
		want     string // in stdout on success, in stderr on failure
		notWants string
	}{
		{"add", []string{"clients", "add", "--name", "HIE", "--organization", "Organization/hie", "--jwks-file", jwks, "--scope", "system/*.rs", "--client-id", "hie"}, 0, `"client_id": "hie"`, ""},
		{"duplicate id", []string{"clients", "add", "--name", "HIE", "--organization", "Organization/hie", "--jwks-file", jwks, "--scope", "system/*.rs", "--client-id", "hie"}, 1, "registered already", ""},
		{"no name", []string{"clients", "add", "--organization", "Organization/x", "--jwks-file", jwks, "--scope", "system/*.rs"}, 1, "needs a name", ""},
		{"both key sources", []string{"clients", "add", "--name", "X", "--organization", "Organization/x", "--jwks-file", jwks, "--jwks-uri", "https://x.example/jwks", "--scope", "system/*.rs"}, 1, "not both", ""},
		{"http jwks uri", []string{"clients", "add", "--name", "X", "--organization", "Organization/x", "--jwks-uri", "http://x.example/jwks", "--scope", "system/*.rs"}, 1, "https", ""},
		{"private key as jwks", []string{"clients", "add", "--name", "X", "--organization", "Organization/x", "--jwks-file", prefix + ".key.json", "--scope", "system/*.rs"}, 1, "jwks", ""},
		{"not an organization", []string{"clients", "add", "--name", "X", "--organization", "Practitioner/x", "--jwks-file", jwks, "--scope", "system/*.rs"}, 1, "Organization/123", ""},
		{"user scope", []string{"clients", "add", "--name", "X", "--organization", "Organization/x", "--jwks-file", jwks, "--scope", "user/*.rs"}, 1, "system/", ""},
		{"unknown type", []string{"clients", "add", "--name", "X", "--organization", "Organization/x", "--jwks-file", jwks, "--scope", "system/Patient.rs"}, 1, "not a resource type served here", ""},
		{"steward", []string{"clients", "add", "--name", "Steward", "--organization", "Organization/op", "--jwks-file", jwks, "--scope", "system/*.rs", "--client-id", "steward", "--sees-restricted", "--role", "shelter-staff,http://example.org/roles|counsellor"}, 0, `"sees_restricted": true`, ""},
		{"bad role", []string{"clients", "add", "--name", "X", "--organization", "Organization/x", "--jwks-file", jwks, "--scope", "system/*.rs", "--role", "a|b|c"}, 1, "role", ""},
		{"list", []string{"clients", "list"}, 0, `"client_id": "hie"`, `"client_id": "X"`},
		{"disable", []string{"clients", "disable", "hie"}, 0, `"status": "disabled"`, ""},
		{"show disabled", []string{"clients", "show", "hie"}, 0, `"status": "disabled"`, ""},
		{"enable", []string{"clients", "enable", "hie"}, 0, `"status": "active"`, ""},
		{"show unknown", []string{"clients", "show", "nobody"}, 1, `no client "nobody"`, ""},
		{"unknown subcommand", []string{"clients", "remove", "hie"}, 2, "unknown subcommand", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out.Reset()
			errs.Reset()
			code := run(ctx, tt.args, &out, &errs)
			got := out.String()
			if code != 0 {
				got = errs.String()
			}
			if code != tt.code || !strings.Contains(got, tt.want) || tt.notWants != "" && strings.Contains(got, tt.notWants) {
				t.Errorf("vhdir %s = %d\nstdout %s\nstderr %s\nwant %d with %q", strings.Join(tt.args, " "), code, out.String(), errs.String(), tt.code, tt.want)
			}
		})
	}
}
