package audit

import (
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/search"
)

// BenchmarkPrepare is the CPU a record costs on the request's goroutine:
// render, parse and validate, extract its index rows.
func BenchmarkPrepare(b *testing.B) {
	reg, err := search.NewRegistry()
	if err != nil {
		b.Fatal(err)
	}
	eng := search.NewEngine(reg, "https://x/fhir")
	l := &Log{Dir: &directory.Directory{Indexer: eng}, Source: Source{Site: "s", FHIRBase: "https://x/fhir", TimeSource: "system"}}
	e := &Event{Type: typeRest, Subtype: Coding{sysRestful, "read", ""}, Action: "R", Outcome: Success, Profile: "IHE.BasicAudit.Read",
		Client:  &interaction.Caller{ClientID: "c", ClientName: "C", Organization: "Organization/o", OrganizationName: "O", TokenID: "abc"},
		Address: "127.0.0.1", RequestID: "r1", clientRole: roleDest, serverRole: roleSrc,
		Entities: []Entity{dataEntity("Practitioner/p/_history/1")}}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.prepare([]*Event{e}, now); err != nil {
			b.Fatal(err)
		}
	}
}
