package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bodyTimeout is the --body-timeout the limits test serves with: short,
// so that a test waits seconds, not the production minute.
const bodyTimeout = 3 * time.Second

// trickle is a request body that sends one byte every tick, for ever:
// until the client stops reading it (the answer came) or the test ends.
type trickle struct {
	tick time.Duration
	done <-chan struct{}
	sent bool
}

func (b *trickle) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !b.sent { // the first byte at once: the request is under way
		b.sent = true
		p[0] = '{'
		return 1, nil
	}
	select {
	case <-b.done:
		return 0, errors.New("the test is over")
	case <-time.After(b.tick):
	}
	p[0] = ' '
	return 1, nil
}

// limitsClient speaks HTTP/1.1 or HTTP/2 to the server's development
// certificate, and gives up on an answer after timeout.
func limitsClient(h2 bool, timeout time.Duration) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // no h2
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// TestServeLimits runs the real server with a short --body-timeout (set
// through its env twin) and checks, over HTTP/1.1 and HTTP/2, that a body
// trickling in slower than the deadline is cut off (408, or the
// connection closed where no answer can be sent); that a request without
// a token is refused at once, without waiting for its body; that a large
// body sent at full speed is unaffected; and that header fields over the
// server's limit, up to net/http's own, get an OperationOutcome.
func TestServeLimits(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	t.Setenv("VHDIR_DB", "sqlite:"+filepath.Join(dir, "vhdir.db"))
	t.Setenv("VHDIR_BODY_TIMEOUT", bodyTimeout.String())
	ctx, stop := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--data-dir", filepath.Join(dir, "data"), "--log-format", "json"}, io.Discard, logs)
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})
	base := "https://" + addr
	waitReady(t, limitsClient(false, 5*time.Second), base, done, logs)
	token := clientToken(t, dir, base, "system/*.cruds system/AuditEvent.rs")
	testDone := make(chan struct{})
	defer close(testDone)

	for _, proto := range []struct {
		name string
		h2   bool
	}{{"HTTP/1.1", false}, {"HTTP/2", true}} {
		// An answer that does not come within the deadline and a
		// generous slack never will.
		client := limitsClient(proto.h2, bodyTimeout+10*time.Second)
		send := func(t *testing.T, req *http.Request) (*http.Response, []byte, time.Duration, error) {
			t.Helper()
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				return nil, nil, time.Since(start), err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if want := map[bool]int{false: 1, true: 2}[proto.h2]; resp.ProtoMajor != want {
				t.Fatalf("answered in %s; want %s", resp.Proto, proto.name)
			}
			return resp, b, time.Since(start), nil
		}
		post := func(body io.Reader, withToken bool) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, base+"/fhir/Organization", body)
			req.Header.Set("Content-Type", "application/fhir+json")
			if withToken {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			return req
		}

		t.Run(proto.name+"/slow body cut off", func(t *testing.T) {
			resp, b, took, err := send(t, post(&trickle{tick: 200 * time.Millisecond, done: testDone}, true))
			if took > bodyTimeout+5*time.Second {
				t.Fatalf("a trickling body was still read after %v (--body-timeout %v): %v", took, bodyTimeout, err)
			}
			if err == nil && (resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), `"OperationOutcome"`) || !strings.Contains(string(b), `"code":"timeout"`)) {
				t.Errorf("a trickling body = %d %s; want 408 with an OperationOutcome (timeout)", resp.StatusCode, b)
			}
		})

		t.Run(proto.name+"/slow token request cut off", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, base+"/auth/token", &trickle{tick: 200 * time.Millisecond, done: testDone})
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, b, took, err := send(t, req)
			if took > bodyTimeout+5*time.Second {
				t.Fatalf("a trickling token request was still read after %v (--body-timeout %v): %v", took, bodyTimeout, err)
			}
			if err == nil && (resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), `"error":"invalid_request"`)) {
				t.Errorf("a trickling token request = %d %s; want 408 with an OAuth error", resp.StatusCode, b)
			}
		})

		t.Run(proto.name+"/no token refused before the body", func(t *testing.T) {
			resp, b, took, err := send(t, post(&trickle{tick: 200 * time.Millisecond, done: testDone}, false))
			if err != nil {
				t.Fatalf("a POST without a token, its body trickling: %v after %v; want a 401 at once", err, took)
			}
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), `"OperationOutcome"`) {
				t.Errorf("a POST without a token = %d %s; want 401 with an OperationOutcome", resp.StatusCode, b)
			}
			// The body never ends: an answer before the body deadline was
			// not held back for it.
			if took >= bodyTimeout {
				t.Errorf("the 401 came after %v, when the body deadline (%v) cut the body off; want it at once", took, bodyTimeout)
			}
		})

		t.Run(proto.name+"/large body at full speed", func(t *testing.T) {
			// 12 MB: a resource indented deep, as a pretty-printer might.
			body := `{"resourceType":"Organization","active":true,"type":[{"text":"Clinic"}],` + strings.Repeat(" ", 12<<20) + `"name":"Large"}`
			resp, b, _, err := send(t, post(strings.NewReader(body), true))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("a 12 MB body at full speed = %d %.300s; want 201", resp.StatusCode, b)
			}
		})

		t.Run(proto.name+"/header fields too large", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, base+"/fhir/metadata", nil)
			req.Header.Set("X-Padding", strings.Repeat("x", 70<<10))
			resp, b, _, err := send(t, req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/fhir+json") || !strings.Contains(string(b), `"code":"too-long"`) {
				t.Errorf("70 KiB of header fields = %d %s %.300s; want 431 with an OperationOutcome (too-long)", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			if proto.h2 {
				return // an HTTP/2 client does not send more than the server's limit
			}
			// Beyond net/http's own limit, its plain-text answer comes
			// before any handler runs.
			req.Header.Set("X-Padding", strings.Repeat("x", 120<<10))
			if resp, _, _, err = send(t, req); err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("120 KiB of header fields = %v, %v; want 431", resp, err)
			}
		})
	}

	// The refusals were audited before they were answered.
	req, _ := http.NewRequest(http.MethodGet, base+"/fhir/AuditEvent?outcome=4&_count=100", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := limitsClient(false, 10*time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"no valid access token", "was not received within", "Request Header Fields Too Large"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no AuditEvent of a refusal saying %q: %.2000s", want, b)
		}
	}
}
