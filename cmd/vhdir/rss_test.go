package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/store/postgres/pgtest"
)

// rssBodyBytes is the size of each body: just under the default --max-body.
const rssBodyBytes = 16<<20 - 64<<10

// rssBound is what three of them at once may take: the server's peak
// resident set (VmHWM), whatever their shape.
const rssBound = 600 << 20

// growthBound is how many times its body a request may grow the server's
// resident set: any request on PostgreSQL, and on SQLite a second one of
// its shape, the first having grown the heap and the store's bounded page
// caches.
const growthBound = 10

// largeBody is a body of one shape, about rssBodyBytes long, and the
// status the server answers it with.
type largeBody struct {
	name, path string
	body       []byte
	status     int
}

// largeBodies are the shapes a hostile or careless client can send to
// make the server build the most: one large array of tiny strings, many
// small objects, one huge string, deep nesting within the depth limit,
// numbers; and the most a body may hold and still be stored: an array of
// long strings just under the bound on values, and a transaction of
// 10,000 ordinary resources.
func largeBodies() []largeBody {
	fill := func(head, item, tail string) []byte {
		var b bytes.Buffer
		b.WriteString(head)
		for i := 0; b.Len()+len(item)+len(tail) < rssBodyBytes; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(item)
		}
		b.WriteString(tail)
		return b.Bytes()
	}
	org := `{"resourceType":"Organization","active":true,"name":"Large body",`
	nested := strings.Repeat(`{"url":"http://example.org/x","extension":[`, 98) + `{"url":"http://example.org/x","valueString":"x"}` + strings.Repeat(`]}`, 98)
	var long bytes.Buffer
	long.WriteString(org + `"alias":[`)
	n := 99_000
	item := `"` + strings.Repeat("a", rssBodyBytes/n-4) + `"`
	for i := range n {
		if i > 0 {
			long.WriteByte(',')
		}
		long.WriteString(item)
	}
	long.WriteString(`]}`)
	var tx bytes.Buffer
	tx.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[`)
	// Practitioners of the usual shape, their narrative filling the body.
	const entries = 10_000
	entry := func(i int, pad string) string {
		return fmt.Sprintf(`{"resource":{"resourceType":"Practitioner","active":true,"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">%s</div>"},"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"%d"}],"name":[{"family":"Family%d","given":["Given%d"]}],"telecom":[{"system":"phone","value":"555-%04d"}],"address":[{"city":"Boston","state":"MA","postalCode":"02118"}]},"request":{"method":"POST","url":"Practitioner"}}`, pad, 1000000000+i, i, i, i%10000)
	}
	pad := strings.Repeat("x", (rssBodyBytes-100)/entries-len(entry(entries, ""))-1)
	for i := range entries {
		if i > 0 {
			tx.WriteByte(',')
		}
		tx.WriteString(entry(i, pad))
	}
	tx.WriteString(`]}`)
	return []largeBody{
		{"tiny strings", "/fhir/Organization", fill(org+`"alias":[`, `"a"`, `]}`), http.StatusRequestEntityTooLarge},
		{"small objects", "/fhir/Organization", fill(org+`"telecom":[`, `{"system":"phone","value":"5"}`, `]}`), http.StatusRequestEntityTooLarge},
		{"huge string", "/fhir/Organization", []byte(org + `"extension":[{"url":"http://example.org/blob","valueBase64Binary":"` + strings.Repeat("QUFB", (rssBodyBytes-200)/4) + `"}]}`), http.StatusCreated},
		{"deep nesting", "/fhir/Organization", fill(org+`"extension":[`, nested, `]}`), http.StatusRequestEntityTooLarge},
		{"numbers", "/fhir/Organization", fill(org+`"alias":[`, `1.5`, `]}`), http.StatusRequestEntityTooLarge},
		{"long strings under the value bound", "/fhir/Organization", long.Bytes(), http.StatusCreated},
		{"transaction of 10,000 resources", "/fhir", tx.Bytes(), http.StatusOK},
	}
}

// TestLargeBodiesRSS measures the real server under large bodies: it
// builds vhdir and, for each shape and backend (a fresh SQLite file, a
// fresh PostgreSQL database), serves it over plain HTTP, sends one body
// and reads how far the resident set grew, then on a new process sends
// three at once and reads the peak (VmHWM). Three at once must stay under
// rssBound; the figures are logged (BENCHMARKS.md, Large bodies). It takes
// a few minutes and a GB of the machine's memory, so it runs only when
// asked:
//
//	VHDIR_RSS_TEST=1 go test -run TestLargeBodiesRSS -v ./cmd/vhdir/
func TestLargeBodiesRSS(t *testing.T) {
	if os.Getenv("VHDIR_RSS_TEST") != "1" {
		t.Skip("set VHDIR_RSS_TEST=1 to measure the server's peak RSS under large bodies (a few minutes)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "vhdir")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		for i, shape := range largeBodies() {
			t.Run(backend+"/"+shape.name, func(t *testing.T) {
				state := filepath.Join(dir, fmt.Sprintf("%s-%d", backend, i))
				if err := os.MkdirAll(state, 0o755); err != nil {
					t.Fatal(err)
				}
				db := "sqlite:" + filepath.Join(state, "vhdir.db")
				if backend == "postgres" {
					db = pgtest.NewDatabase(t)
				}
				one := startBinary(t, bin, state, db)
				base := one.rss(t, "VmRSS")
				if got := one.post(t, shape); got != shape.status {
					t.Errorf("one body: status %d; want %d", got, shape.status)
				}
				grew := one.rss(t, "VmHWM") - base
				// A second body on the same process: what a request adds
				// once the heap and the store's page caches (bounded) have
				// grown for the first.
				one.resetPeak(t)
				base = one.rss(t, "VmRSS")
				if got := one.post(t, shape); got != shape.status {
					t.Errorf("second body: status %d; want %d", got, shape.status)
				}
				again := one.rss(t, "VmHWM") - base
				one.stop(t)

				three := startBinary(t, bin, state, db)
				start := three.rss(t, "VmRSS")
				var wg sync.WaitGroup
				statuses := make([]int, 3)
				for j := range statuses {
					wg.Go(func() { statuses[j] = three.post(t, shape) })
				}
				wg.Wait()
				peak := three.rss(t, "VmHWM")
				three.stop(t)
				t.Logf("%-8s %-36s body %4.1f MiB  %v  one: grew %5.1f MiB (%4.1f× the body), a second %5.1f MiB (%4.1f×)  three at once: peak %5.1f MiB (from %4.1f)",
					backend, shape.name, mib(len(shape.body)), statuses, mib(grew), float64(grew)/float64(len(shape.body)),
					mib(again), float64(again)/float64(len(shape.body)), mib(peak), mib(start))
				// On PostgreSQL the server process holds no page cache, so the
				// first body shows the request's own cost; on SQLite it also
				// fills the store's page caches, bounded but in the process
				// (BENCHMARKS.md, Large bodies), and the second body shows it.
				if backend == "postgres" && grew > growthBound*int64(len(shape.body)) {
					t.Errorf("one %s body grew the server by %.1f MiB; want at most %d× the body", shape.name, mib(grew), growthBound)
				}
				if again > growthBound*int64(len(shape.body)) {
					t.Errorf("a second %s body grew the server by %.1f MiB; want at most %d× the body", shape.name, mib(again), growthBound)
				}
				if peak > rssBound {
					t.Errorf("three %s bodies at once: peak RSS %.1f MiB; want under %.0f MiB", shape.name, mib(peak), mib(rssBound))
				}
			})
		}
	}
}

func mib[T int | int64](n T) float64 { return float64(n) / (1 << 20) }

// binaryServer is `vhdir serve` running as its own process.
type binaryServer struct {
	cmd   *exec.Cmd
	base  string
	token string
	logs  *syncBuffer
}

// startBinary serves the database db with bin over plain HTTP, its state
// in dir, and gets a token for a client registered on it (once per
// database).
func startBinary(t *testing.T, bin, dir, db string) *binaryServer {
	t.Helper()
	return startServe(t, func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = readmeEnv()
		return cmd
	}, dir, db, binaryClient{id: "large", name: "Large bodies", scope: "system/*.cruds"})
}

// binaryClient is the client a binaryServer's token is for.
type binaryClient struct{ id, name, scope string }

// startServe runs `vhdir serve` (command makes the process from its
// arguments) on db over plain HTTP, its state in dir, waits until it is
// ready, and gets a token for client, registering it with its own key in
// dir the first time.
func startServe(t *testing.T, command func(args ...string) *exec.Cmd, dir, db string, client binaryClient) *binaryServer {
	t.Helper()
	addr := freeAddr(t)
	s := &binaryServer{base: "http://" + addr, logs: &syncBuffer{}}
	s.cmd = command("serve", "--addr", addr, "--plain-http", "--db", db, "--data-dir", dir, "--log-level", "warn")
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop(t) })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("vhdir serve not ready: %s", s.logs.String())
		}
	}
	key := filepath.Join(dir, client.id)
	if _, err := os.Stat(key + ".key.json"); err != nil {
		t.Setenv("VHDIR_DB", db)
		for _, args := range [][]string{
			{"keygen", "--out", key},
			{"clients", "add", "--name", client.name, "--organization", "Organization/" + client.id, "--jwks-file", key + ".jwks.json", "--scope", client.scope, "--client-id", client.id},
		} {
			var errs bytes.Buffer
			if code := run(context.Background(), args, io.Discard, &errs); code != 0 {
				t.Fatalf("vhdir %s = %d: %s", args[0], code, errs.String())
			}
		}
	}
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"token", "--server", s.base, "--client-id", client.id, "--key", key + ".key.json", "--scope", client.scope}, &out, &errs); code != 0 {
		t.Fatalf("vhdir token = %d: %s", code, errs.String())
	}
	s.token = strings.TrimSpace(out.String())
	return s
}

// post sends a body and returns the status.
func (s *binaryServer) post(t *testing.T, b largeBody) int {
	req, err := http.NewRequest(http.MethodPost, s.base+b.path, bytes.NewReader(b.body))
	if err != nil {
		t.Error(err)
		return 0
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != b.status {
		t.Logf("%s: %d %.300s", b.name, resp.StatusCode, body)
	}
	return resp.StatusCode
}

// rss reads a size from /proc/PID/status (VmRSS now, VmHWM the peak).
// resetPeak resets the process's peak resident set (VmHWM) to its
// current one.
func (s *binaryServer) resetPeak(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak RSS: %v", err)
	}
}

func (s *binaryServer) rss(t *testing.T, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, s.cmd.Process.Pid)
	return 0
}

// stop ends the server as SIGTERM does, once.
func (s *binaryServer) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	if err := s.cmd.Wait(); err != nil {
		t.Logf("vhdir serve: %v: %s", err, s.logs.String())
	}
}
