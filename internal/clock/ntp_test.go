package clock

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock/ntptest"
)

// tolerance is how far a measured offset may be from the fake server's
// (loopback round trips take microseconds; the race detector slows them).
const tolerance = 50 * time.Millisecond

func newMonitor(t *testing.T, server string) *NTPMonitor {
	t.Helper()
	m, err := NewNTPMonitor(NTPConfig{Server: server, Interval: time.Minute, MaxOffset: time.Second, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNTPMonitorCheck(t *testing.T) {
	tests := []struct {
		name    string
		offset  time.Duration
		kod     bool // answer with a kiss-of-death (stratum 0)
		down    bool
		wantErr string // "" means ready
		wantLog string
	}{
		{name: "in sync", offset: 0, wantLog: "level=INFO msg=\"host clock checked against ntp\""},
		{name: "small offset", offset: 400 * time.Millisecond, wantLog: "stratum=2 max_offset=1s"},
		{name: "ahead beyond limit", offset: 3 * time.Second, wantErr: "clock offset +3", wantLog: "level=WARN msg=\"host clock offset beyond the limit"},
		{name: "behind beyond limit", offset: -3 * time.Second, wantErr: "clock offset -3", wantLog: "level=WARN"},
		{name: "kiss of death", kod: true, wantErr: "no valid answer", wantLog: "kiss of death"},
		{name: "unreachable", down: true, wantErr: "no valid answer", wantLog: "level=WARN msg=\"ntp query failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := ntptest.NewServer(t, tt.offset)
			srv.SetDown(tt.down)
			if tt.kod {
				srv.SetStratum(0)
			}
			var logs bytes.Buffer
			m := newMonitor(t, srv.Addr())
			m.log = slog.New(slog.NewTextHandler(&logs, nil))
			if err := m.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "no answer yet") {
				t.Errorf("Check before any query = %v; want no answer yet", err)
			}
			syncErr := m.Sync(t.Context())
			err := m.Check(t.Context())
			if tt.wantErr == "" {
				if syncErr != nil || err != nil {
					t.Fatalf("Sync = %v, Check = %v; want ready", syncErr, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Check = %v; want an error naming %q", err, tt.wantErr)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log %q lacks %q", logs.String(), tt.wantLog)
			}
			st := m.Status()
			if tt.kod || tt.down {
				if syncErr == nil || st.Err == nil || !st.LastSync.IsZero() {
					t.Errorf("Sync = %v, Status = %+v; want an error and no sync", syncErr, st)
				}
				return
			}
			if d := st.Offset - tt.offset; d > tolerance || d < -tolerance {
				t.Errorf("measured offset %v; want %v ± %v", st.Offset, tt.offset, tolerance)
			}
			if st.Stratum != 2 || st.LastSync.IsZero() || st.RTT < 0 || st.RTT > tolerance || st.Server != srv.Addr() {
				t.Errorf("Status = %+v; want stratum 2, a sync time, a small RTT, server %s", st, srv.Addr())
			}
		})
	}
}

// TestNTPMonitorStaleAndRecover: a lost answer leaves the monitor ready
// until the last valid answer is older than MaxStale; then Check fails as
// unreachable, and the next valid answer makes it ready again.
func TestNTPMonitorStaleAndRecover(t *testing.T) {
	srv := ntptest.NewServer(t, 0)
	m := newMonitor(t, srv.Addr())
	fake := NewFake(time.Now())
	m.now = fake.Now
	ctx := t.Context()
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	srv.SetDown(true)
	if err := m.Sync(ctx); err == nil {
		t.Fatal("Sync with the server down succeeded")
	}
	fake.Advance(2 * time.Minute)
	if err := m.Check(ctx); err != nil {
		t.Errorf("Check after one lost answer = %v; want ready (within MaxStale)", err)
	}
	fake.Advance(2 * time.Minute) // 4 min > 3 intervals
	if err := m.Check(ctx); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("Check after 4 min without an answer = %v; want unreachable", err)
	}

	srv.SetDown(false)
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Check(ctx); err != nil {
		t.Errorf("Check after the server is back = %v; want ready", err)
	}
	if st := m.Status(); st.Err != nil || !st.LastSync.Equal(fake.Now()) {
		t.Errorf("Status = %+v; want no error and LastSync now", st)
	}
}

// TestNTPMonitorRun: Run queries at start and every interval, and an
// offset that moves beyond the limit turns Check red.
func TestNTPMonitorRun(t *testing.T) {
	srv := ntptest.NewServer(t, 0)
	m, err := NewNTPMonitor(NTPConfig{Server: srv.Addr(), Interval: 20 * time.Millisecond, Timeout: 20 * time.Millisecond, MaxStale: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	// Queries run one after another: when the third is answered, the
	// first two are recorded.
	waitAnswers(t, srv, 3)
	if err := m.Check(ctx); err != nil {
		t.Errorf("Check while running in sync = %v", err)
	}
	srv.SetOffset(2 * time.Second)
	for len(srv.Answered()) > 0 { // answers counted before the change
		<-srv.Answered()
	}
	// At most the first answer from now on was made before the change.
	waitAnswers(t, srv, 3)
	if err := m.Check(ctx); err == nil || !strings.Contains(err.Error(), "clock offset +2") {
		t.Errorf("Check after the offset moved to 2s = %v; want the offset named", err)
	}
	cancel()
	<-done
}

func waitAnswers(t *testing.T, srv *ntptest.Server, n int) {
	t.Helper()
	timeout := time.After(2 * time.Second)
	for range n {
		select {
		case <-srv.Answered():
		case <-timeout:
			t.Fatalf("the fake NTP server got fewer than %d queries in 2s", n)
		}
	}
}

func TestNewNTPMonitorConfig(t *testing.T) {
	tests := []struct {
		server, want string
	}{
		{"time.example.org", "time.example.org:123"},
		{"time.example.org:1123", "time.example.org:1123"},
		{"192.0.2.1", "192.0.2.1:123"},
		{"::1", "[::1]:123"},
		{"[::1]", "[::1]:123"},
		{"[::1]:1123", "[::1]:1123"},
	}
	for _, tt := range tests {
		m, err := NewNTPMonitor(NTPConfig{Server: tt.server})
		if err != nil || m.Server() != tt.want {
			t.Errorf("NewNTPMonitor(%q).Server() = %v, %v; want %s", tt.server, m, err, tt.want)
			continue
		}
		if m.Interval() != DefaultNTPInterval || m.MaxOffset() != DefaultMaxOffset || m.maxStale != 3*time.Minute {
			t.Errorf("defaults = %v, %v, %v", m.Interval(), m.MaxOffset(), m.maxStale)
		}
		if got := (Checked{m}).Source(); got != "system clock checked against ntp://"+tt.want {
			t.Errorf("Checked.Source() = %q", got)
		}
	}
	for _, bad := range []NTPConfig{
		{},
		{Server: "host:"},
		{Server: "ntp://host"},
		{Server: "host", Interval: time.Minute, MaxStale: time.Second},
		{Server: "host", Interval: time.Second, Timeout: time.Minute},
		{Server: "host", MaxOffset: -time.Second},
	} {
		if _, err := NewNTPMonitor(bad); err == nil {
			t.Errorf("NewNTPMonitor(%+v) succeeded; want an error", bad)
		}
	}
}
