package membership_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/membership"
	"github.com/vhdir/vhdir/internal/profile/profiletest"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// TestResolver: a caller's organization is resolved up its partOf chain
// (stopping at cycles) and into the CareTeams its organizations manage or
// take part in; a caller registered to see restricted data is an
// operator; a resolved viewer is reused for TTL, then resolved again.
func TestResolver(t *testing.T) {
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Fresh(t)
			t.Cleanup(func() { st.Close() })
			reg, err := search.NewRegistry()
			if err != nil {
				t.Fatal(err)
			}
			clk := clock.NewFake(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
			eng := search.NewEngine(reg, "https://x/fhir")
			dir := &directory.Directory{Store: st, Clock: clk, Indexer: eng, Profiles: profiletest.Warn(t)}
			put := func(body string) {
				t.Helper()
				res, err := fhir.ParseResource([]byte(body))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := dir.Write(context.Background(), func(w *directory.Writer) error {
					_, err := w.Update(context.Background(), res, res.ID, fhir.ETags{})
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			put(`{"resourceType":"Organization","id":"clinic","partOf":{"reference":"Organization/system"}}`)
			put(`{"resourceType":"Organization","id":"system","partOf":{"reference":"Organization/network"}}`)
			put(`{"resourceType":"Organization","id":"network","partOf":{"reference":"Organization/system"}}`) // a cycle
			put(`{"resourceType":"CareTeam","id":"managed","managingOrganization":[{"reference":"Organization/system"}]}`)
			put(`{"resourceType":"CareTeam","id":"joined","participant":[{"member":{"reference":"Organization/clinic"}}]}`)
			put(`{"resourceType":"CareTeam","id":"other","managingOrganization":[{"reference":"Organization/elsewhere"}]}`)
			r, err := membership.New(st, eng, clk)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			v, err := r.Viewer(ctx, &interaction.Caller{Organization: "Organization/clinic", Roles: []string{"staff"}})
			if err != nil {
				t.Fatal(err)
			}
			if v.Operator || !slices.Equal(v.Ancestors, []string{"Organization/system", "Organization/network"}) ||
				!slices.Equal(v.Teams, []string{"CareTeam/joined", "CareTeam/managed"}) || !slices.Equal(v.Roles, []string{"staff"}) {
				t.Errorf("Viewer(clinic) = %+v; want ancestors system, network; teams joined, managed; role staff", v)
			}
			if v, _ := r.Viewer(ctx, &interaction.Caller{Organization: "Organization/clinic", SeesRestricted: true}); !v.Operator {
				t.Errorf("a caller that sees restricted data = %+v; want an operator", v)
			}
			put(`{"resourceType":"Organization","id":"clinic"}`) // leaves the system
			if v, _ := r.Viewer(ctx, &interaction.Caller{Organization: "Organization/clinic", Roles: []string{"staff"}}); len(v.Ancestors) != 2 {
				t.Errorf("within the TTL the viewer = %+v; want the one resolved before", v)
			}
			clk.Advance(membership.TTL)
			if v, _ := r.Viewer(ctx, &interaction.Caller{Organization: "Organization/clinic", Roles: []string{"staff"}}); len(v.Ancestors) != 0 || !slices.Equal(v.Teams, []string{"CareTeam/joined"}) {
				t.Errorf("after the TTL the viewer = %+v; want no ancestors and the team it joined", v)
			}
		})
	}
}
