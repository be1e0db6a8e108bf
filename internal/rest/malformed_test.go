package rest_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// rawRequest is an HTTP/1.1 request written byte for byte: a method,
// target and headers no client library would send.
type rawRequest struct {
	method, target string
	header         []string // name, value pairs; a name may repeat
	body           string
}

// sendRaw writes req on a new TLS connection to the server and reads the
// answer.
func (s *testServer) sendRaw(req rawRequest) (*http.Response, []byte) {
	s.t.Helper()
	cfg := s.ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	conn, err := tls.Dial("tcp", s.ts.Listener.Addr().String(), cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", req.method, req.target, s.ts.Listener.Addr())
	for i := 0; i+1 < len(req.header); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", req.header[i], req.header[i+1])
	}
	if req.body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(req.body))
	}
	b.WriteString("\r\n")
	b.WriteString(req.body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: req.method})
	if err != nil {
		s.t.Fatalf("%s %.80s: %v", req.method, req.target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, body
}

// TestMalformedRequests walks requests no correct client sends through
// the whole server: none is a 5xx, and under /fhir every answer is FHIR
// JSON, every refusal an OperationOutcome (never net/http's plain-text 404
// or 405, nor a redirect). The few requests net/http cannot parse (a bad
// escape in the path, control characters in a header, headers past its
// limit) are refused by it before any handler runs: for them only the
// status is checked.
func TestMalformedRequests(t *testing.T) {
	const (
		prac     = `{"resourceType":"Practitioner","id":"p1","active":true}`
		fhirJSON = "application/fhir+json"
		form     = "application/x-www-form-urlencoded"
	)
	ct := []string{"Content-Type", fhirJSON}
	withCT := func(h ...string) []string { return append([]string{"Content-Type", fhirJSON}, h...) }
	id65 := strings.Repeat("x", 65)
	huge := strings.Repeat("a", 60000)
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	deepResource := `{"resourceType":"Practitioner","name":` + strings.Repeat(`[{"extension":`, 5000) + `1` + strings.Repeat("}]", 5000) + "}"
	bundle := func(typ, entries string) string {
		return `{"resourceType":"Bundle","type":"` + typ + `","entry":[` + entries + `]}`
	}
	tests := []struct {
		name           string
		method, target string
		header         []string
		body           string
		status         int
		// net: refused by net/http before any handler (status only).
		net bool
	}{
		// Unknown types and invalid ids.
		{name: "read of an unknown type", method: "GET", target: "/fhir/Spaceship/1", status: 404},
		{name: "vread of an unknown type", method: "GET", target: "/fhir/Spaceship/1/_history/1", status: 404},
		{name: "search of an unknown type", method: "GET", target: "/fhir/Spaceship?name=x", status: 404},
		{name: "create of an unknown type", method: "POST", target: "/fhir/Spaceship", header: ct, body: `{"resourceType":"Spaceship"}`, status: 404},
		{name: "history of an unknown type", method: "GET", target: "/fhir/Spaceship/_history", status: 404},
		{name: "lower-case type", method: "GET", target: "/fhir/practitioner/1", status: 404},
		{name: "type with a form feed", method: "GET", target: "/fhir/Spa%0Cceship/1", status: 404},
		{name: "type with NUL", method: "GET", target: "/fhir/Pract%00itioner", status: 404},
		{name: "type not UTF-8", method: "GET", target: "/fhir/%FF/1", status: 404},
		{name: "type with encoded slashes", method: "GET", target: "/fhir/..%2F..%2Fetc%2Fpasswd", status: 404},
		{name: "id a_b", method: "GET", target: "/fhir/Practitioner/a_b", status: 400},
		{name: "id a_b, history", method: "GET", target: "/fhir/Practitioner/a_b/_history", status: 400},
		{name: "id a_b, vread", method: "GET", target: "/fhir/Practitioner/a_b/_history/1", status: 400},
		{name: "id a_b, update", method: "PUT", target: "/fhir/Practitioner/a_b", header: ct, body: prac, status: 400},
		{name: "id a_b, delete", method: "DELETE", target: "/fhir/Practitioner/a_b", status: 400},
		{name: "id été", method: "GET", target: "/fhir/Practitioner/%C3%A9t%C3%A9", status: 400},
		{name: "id not UTF-8", method: "GET", target: "/fhir/Practitioner/%FF%FE", status: 400},
		{name: "id with encoded slashes", method: "GET", target: "/fhir/Practitioner/..%2F..%2Fetc%2Fpasswd", status: 400},
		{name: "id with a form feed", method: "GET", target: "/fhir/Practitioner/a%0Cb", status: 400},
		{name: "id with NUL", method: "GET", target: "/fhir/Practitioner/a%00b", status: 400},
		{name: "id of 65 characters", method: "GET", target: "/fhir/Practitioner/" + id65, status: 400},
		{name: "id of 65 characters, update", method: "PUT", target: "/fhir/Practitioner/" + id65, header: ct, body: prac, status: 400},
		{name: "version not a number", method: "GET", target: "/fhir/Practitioner/p1/_history/x", status: 404},
		{name: "version 0", method: "GET", target: "/fhir/Practitioner/p1/_history/0", status: 404},
		{name: "version past int64", method: "GET", target: "/fhir/Practitioner/p1/_history/99999999999999999999", status: 404},

		// Paths.
		{name: "dot segments", method: "GET", target: "/fhir/Practitioner/../../etc/passwd", status: 400},
		{name: "dot segment", method: "GET", target: "/fhir/./metadata", status: 400},
		{name: "empty segment", method: "GET", target: "/fhir//Practitioner", status: 400},
		{name: "segments after the id", method: "GET", target: "/fhir/Practitioner/a/b/c", status: 404},
		{name: "segment after the version", method: "GET", target: "/fhir/Practitioner/a/_history/1/x", status: 404},
		{name: "system history with a segment", method: "GET", target: "/fhir/_history/x", status: 404},
		{name: "unknown system path", method: "GET", target: "/fhir/_nothing", status: 404},
		{name: "bad escape in the path", method: "GET", target: "/fhir/Practitioner/%zz", status: 400, net: true},

		// Operations this server does not offer.
		{name: "system operation", method: "GET", target: "/fhir/$everything", status: 404},
		{name: "system operation, POST", method: "POST", target: "/fhir/$everything", header: ct, body: `{"resourceType":"Parameters"}`, status: 404},
		{name: "type operation", method: "GET", target: "/fhir/Practitioner/$everything", status: 404},
		{name: "type operation, POST", method: "POST", target: "/fhir/Practitioner/$meta", header: ct, body: `{"resourceType":"Parameters"}`, status: 404},
		{name: "instance operation", method: "GET", target: "/fhir/Practitioner/p1/$everything", status: 404},
		{name: "instance operation, POST", method: "POST", target: "/fhir/Practitioner/p1/$meta-add", header: ct, body: `{"resourceType":"Parameters"}`, status: 404},
		{name: "operation on an unknown type", method: "GET", target: "/fhir/Spaceship/$everything", status: 404},
		{name: "export status of no job", method: "GET", target: "/fhir/$export-status/nothing", status: 404},

		// Methods.
		{name: "PATCH base", method: "PATCH", target: "/fhir", header: ct, body: `[]`, status: 405},
		{name: "PATCH base/", method: "PATCH", target: "/fhir/", header: ct, body: `[]`, status: 405},
		{name: "PATCH type", method: "PATCH", target: "/fhir/Practitioner", header: ct, body: `[]`, status: 405},
		{name: "PATCH instance", method: "PATCH", target: "/fhir/Practitioner/p1", header: ct, body: `[]`, status: 405},
		{name: "OPTIONS base", method: "OPTIONS", target: "/fhir", status: 405},
		{name: "OPTIONS base/", method: "OPTIONS", target: "/fhir/", status: 405},
		{name: "OPTIONS type", method: "OPTIONS", target: "/fhir/Practitioner", status: 405},
		{name: "OPTIONS instance", method: "OPTIONS", target: "/fhir/Practitioner/p1", status: 405},
		{name: "OPTIONS metadata", method: "OPTIONS", target: "/fhir/metadata", status: 405},
		{name: "HEAD base", method: "HEAD", target: "/fhir", status: 200},
		{name: "HEAD type", method: "HEAD", target: "/fhir/Practitioner", status: 200},
		{name: "HEAD instance", method: "HEAD", target: "/fhir/Practitioner/p1", status: 200},
		{name: "HEAD of an unknown type", method: "HEAD", target: "/fhir/Spaceship/1", status: 404},
		{name: "TRACE base", method: "TRACE", target: "/fhir", status: 405},
		{name: "TRACE type", method: "TRACE", target: "/fhir/Practitioner", status: 405},
		{name: "TRACE instance", method: "TRACE", target: "/fhir/Practitioner/p1", status: 405},
		{name: "made-up method, base", method: "FROBNICATE", target: "/fhir", status: 405},
		{name: "made-up method, type", method: "FROBNICATE", target: "/fhir/Practitioner", status: 405},
		{name: "made-up method, instance", method: "FROBNICATE", target: "/fhir/Practitioner/p1", status: 405},
		{name: "DELETE base", method: "DELETE", target: "/fhir", status: 405},
		{name: "PUT base", method: "PUT", target: "/fhir", header: ct, body: prac, status: 405},
		{name: "POST instance", method: "POST", target: "/fhir/Practitioner/p1", header: ct, body: prac, status: 405},
		{name: "PUT metadata", method: "PUT", target: "/fhir/metadata", header: ct, body: prac, status: 405},
		{name: "DELETE a version", method: "DELETE", target: "/fhir/Practitioner/p1/_history/1", status: 405},
		{name: "POST history", method: "POST", target: "/fhir/Practitioner/_history", header: ct, body: prac, status: 405},
		{name: "PUT history", method: "PUT", target: "/fhir/Practitioner/_history", header: ct, body: prac, status: 405},
		{name: "DELETE search", method: "DELETE", target: "/fhir/Practitioner/_search", status: 405},
		{name: "POST system history", method: "POST", target: "/fhir/_history", header: ct, body: prac, status: 405},
		{name: "DELETE metadata", method: "DELETE", target: "/fhir/metadata", status: 405},
		{name: "read under metadata", method: "GET", target: "/fhir/metadata/x", status: 404},

		// Content-Type and charset.
		{name: "text/plain", method: "POST", target: "/fhir/Practitioner", header: []string{"Content-Type", "text/plain"}, body: prac, status: 415},
		{name: "Content-Type unparseable", method: "PUT", target: "/fhir/Practitioner/p1", header: []string{"Content-Type", fhirJSON + "; ;;="}, body: prac, status: 415},
		{name: "Content-Type a slash", method: "POST", target: "/fhir/Practitioner", header: []string{"Content-Type", "/"}, body: prac, status: 415},
		{name: "charset latin1", method: "PUT", target: "/fhir/Practitioner/p1", header: []string{"Content-Type", fhirJSON + "; charset=iso-8859-1"}, body: prac, status: 415},
		{name: "charset made up", method: "POST", target: "/fhir", header: []string{"Content-Type", fhirJSON + "; charset=klingon"}, body: bundle("batch", ""), status: 415},
		{name: "two Content-Types", method: "POST", target: "/fhir/Practitioner", header: []string{"Content-Type", fhirJSON, "Content-Type", "text/xml"}, body: prac, status: 400},
		{name: "search form of another type", method: "POST", target: "/fhir/Practitioner/_search", header: ct, body: prac, status: 415},
		{name: "search form with a bad escape", method: "POST", target: "/fhir/Practitioner/_search", header: []string{"Content-Type", form}, body: "name=%zz", status: 400},
		{name: "search form with a huge _type", method: "POST", target: "/fhir/_search", header: []string{"Content-Type", form}, body: "_type=" + huge, status: 400},

		// Accept and _format.
		{name: "Accept XML only", method: "GET", target: "/fhir/Practitioner/p1", header: []string{"Accept", "application/fhir+xml"}, status: 406},
		{name: "Accept an image", method: "GET", target: "/fhir/Practitioner", header: []string{"Accept", "image/png"}, status: 406},
		{name: "Accept garbage", method: "GET", target: "/fhir/metadata", header: []string{"Accept", ";;;,,=/"}, status: 406},
		{name: "_format unknown", method: "GET", target: "/fhir/Practitioner?_format=yaml", status: 406},
		{name: "_format xml", method: "GET", target: "/fhir/Practitioner/p1?_format=xml", status: 406},
		{name: "_format a lone %", method: "GET", target: "/fhir/Practitioner?_format=%", status: 400},

		// Query strings.
		{name: "bad escape", method: "GET", target: "/fhir/Practitioner?name=%zz", status: 400},
		{name: "truncated escape", method: "GET", target: "/fhir/Practitioner?name=%4", status: 400},
		{name: "bad escape, read", method: "GET", target: "/fhir/Practitioner/p1?_summary=%zz", status: 400},
		{name: "bad escape, system search", method: "GET", target: "/fhir?name=%zz", status: 400},
		{name: "bad escape, history", method: "GET", target: "/fhir/_history?_since=%zz", status: 400},
		{name: "bad escape, conditional delete", method: "DELETE", target: "/fhir/Practitioner?name=%zz", status: 400},
		{name: "bad escape, conditional update", method: "PUT", target: "/fhir/Practitioner?name=%zz", header: ct, body: prac, status: 400},
		{name: "bad escape, metadata", method: "GET", target: "/fhir/metadata?%", status: 400},
		{name: "semicolon separator", method: "GET", target: "/fhir/Practitioner?name=a;b", status: 400},
		{name: "value not UTF-8", method: "GET", target: "/fhir/Practitioner?name=%FF%FE", status: 400},
		{name: "token not UTF-8", method: "GET", target: "/fhir/Practitioner?identifier=%C3%28", status: 400},
		{name: "parameter name not UTF-8", method: "GET", target: "/fhir/Practitioner?%FF=1", status: 400},
		{name: "_sort not UTF-8", method: "GET", target: "/fhir/Practitioner?_sort=%FF", status: 400},
		{name: "NUL in a value", method: "GET", target: "/fhir/Practitioner?name=a%00b", status: 400},
		{name: "huge value", method: "GET", target: "/fhir/Practitioner?name=" + huge, status: 200},
		{name: "huge parameter name", method: "GET", target: "/fhir/Practitioner?" + huge + "=1", status: 400},
		// Audit records are searched on their own, on their columns.
		{name: "AuditEvent with other types", method: "GET", target: "/fhir?_type=AuditEvent,Practitioner", status: 400},
		{name: ":below on an AuditEvent reference", method: "GET", target: "/fhir/AuditEvent?agent:below=Organization/x", status: 400},
		{name: "_has inside an AuditEvent search (nothing refers to a record)", method: "GET", target: "/fhir/AuditEvent?_has:Provenance:target:agent=Organization/x", status: 200},
		{name: "query past net/http's limit", method: "GET", target: "/fhir/Practitioner?name=" + strings.Repeat("a", 1<<20+8192), status: 431, net: true},
		{name: "_count past int64", method: "GET", target: "/fhir/Practitioner?_count=99999999999999999999999", status: 400},
		{name: "_count negative", method: "GET", target: "/fhir/Practitioner?_count=-1", status: 400},
		{name: "2,000 parameters", method: "GET", target: "/fhir/Practitioner?" + strings.Repeat("name=a&", 2000), status: 400},
		{name: "3,000 values", method: "GET", target: "/fhir/Practitioner?name=" + strings.Repeat("a,", 3000) + "a", status: 400},
		{name: "20,000 ids", method: "GET", target: "/fhir/Practitioner?_id=" + strings.Repeat("a,", 20000) + "a", status: 400},
		{name: "a request line past the handler's header limit", method: "GET", target: "/fhir/Practitioner?name=" + strings.Repeat("a", 66<<10), status: 431},
		{name: "70,000 ids: past net/http's header limit", method: "GET", target: "/fhir/Practitioner?_id=" + strings.Repeat("a,", 70000) + "a", status: 431, net: true},
		{name: "2,000 conditions", method: "DELETE", target: "/fhir/Practitioner?" + strings.Repeat("name=a&", 2000), status: 400},
		{name: "unknown parameter", method: "GET", target: "/fhir/Practitioner?spaceship=1", status: 400},
		{name: "_since not an instant", method: "GET", target: "/fhir/Practitioner/_history?_since=yesterday", status: 400},
		{name: "date not in the calendar", method: "GET", target: "/fhir/Practitioner?_lastUpdated=gt2020-13-45", status: 400},
		{name: "chain through an unknown parameter", method: "GET", target: "/fhir/PractitionerRole?practitioner.spaceship.name=x", status: 400},
		{name: "_include of no type", method: "GET", target: "/fhir/PractitionerRole?_include=%FF:x", status: 400},
		{name: "_page not a token", method: "GET", target: "/fhir/Practitioner?_page=%25%25", status: 400},
		{name: "_page with NUL", method: "GET", target: "/fhir/Practitioner?_sort=family&_page=eyJyIjoxLCJrIjpbeyJzIjoiYVx1MDAwMCJ9XX0", status: 400},
		{name: "_page of another sort", method: "GET", target: "/fhir/Practitioner?_sort=family&_page=eyJyIjoxLCJrIjpbeyJpIjoiNSJ9XX0", status: 400},
		{name: "_page with more keys", method: "GET", target: "/fhir/Practitioner?_page=eyJyIjoxLCJrIjpbeyJzIjoiYSJ9LHsicyI6ImIifSx7ImkiOiIxIn1dfQ", status: 400},
		{name: "_page with a string for a time", method: "GET", target: "/fhir/Practitioner?_sort=-_lastUpdated&_page=eyJyIjo5MjIzMzcyMDM2ODU0Nzc1ODA3LCJrIjpbeyJzIjoieCJ9XX0", status: 400},
		{name: "_export with a bad escape", method: "GET", target: "/fhir/$export?_type=%zz", header: []string{"Prefer", "respond-async"}, status: 400},

		// Conditions and Provenance in headers.
		{name: "two If-Match lines: one list (RFC 9110)", method: "PUT", target: "/fhir/Practitioner/p1", header: withCT("If-Match", `W/"1"`, "If-Match", `W/"2"`), body: prac, status: 200},
		{name: "If-Match * on nothing", method: "DELETE", target: "/fhir/Practitioner/nobody", header: []string{"If-Match", "*"}, status: 412},
		{name: "If-Match past int64", method: "PUT", target: "/fhir/Practitioner/p1", header: withCT("If-Match", `W/"99999999999999999999"`), body: prac, status: 400},
		{name: "If-None-Exist not a query", method: "POST", target: "/fhir/Practitioner", header: withCT("If-None-Exist", "%zz"), body: prac, status: 400},
		{name: "If-None-Exist empty", method: "POST", target: "/fhir/Practitioner", header: withCT("If-None-Exist", "?"), body: prac, status: 400},
		{name: "If-None-Exist unknown parameter", method: "POST", target: "/fhir/Practitioner", header: withCT("If-None-Exist", "spaceship=1"), body: prac, status: 400},
		{name: "If-None-Exist not UTF-8", method: "POST", target: "/fhir/Practitioner", header: withCT("If-None-Exist", "name=%FF"), body: prac, status: 400},
		{name: "two If-None-Exist", method: "POST", target: "/fhir/Practitioner", header: withCT("If-None-Exist", "name=a", "If-None-Exist", "name=b"), body: prac, status: 400},
		{name: "If-None-Match with control characters", method: "GET", target: "/fhir/Practitioner/p1", header: []string{"If-None-Match", "\x01\x02"}, status: 400, net: true},
		{name: "If-Modified-Since not a date (ignored)", method: "GET", target: "/fhir/Practitioner/p1", header: []string{"If-Modified-Since", "yesterday"}, status: 200},
		{name: "Prefer unknown (ignored)", method: "GET", target: "/fhir/Practitioner/p1", header: []string{"Prefer", "return=;;;="}, status: 200},
		{name: "X-Request-Id with DEL", method: "GET", target: "/fhir/Practitioner/p1", header: []string{"X-Request-Id", "a\x7fb"}, status: 400, net: true},
		{name: "X-Provenance not JSON", method: "PUT", target: "/fhir/Practitioner/p1", header: withCT("X-Provenance", "{not json"), body: prac, status: 400},
		{name: "X-Provenance not a Provenance", method: "PUT", target: "/fhir/Practitioner/p1", header: withCT("X-Provenance", `{"resourceType":"Practitioner"}`), body: prac, status: 400},
		{name: "X-Provenance an array", method: "PUT", target: "/fhir/Practitioner/p1", header: withCT("X-Provenance", `[1,2]`), body: prac, status: 400},
		{name: "X-Provenance nested deep", method: "PUT", target: "/fhir/Practitioner/p1", header: withCT("X-Provenance", strings.Repeat("[", 3000)), body: prac, status: 400},
		{name: "two X-Provenance", method: "DELETE", target: "/fhir/Practitioner/p1", header: []string{"X-Provenance", `{}`, "X-Provenance", `{}`}, status: 400},

		// Bodies.
		{name: "body not JSON", method: "POST", target: "/fhir/Practitioner", header: ct, body: "hello", status: 400},
		{name: "body a JSON array", method: "PUT", target: "/fhir/Practitioner/p1", header: ct, body: "[1,2,3]", status: 400},
		{name: "body a JSON string", method: "POST", target: "/fhir/Practitioner", header: ct, body: `"Practitioner"`, status: 400},
		{name: "body null", method: "POST", target: "/fhir", header: ct, body: `null`, status: 400},
		{name: "body nested 10,000 deep", method: "POST", target: "/fhir/Practitioner", header: ct, body: deep, status: 400},
		{name: "resource nested 10,000 deep", method: "POST", target: "/fhir/Practitioner", header: ct, body: deepResource, status: 400},
		{name: "Bundle nested 10,000 deep", method: "POST", target: "/fhir", header: ct, body: deep, status: 400},
		{name: "body not UTF-8", method: "POST", target: "/fhir/Practitioner", header: ct, body: "{\"resourceType\":\"Practitioner\",\"name\":[{\"text\":\"\xff\"}]}", status: 400},
		{name: "body with a duplicate key", method: "POST", target: "/fhir/Practitioner", header: ct, body: `{"resourceType":"Practitioner","active":true,"active":false}`, status: 400},
		{name: "body with trailing data", method: "POST", target: "/fhir/Practitioner", header: ct, body: prac + prac, status: 400},
		{name: "resource with NUL", method: "POST", target: "/fhir/Practitioner", header: ct, body: `{"resourceType":"Practitioner","name":[{"family":"a\u0000b"}]}`, status: 400},
		{name: "resource with a form feed", method: "POST", target: "/fhir/Practitioner", header: ct, body: `{"resourceType":"Practitioner","name":[{"family":"a\fb"}]}`, status: 400},

		// Bundles.
		{name: "Bundle entry not an array", method: "POST", target: "/fhir", header: ct, body: `{"resourceType":"Bundle","type":"batch","entry":{}}`, status: 400},
		{name: "Bundle entry not an object", method: "POST", target: "/fhir", header: ct, body: bundle("batch", `1`), status: 400},
		{name: "Bundle of another type", method: "POST", target: "/fhir", header: ct, body: `{"resourceType":"Bundle","type":"searchset"}`, status: 400},
		{name: "Bundle without a type", method: "POST", target: "/fhir", header: ct, body: `{"resourceType":"Bundle"}`, status: 400},
		{name: "entry URL on another server", method: "POST", target: "/fhir", header: ct, body: bundle("transaction", `{"request":{"method":"GET","url":"https://elsewhere.example/fhir/Practitioner/1"}}`), status: 400},
		{name: "entry URL with a bad escape", method: "POST", target: "/fhir", header: ct, body: bundle("transaction", `{"request":{"method":"GET","url":"Practitioner?name=%zz"}}`), status: 400},
		{name: "entry URL with a bad escape, batch", method: "POST", target: "/fhir", header: ct, body: bundle("batch", `{"request":{"method":"DELETE","url":"Practitioner?name=%zz"}}`), status: 200},
		{name: "entry URL not UTF-8", method: "POST", target: "/fhir", header: ct, body: bundle("batch", `{"request":{"method":"GET","url":"Practitioner?name=%FF"}}`), status: 200},
		{name: "entry URL with an escaped NUL", method: "POST", target: "/fhir", header: ct, body: bundle("batch", `{"request":{"method":"GET","url":"Practitioner?name=a%00"}},{"request":{"method":"GET","url":"Practi%00tioner/p1"}}`), status: 200},
		{name: "entry URL with NUL", method: "POST", target: "/fhir", header: ct, body: bundle("batch", `{"request":{"method":"GET","url":"Practitioner/p\u00001"}}`), status: 400},
		{name: "entry URL of an unknown type", method: "POST", target: "/fhir", header: ct, body: bundle("batch", `{"request":{"method":"GET","url":"Spaceship/1"}},{"request":{"method":"DELETE","url":"Spaceship/1"}},{"request":{"method":"GET","url":"Practitioner/a_b/_history/1"}}`), status: 200},
		{name: "entry URL of an operation", method: "POST", target: "/fhir", header: ct, body: bundle("transaction", `{"request":{"method":"GET","url":"Practitioner/$everything"}}`), status: 404},
		{name: "entry URL the base", method: "POST", target: "/fhir", header: ct, body: bundle("batch", `{"request":{"method":"DELETE","url":"/"}}`), status: 200},
		{name: "entry method with a form feed", method: "POST", target: "/fhir", header: ct, body: bundle("batch", `{"request":{"method":"G\fT","url":"Practitioner/p1"}}`), status: 200},
		{name: "entry method with NUL", method: "POST", target: "/fhir", header: ct, body: bundle("batch", `{"request":{"method":"G\u0000T","url":"Practitioner/p1"}}`), status: 400},
		{name: "entry nesting a Bundle", method: "POST", target: "/fhir", header: ct, body: bundle("transaction", `{"resource":{"resourceType":"Bundle","type":"batch"},"request":{"method":"POST","url":"Bundle"}}`), status: 404},
		{name: "entry with a bad ifMatch", method: "POST", target: "/fhir", header: ct, body: bundle("transaction", `{"resource":`+prac+`,"request":{"method":"PUT","url":"Practitioner/p1","ifMatch":"x"}}`), status: 400},
		{name: "entry with a bad ifNoneExist", method: "POST", target: "/fhir", header: ct, body: bundle("transaction", `{"resource":{"resourceType":"Practitioner"},"request":{"method":"POST","url":"Practitioner","ifNoneExist":"name=%zz"}}`), status: 400},
	}
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			srv := startServer(t, opener(t, b))
			srv.do(http.MethodPut, "/Practitioner/p1", prac).want(t, http.StatusCreated)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					resp, body := srv.sendRaw(rawRequest{method: tt.method, target: tt.target, header: tt.header, body: tt.body})
					line := fmt.Sprintf("%s %.80s", tt.method, tt.target)
					if resp.StatusCode >= 500 || resp.StatusCode != tt.status {
						t.Fatalf("%s = %d %.300s; want %d", line, resp.StatusCode, body, tt.status)
					}
					if tt.net {
						return
					}
					if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, fhirJSON) {
						t.Fatalf("%s = %d with Content-Type %q, body %.200q; want FHIR JSON", line, resp.StatusCode, got, body)
					}
					if tt.method == http.MethodHead || resp.StatusCode < 400 {
						return
					}
					oo, err := jsontree.ParseObject(body)
					if err != nil {
						t.Fatalf("%s = %d %.200q; want an OperationOutcome", line, resp.StatusCode, body)
					}
					if rt, _ := oo.String("resourceType"); rt != "OperationOutcome" {
						t.Fatalf("%s = %d %.200s; want an OperationOutcome", line, resp.StatusCode, body)
					}
				})
			}
		})
	}
}
