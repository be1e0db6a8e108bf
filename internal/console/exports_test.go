package console_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// createExportJob stores a queued job as a kick-off would.
func (h *harness) createExportJob(t *testing.T, id, client string, created time.Time) {
	t.Helper()
	j := &store.ExportJob{ID: id, ClientID: client, Created: created, Expires: created.Add(24 * time.Hour),
		Request: []byte(`{"request":"https://dir.example/fhir/$export?_type=Organization,Location","types":[{"type":"Organization"},{"type":"Location"}]}`)}
	if err := h.Store.CreateExportJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
}

// exportRowHTML is the exports table's row of a job ("" when not listed)
// (up to its cancel form's end: a row holds a table of files).
func exportRowHTML(body, id string) string {
	start := strings.Index(body, `<tr id="job-`+id+`">`)
	if start < 0 || !strings.Contains(body[:start], `<table id="exports">`) {
		return ""
	}
	end := strings.Index(body[start:], "</form>")
	if end < 0 {
		return body[start:]
	}
	return body[start : start+end]
}

func TestExportList(t *testing.T) {
	forEachBackend(t, startOptions{}, func(t *testing.T, h *harness) {
		ctx := context.Background()
		c := h.login()
		if status, body := h.get(c, "/exports"); status != http.StatusOK || !strings.Contains(elementHTML(body, "table", "exports"), "No export job.") {
			t.Fatalf("/exports without jobs: %d\n%s", status, body)
		}

		now := time.Now().UTC().Truncate(time.Millisecond)
		h.createExportJob(t, "job-old", "client-a", now.Add(-time.Hour))
		h.createExportJob(t, "job-new", "client-b", now)
		// job-old runs and has written a file.
		if j, err := h.Store.ClaimExportJob(ctx, "node-1", now, now.Add(time.Minute)); err != nil || j == nil || j.ID != "job-old" {
			t.Fatalf("claim = %+v, %v; want job-old", j, err)
		}
		if err := h.Store.RenewExportJob(ctx, "job-old", "node-1", now.Add(time.Minute), "Organization: 7 resources"); err != nil {
			t.Fatal(err)
		}
		data := []byte(`{"resourceType":"Organization","id":"o1"}` + "\n" + `{"resourceType":"Organization","id":"o2"}` + "\n")
		if err := h.Store.AddExportChunk(ctx, "node-1", store.ExportFile{Job: "job-old", N: 0, Type: "Organization", Kind: "output", Count: 2}, 0, data); err != nil {
			t.Fatal(err)
		}

		status, body := h.get(c, "/exports")
		if status != http.StatusOK {
			t.Fatalf("/exports: %d\n%s", status, body)
		}
		if strings.Index(body, `id="job-job-new"`) > strings.Index(body, `id="job-job-old"`) {
			t.Errorf("jobs are not listed newest first")
		}
		tests := []struct {
			job  string
			want []string
		}{
			{"job-new", []string{`<a href="/clients/client-b">client-b</a>`, ">queued<", "Organization Location", "$export?_type=Organization,Location",
				`<span class="muted">none</span>`, `action="/exports/job-new/cancel"`, `name="csrf" value="`, ">Cancel</button>"}},
			{"job-old", []string{`<a href="/clients/client-a">client-a</a>`, ">running<", "on node-1 until", "Organization: 7 resources",
				`<td class="num">1</td>`, // attempts
				"<td>Organization</td><td>output</td><td class=\"num\">2</td><td class=\"num\">" + strconv.Itoa(len(data)) + "</td>",
				`action="/exports/job-old/cancel"`}},
		}
		for _, tt := range tests {
			row := exportRowHTML(body, tt.job)
			if row == "" {
				t.Errorf("%s is not listed:\n%s", tt.job, body)
				continue
			}
			for _, w := range tt.want {
				if !strings.Contains(row, w) {
					t.Errorf("%s's row lacks %q:\n%s", tt.job, w, row)
				}
			}
		}
	})
}

func TestExportCancel(t *testing.T) {
	forEachBackend(t, startOptions{}, func(t *testing.T, h *harness) {
		ctx := context.Background()
		c := h.login()
		now := time.Now().UTC().Truncate(time.Millisecond)
		h.createExportJob(t, "job-1", "client-a", now)
		h.createExportJob(t, "job-2", "client-a", now.Add(time.Second))

		tests := []struct {
			name     string
			job      string
			form     url.Values // nil: with the session's CSRF token
			status   int
			gone     bool // the job is deleted afterwards
			location string
		}{
			{name: "without the CSRF token", job: "job-1", form: url.Values{"csrf": {""}}, status: http.StatusForbidden},
			{name: "with a wrong CSRF token", job: "job-1", form: url.Values{"csrf": {"not-the-token"}}, status: http.StatusForbidden},
			{name: "cancelled", job: "job-1", status: http.StatusSeeOther, gone: true, location: "/exports"},
			{name: "cancelled already", job: "job-1", status: http.StatusNotFound, gone: true},
			{name: "unknown job", job: "no-such-job", status: http.StatusNotFound, gone: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				form := tt.form
				if form == nil {
					form = url.Values{}
				}
				resp, body := h.post(c, "/exports/"+tt.job+"/cancel", form)
				if resp.StatusCode != tt.status {
					t.Fatalf("POST cancel: %d; want %d\n%s", resp.StatusCode, tt.status, body)
				}
				if got := resp.Header.Get("Location"); got != tt.location {
					t.Errorf("Location = %q; want %q", got, tt.location)
				}
				_, err := h.Store.ExportJob(ctx, tt.job)
				if gone := errors.Is(err, store.ErrNotFound); gone != tt.gone {
					t.Errorf("after the request the job is gone: %v (%v); want %v", gone, err, tt.gone)
				}
				_, page := h.get(c, "/exports")
				if listed := exportRowHTML(page, tt.job) != ""; listed == tt.gone {
					t.Errorf("after the request /exports lists the job: %v; want %v", listed, !tt.gone)
				}
			})
		}
		// The other job is untouched.
		if _, err := h.Store.ExportJob(ctx, "job-2"); err != nil {
			t.Errorf("job-2 after job-1 was cancelled: %v", err)
		}
		// The cancel is recorded once, as a cancel of the job, by the
		// operator in the session.
		links, err := h.Store.AuditChain(ctx, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		var cancels []string
		for _, l := range links {
			f, err := store.AuditFieldsOf(l.Body)
			if err != nil {
				t.Fatal(err)
			}
			if f.Subtype.Code == "export-cancel" || f.Outcome == "0" && strings.Contains(string(l.Body), `"query":"`+base64.StdEncoding.EncodeToString([]byte("POST /export"))) {
				cancels = append(cancels, f.Subtype.Code+" "+f.Client+" "+f.Outcome)
				if !strings.Contains(string(l.Body), "export job job-1") || !strings.Contains(string(l.Body), "vhdir console, session") {
					t.Errorf("the cancel's record does not name the job and the session:\n%s", l.Body)
				}
			}
		}
		if want := "export-cancel operator:tester 0"; len(cancels) != 1 || cancels[0] != want {
			t.Errorf("records of the cancel = %q; want one %q", cancels, want)
		}
	})
}
