package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock/ntptest"
)

// TestServeClockOffset starts the server checked against a fake NTP server
// whose clock is 5 s ahead: /readyz fails naming the clock, and /metrics
// (read from loopback) exports the offset.
func TestServeClockOffset(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	ntpSrv := ntptest.NewServer(t, 5*time.Second)
	t.Setenv("VHDIR_DB", "sqlite:"+filepath.Join(dir, "vhdir.db"))
	t.Setenv("VHDIR_NTP", ntpSrv.Addr()) // the env twin of --ntp
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--plain-http", "--max-clock-offset", "1s", "--log-format", "json"}, io.Discard, logs)
	}()
	base := "http://" + addr

	// Ready but for the clock once the first NTP answer is in.
	var status int
	var body struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(body.Checks["clock"], "clock offset") {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never named the clock offset: %d %+v; logs %s", status, body, logs.String())
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited early with %d: %s", code, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			continue
		}
		status = resp.StatusCode
		body.Checks = nil
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The offset is measured over loopback: 5 s give or take the exchange
	// (it has read +4.999s), as the metric below.
	measured := time.Duration(0)
	if m := offsetText.FindStringSubmatch(body.Checks["clock"]); m != nil {
		measured, _ = time.ParseDuration(m[1])
	}
	if status != http.StatusServiceUnavailable || body.Checks["database"] != "ok" ||
		(measured-5*time.Second).Abs() > 50*time.Millisecond || !strings.Contains(body.Checks["clock"], ntpSrv.Addr()) {
		t.Errorf("/readyz = %d %+v; want 503, the database ok and the clock 5 s off %s", status, body, ntpSrv.Addr())
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics from loopback = %d", resp.StatusCode)
	}
	series := `vhdir_clock_offset_seconds{server="` + ntpSrv.Addr() + `"} `
	var offset float64
	for line := range strings.Lines(string(text)) {
		if v, ok := strings.CutPrefix(line, series); ok {
			offset, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if offset < 4.95 || offset > 5.05 {
		t.Errorf("vhdir_clock_offset_seconds = %v; want 5 ± 0.05 in\n%s", offset, text)
	}
	if !strings.Contains(string(text), `vhdir_http_requests_total{code="503",method="get"}`) {
		t.Errorf("/metrics lacks the 503s of /readyz:\n%s", text)
	}
	for _, want := range []string{`"time_check":"ntp://` + ntpSrv.Addr(), `"level":"WARN","msg":"host clock offset beyond the limit`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s: %s", want, logs.String())
		}
	}

	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit = %d; logs %s", code, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeClockFlagErrors(t *testing.T) {
	t.Setenv("VHDIR_DB", "sqlite:"+filepath.Join(t.TempDir(), "vhdir.db"))
	for _, args := range [][]string{
		{"--metrics", "everyone"},
		{"--max-clock-offset", "0s"},
		{"--ntp", "ntp://time.example.org"},
	} {
		var stderr strings.Builder
		if code := run(context.Background(), append([]string{"serve", "--plain-http"}, args...), io.Discard, &stderr); code != 1 {
			t.Errorf("vhdir serve %v exit = %d; want 1 (%s)", args, code, stderr.String())
		}
	}
}

// offsetText finds the offset in /readyz's clock check.
var offsetText = regexp.MustCompile(`clock offset ([+-]?[0-9.]+[a-zµ]+)`)
