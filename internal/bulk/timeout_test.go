package bulk_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDownloadNotTimed: an export file streams for as long as it takes.
// The request deadline (--request-timeout), which ends any other request
// still at work past it, does not bound downloads: with a deadline that
// has always passed, a status poll answers 503 and the download still
// sends the whole file.
func TestDownloadNotTimed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		s.put("Endpoint", "e1", `{"resourceType":"Endpoint","id":"e1","status":"active","connectionType":{"code":"hl7-fhir-rest"},"payloadType":[{"text":"any"}],"address":"https://e1.example.org/fhir"}`)
		status := s.kickoff("c1", "/fhir/$export?_type=Endpoint")
		m := s.wait("c1", status)
		if len(m.Output) != 1 {
			t.Fatalf("manifest output %+v; want one file", m.Output)
		}
		s.halt()
		cfg := s.srv.Config
		cfg.RequestTimeout = time.Nanosecond
		s.srv.Rebuild(cfg)

		r := s.do(http.MethodGet, status, "c1", nil, "")
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.raw), `"code":"timeout"`) {
			t.Errorf("status poll past the request deadline = %d (Retry-After %q) %s; want 503 timeout", r.status, r.header.Get("Retry-After"), r.raw)
		}
		if lines := s.lines("c1", m.Output[0]); len(lines) != 1 {
			t.Errorf("download past the request deadline: %d lines; want the whole file", len(lines))
		}
	})
}
