package console

import (
	"errors"
	"net/url"
	"testing"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/search"
)

// FuzzAuditFilter: whatever query the timeline gets, it is refused as the
// operator's mistake (a 400 page) or becomes a FHIR search the engine
// compiles or refuses as a client error, never a server failure; and the
// timeline's own link for the filter reads back as the same filter.
func FuzzAuditFilter(f *testing.F) {
	reg, err := search.NewRegistry()
	if err != nil {
		f.Fatal(err)
	}
	eng := search.NewEngine(reg, "https://dir.example/fhir")
	for _, seed := range []string{
		"", "client=acme&outcome=4,8,12", "organization=Organization/acme&from=2026-12-01&to=2026-12-07T10:00",
		"type=read,search-type", "type=rest", "action=c,r", "client=a,b|c$d\\e", "from=2026-13-45", "_page=xyz",
		"outcome=zzz", "organization=%00", "type=rest,read",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		in, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		filter, q, err := parseAuditFilter(in)
		if err != nil {
			var pe *pageError
			if !errors.As(err, &pe) || pe.status != 400 {
				t.Fatalf("%q: %v; want a 400 page", raw, err)
			}
			return
		}
		delete(q, "_page") // the cursor is the FHIR API's to judge
		if _, err := eng.Filter("AuditEvent", q); err != nil && fhir.StatusOf(err) >= 500 {
			t.Fatalf("%q → %v: %v", raw, q, err)
		}
		u, err := url.Parse(auditLink(filter))
		if err != nil {
			t.Fatalf("%q: link %q: %v", raw, auditLink(filter), err)
		}
		again, _, err := parseAuditFilter(u.Query())
		if err != nil || again != filter {
			t.Fatalf("%q: its link %q reads back as %+v, %v; want %+v", raw, auditLink(filter), again, err, filter)
		}
	})
}
