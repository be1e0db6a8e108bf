package rest_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"github.com/vhdir/vhdir/internal/server/benchdir"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/bulk"
	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/gen"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/postgres"
)

// BenchmarkExport measures a system-level $export of the search
// benchmark's generated directory (same data, same cache), next to its
// limit measured in the same run: streaming every stored body out of the
// database into a file with one plain SQL query.
//
//	job:      kick-off to manifest (snapshot read, files stored in the database)
//	download: every file fetched over HTTP (plain, then gzip)
//	limit:    SELECT body FROM resources, written to a file
//
// It lives here to share the cached directory with BenchmarkSearch.
func BenchmarkExport(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres", "postgres-files"} {
		b.Run(backend, func(b *testing.B) {
			var st store.Store
			if backend == "postgres-files" {
				// The same database, files in a folder (postgres.Options.ExportDir).
				benchdir.Open(b, "postgres", *benchPractitioners).Close()
				url := benchdir.PostgresURL(b, benchdir.PostgresName(*benchPractitioners))
				pg, err := postgres.OpenWith(context.Background(), url, postgres.Options{ExportDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				st = pg
			} else {
				st = benchdir.Open(b, backend, *benchPractitioners)
			}
			defer st.Close()
			// The job first: both then read a warm cache.
			b.Run("job", func(b *testing.B) { benchExportJob(b, st) })
			b.Run("limit", func(b *testing.B) { benchExportLimit(b, st) })
		})
	}
}

// pools is what both backends expose for raw access.
type pools interface {
	ReadPool() *sql.DB
}

func benchExportLimit(b *testing.B, st store.Store) {
	p, ok := st.(pools)
	if !ok {
		b.Skip("no raw pool")
	}
	f, err := os.Create(filepath.Join(b.TempDir(), "limit.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var n int
	start := time.Now()
	for b.Loop() {
		if _, err := f.Seek(0, 0); err != nil {
			b.Fatal(err)
		}
		rows, err := p.ReadPool().QueryContext(context.Background(), "SELECT body FROM resources WHERE deleted = false ORDER BY rid")
		if err != nil {
			b.Fatal(err)
		}
		n = 0
		for rows.Next() {
			var body sql.RawBytes
			if err := rows.Scan(&body); err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write(body); err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write([]byte{'\n'}); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		rows.Close()
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "resources/s")
	b.ReportMetric(0, "ns/op")
}

func benchExportJob(b *testing.B, st store.Store) {
	reg, err := search.NewRegistry()
	if err != nil {
		b.Fatal(err)
	}
	// Jobs left by an interrupted run would compete with the measured ones.
	if _, err := st.(store.ExportStore).PurgeExportJobs(context.Background(), time.Now().AddDate(100, 0, 0)); err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String() + "/fhir"
	svc, err := bulk.New(bulk.Config{Store: st, Search: search.NewEngine(reg, base), Clock: clock.System{}, FHIRBase: base, Poll: 5 * time.Millisecond, Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	ts.Config.Handler = svc.Handler(http.NotFoundHandler())
	ts.Start()
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	var jobTime, plainTime, gzipTime time.Duration
	var total, bytesOut int64
	for b.Loop() {
		start := time.Now()
		req, _ := http.NewRequest("GET", base+"/$export?_type="+strings.Join(gen.Types(), ","), nil)
		req.Header.Set("Prefer", "respond-async")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			b.Fatalf("kick-off: %v %v", resp, err)
		}
		resp.Body.Close()
		m := waitManifest(b, resp.Header.Get("Content-Location"))
		jobTime += time.Since(start)
		total, bytesOut = 0, 0
		for _, gz := range []bool{false, true} {
			start = time.Now()
			for _, o := range m.Output {
				n := download(b, o.URL, gz)
				if !gz {
					bytesOut += n
				}
				total += int64(o.Count)
			}
			if gz {
				gzipTime += time.Since(start)
			} else {
				plainTime += time.Since(start)
			}
		}
		total /= 2
		del, _ := http.NewRequest("DELETE", resp.Header.Get("Content-Location"), nil)
		if resp, err := http.DefaultClient.Do(del); err == nil {
			resp.Body.Close()
		}
	}
	b.ReportMetric(float64(total)*float64(b.N)/jobTime.Seconds(), "job-resources/s")
	b.ReportMetric(float64(total)*float64(b.N)/plainTime.Seconds(), "download-resources/s")
	b.ReportMetric(float64(total)*float64(b.N)/gzipTime.Seconds(), "gzip-download-resources/s")
	b.ReportMetric(float64(total), "resources")
	b.ReportMetric(float64(bytesOut)/float64(total), "bytes/resource")
	b.ReportMetric(0, "ns/op")
}

type benchManifest struct {
	Output []struct {
		URL   string `json:"url"`
		Count int    `json:"count"`
	} `json:"output"`
}

func waitManifest(b *testing.B, status string) *benchManifest {
	for {
		resp, err := http.Get(status)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusAccepted:
			time.Sleep(5 * time.Millisecond)
			continue
		case http.StatusOK:
			var m benchManifest
			if err := json.Unmarshal(body, &m); err != nil {
				b.Fatal(err)
			}
			return &m
		}
		b.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}

// download fetches a file and returns the bytes received.
func download(b *testing.B, url string, gz bool) int64 {
	req, _ := http.NewRequest("GET", url, nil)
	if gz {
		req.Header.Set("Accept-Encoding", "gzip") // set by hand: the transport then leaves the body compressed
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("download %s: %v %v", url, resp, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return n
}
