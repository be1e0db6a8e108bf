package rest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// BenchmarkLargeBody posts large bodies through the whole audited server
// on SQLite, for the heap profile of what a body costs after it is read:
//
//	go test -run '^$' -bench BenchmarkLargeBody -benchtime 1x -memprofile mem.out ./internal/rest/
//	go tool pprof -sample_index=alloc_space -top rest.test mem.out
//
// over the limit: a million one-letter aliases, refused while parsed;
// under the limit: 99,000 aliases of 160 letters (16 MB), stored;
// transaction: 10,000 Practitioners (16 MB), stored with their
// Provenance and audit records. The server's peak RSS under the same
// bodies is TestLargeBodiesRSS's (cmd/vhdir).
func BenchmarkLargeBody(b *testing.B) {
	long := `"` + strings.Repeat("a", 160) + `"`
	for _, tt := range []struct {
		name, path string
		body       []byte
		status     int
	}{
		{"over the limit", "/Organization", []byte(aliasOrg(1_000_000)), http.StatusRequestEntityTooLarge},
		{"under the limit", "/Organization", []byte(`{"resourceType":"Organization","alias":[` + strings.TrimSuffix(strings.Repeat(long+",", 99_000), ",") + `]}`), http.StatusCreated},
		{"transaction", "", transactionBody(10_000, 16<<20-64<<10), http.StatusOK},
	} {
		b.Run(tt.name, func(b *testing.B) {
			srv := startWith(b, opener(b, testdb.All[0]), func(c *server.Config) { c.MaxBodyBytes = 16 << 20 })
			b.SetBytes(int64(len(tt.body)))
			b.ReportAllocs()
			for b.Loop() {
				req, err := http.NewRequest(http.MethodPost, srv.base+tt.path, bytes.NewReader(tt.body))
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/fhir+json")
				resp, err := srv.ts.Client().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tt.status {
					b.Fatalf("status %d; want %d", resp.StatusCode, tt.status)
				}
			}
		})
	}
}

// transactionBody is a transaction creating n Practitioners of the usual
// shape, their narratives filling it to about size bytes.
func transactionBody(n, size int) []byte {
	entry := func(i int, pad string) string {
		return fmt.Sprintf(`{"resource":{"resourceType":"Practitioner","active":true,"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">%s</div>"},"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"%d"}],"name":[{"family":"Family%d","given":["Given%d"]}],"telecom":[{"system":"phone","value":"555-%04d"}],"address":[{"city":"Boston","state":"MA","postalCode":"02118"}]},"request":{"method":"POST","url":"Practitioner"}}`, pad, 1000000000+i, i, i, i%10000)
	}
	pad := strings.Repeat("x", max(0, (size-100)/n-len(entry(n, ""))-1))
	var tx bytes.Buffer
	tx.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[`)
	for i := range n {
		if i > 0 {
			tx.WriteByte(',')
		}
		tx.WriteString(entry(i, pad))
	}
	tx.WriteString(`]}`)
	return tx.Bytes()
}
