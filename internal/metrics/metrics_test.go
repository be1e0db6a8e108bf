package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/clock/ntptest"
)

// scrape returns the metrics text; the samples are "name{labels} value" lines.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	return rec.Body.String()
}

// sample returns the value of the sample whose line starts with series.
func sample(t *testing.T, text, series string) float64 {
	t.Helper()
	for line := range strings.Lines(text) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("no sample %s in\n%s", series, text)
	return 0
}

func TestInstrument(t *testing.T) {
	m := New(Config{})
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusTeapot)
		}
		io.WriteString(w, "ok")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, method := range []string{"GET", "GET", "POST", "BREW"} {
		req, _ := http.NewRequest(method, srv.URL, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	text := scrape(t, m)
	tests := []struct {
		series string
		want   float64
	}{
		{`vhdir_http_requests_total{code="200",method="get"}`, 2},
		{`vhdir_http_requests_total{code="418",method="post"}`, 1},
		{`vhdir_http_requests_total{code="200",method="unknown"}`, 1},
		{`vhdir_http_request_duration_seconds_count{code="200",method="get"}`, 2},
	}
	for _, tt := range tests {
		if got := sample(t, text, tt.series); got != tt.want {
			t.Errorf("%s = %v; want %v", tt.series, got, tt.want)
		}
	}
	for _, want := range []string{"go_goroutines ", "process_start_time_seconds "} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, "vhdir_clock_") {
		t.Errorf("clock metrics without a monitor:\n%s", text)
	}
}

func TestClockMetrics(t *testing.T) {
	ntpSrv := ntptest.NewServer(t, 2*time.Second)
	mon, err := clock.NewNTPMonitor(clock.NTPConfig{Server: ntpSrv.Addr(), MaxOffset: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m := New(Config{Clock: mon})
	label := `{server="` + ntpSrv.Addr() + `"}`
	before := scrape(t, m)
	if !strings.Contains(before, "vhdir_clock_offset_seconds"+label+" NaN") || sample(t, before, "vhdir_clock_last_sync_timestamp_seconds"+label) != 0 {
		t.Errorf("before the first answer, want offset NaN and last sync 0:\n%s", before)
	}
	if err := mon.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	text := scrape(t, m)
	if got := sample(t, text, "vhdir_clock_offset_seconds"+label); got < 1.95 || got > 2.05 {
		t.Errorf("vhdir_clock_offset_seconds = %v; want 2 ± 0.05", got)
	}
	if got := sample(t, text, "vhdir_clock_stratum"+label); got != 2 {
		t.Errorf("vhdir_clock_stratum = %v; want 2", got)
	}
	if got := sample(t, text, "vhdir_clock_max_offset_seconds"+label); got != 0.5 {
		t.Errorf("vhdir_clock_max_offset_seconds = %v; want 0.5", got)
	}
	if got := sample(t, text, "vhdir_clock_last_sync_timestamp_seconds"+label); time.Since(time.Unix(int64(got), 0)) > time.Minute {
		t.Errorf("vhdir_clock_last_sync_timestamp_seconds = %v; want about now", got)
	}
	// A second registry in the same process is independent.
	_ = New(Config{Clock: mon})
}
