package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/store/postgres/pgtest"
)

// runAsVhdir makes the test binary act as vhdir itself when started with
// it set, so that a test can run `vhdir serve` as a process of its own
// (and kill it) without building the binary.
const runAsVhdir = "VHDIR_TEST_RUN_AS_VHDIR"

func TestMain(m *testing.M) {
	if os.Getenv(runAsVhdir) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestAuditSurvivesKill: every request answered before the server is
// killed (SIGKILL, mid-load) has its record committed: after a restart
// the chain verifies and an auditor finds each record by its request id.
func TestAuditSurvivesKill(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			db := "sqlite:" + filepath.Join(dir, "vhdir.db")
			if backend == "postgres" {
				db = pgtest.NewDatabase(t)
			}
			srv := startSelf(t, dir, db)
			answered := srv.loadUntilKilled(t, 300*time.Millisecond)
			if len(answered) == 0 {
				t.Fatal("no request was answered before the kill")
			}
			t.Setenv("VHDIR_DB", db)
			var out, errs bytes.Buffer
			if code := run(context.Background(), []string{"audit", "verify"}, &out, &errs); code != 0 {
				t.Fatalf("vhdir audit verify after the kill = %d: %s%s", code, out.String(), errs.String())
			}
			again := startSelf(t, dir, db)
			for _, id := range answered {
				n := again.count(t, "/fhir/AuditEvent?entity:identifier="+id)
				if n != 1 {
					t.Errorf("records of answered request %s after the restart: %d; want 1", id, n)
				}
			}
			t.Logf("%d requests answered before the kill, each record found after the restart", len(answered))
		})
	}
}

// startSelf serves db with the test binary as vhdir, its state in dir,
// and gets an auditor's token.
func startSelf(t *testing.T, dir, db string) *binaryServer {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return startServe(t, func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(readmeEnv(), runAsVhdir+"=1")
		return cmd
	}, dir, db, binaryClient{id: "auditor", name: "Auditor", scope: "system/*.rs system/AuditEvent.rs"})
}

// loadUntilKilled sends reads from 8 clients, each with its own request
// id, kills the server with SIGKILL after d, and returns the ids of the
// requests answered (200 or 404) before it died.
func (s *binaryServer) loadUntilKilled(t *testing.T, d time.Duration) []string {
	var (
		mu       sync.Mutex
		answered []string
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for c := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("kill-%d-%d", c, i)
				req, _ := http.NewRequest(http.MethodGet, s.base+"/fhir/Practitioner/p"+fmt.Sprint(i), nil)
				req.Header.Set("Authorization", "Bearer "+s.token)
				req.Header.Set("X-Request-Id", id)
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusOK {
					mu.Lock()
					answered = append(answered, id)
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(d)
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
	wg.Wait()
	return answered
}

// count returns the total of a search.
func (s *binaryServer) count(t *testing.T, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+path+"&_total=accurate", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b struct {
		Total *int `json:"total"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || resp.StatusCode != http.StatusOK || b.Total == nil {
		t.Fatalf("GET %s = %d, %v", path, resp.StatusCode, err)
	}
	return *b.Total
}
