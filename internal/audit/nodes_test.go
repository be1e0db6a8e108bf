package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/store/postgres"
	"github.com/vhdir/vhdir/internal/store/postgres/pgtest"
)

// TestTwoNodesOneChain runs two servers on one PostgreSQL database, as a
// national directory does, with reads and writes on both at once: every
// request leaves its record, all in one intact chain, searchable from
// either node.
func TestTwoNodesOneChain(t *testing.T) {
	url := pgtest.NewDatabase(t)
	var nodes []*stack
	for range 2 {
		st, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, newStack(t, st, raw, true))
	}
	const perNode = 15
	var wg sync.WaitGroup
	for n, s := range nodes {
		wg.Go(func() {
			for i := range perNode {
				id := fmt.Sprintf("n%d-%d", n, i)
				if r := s.do("PUT", "/fhir/Practitioner/"+id, "a", "", prac(id, "Ann")); r.status != 201 {
					t.Errorf("create %s = %d %s", id, r.status, r.raw)
				}
				if r := s.do("GET", "/fhir/Practitioner/"+id, "a", "", ""); r.status != 200 {
					t.Errorf("read %s = %d", id, r.status)
				}
			}
		})
	}
	wg.Wait()
	rep, err := audit.Verify(context.Background(), nodes[0].store, nil)
	if err != nil || rep.Problem != nil {
		t.Fatalf("verify = %+v, %v", rep, err)
	}
	if rep.Records != 2*2*perNode {
		t.Errorf("%d records, want %d (a create and a read per resource)", rep.Records, 2*2*perNode)
	}
	r := nodes[1].do("GET", "/fhir/AuditEvent?agent:identifier=urn:vhdir:client-id|a&_total=accurate&_count=1", "auditor", "", "")
	if total, _ := r.body["total"].(float64); r.status != 200 || int64(total) != rep.Records {
		t.Errorf("search found %v of %d records: %d %.300s", r.body["total"], rep.Records, r.status, r.raw)
	}
}
