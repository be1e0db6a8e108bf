package interaction

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/vhdir/vhdir/internal/fhir"
)

// grants is a table of what a token grants: per type, the letters granted
// without a condition and the conditions of filtered grants.
type grants struct {
	free     map[string]Perm
	filtered map[string][]url.Values
	filterOf map[string]Perm
}

func (g grants) Allows(typ string, p Perm) bool {
	return p != 0 && p&^(g.free[typ]|g.filterOf[typ]) == 0
}

func (g grants) Filters(typ string, p Perm) ([]url.Values, bool) {
	if p&^g.free[typ] == 0 {
		return nil, true
	}
	if p&^(g.free[typ]|g.filterOf[typ]) != 0 {
		return nil, false
	}
	return g.filtered[typ], false
}

type decider struct {
	g       grants
	err     error
	resolve int
}

func (d *decider) Grants(context.Context, *Caller) (Grants, error) { return d.g, d.err }
func (d *decider) Viewer(_ context.Context, c *Caller) (*Viewer, error) {
	d.resolve++
	return &Viewer{Organization: c.Organization}, nil
}

func TestDecide(t *testing.T) {
	d := &decider{g: grants{
		free:     map[string]Perm{"Practitioner": PermRead | PermSearch, "Location": PermRead},
		filtered: map[string][]url.Values{"PractitionerRole": {{"active": {"true"}}}},
		filterOf: map[string]Perm{"PractitionerRole": PermRead | PermSearch},
	}}
	if _, err := Decide(context.Background(), d, d); fhir.StatusOf(err) != http.StatusUnauthorized {
		t.Errorf("Decide without a caller = %v; want 401", err)
	}
	ctx := WithCaller(context.Background(), &Caller{ClientID: "c", Organization: "Organization/o"})
	acc, err := Decide(ctx, d, d)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		typ             string
		readable, may   bool
		constraints     []url.Values
		wantConstrained bool
	}{
		{"granted freely", "Practitioner", true, true, nil, false},
		{"granted under a condition", "PractitionerRole", false, true, []url.Values{{"active": {"true"}}}, true},
		{"not granted", "Organization", false, false, []url.Values{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := acc.Readable(tt.typ); got != tt.readable {
				t.Errorf("Readable(%s) = %v; want %v", tt.typ, got, tt.readable)
			}
			if got := acc.MayRead(tt.typ); got != tt.may {
				t.Errorf("MayRead(%s) = %v; want %v", tt.typ, got, tt.may)
			}
			got := acc.Constraints(tt.typ, PermSearch)
			if (got != nil) != tt.wantConstrained || len(got) != len(tt.constraints) {
				t.Errorf("Constraints(%s) = %v; want %v", tt.typ, got, tt.constraints)
			}
		})
	}
	if conds, scoped := acc.ReadConditions("PractitionerRole"); !scoped || len(conds) != 2 {
		t.Errorf("ReadConditions(PractitionerRole) = %v, %v; want the condition for r and for s, scoped", conds, scoped)
	}
	if _, scoped := acc.ReadConditions("Location"); scoped {
		t.Error("ReadConditions(Location) scoped; want free")
	}
	permits := []struct {
		req  Request
		want int
	}{
		{Request{Kind: Read, Type: "Location", ID: "l"}, 0},
		{Request{Kind: SearchType, Type: "Location"}, http.StatusForbidden},
		{Request{Kind: Create, Type: "Practitioner"}, http.StatusForbidden},
		{Request{Kind: Delete, Type: "Practitioner", Query: url.Values{"name": {"x"}}}, http.StatusForbidden},
		{Request{Kind: SearchSystem}, 0},
		{Request{Kind: Transaction}, 0},
	}
	for _, p := range permits {
		err := acc.Permit(&p.req)
		if got := fhir.StatusOf(err); err == nil && p.want != 0 || err != nil && got != p.want {
			t.Errorf("Permit(%v %s) = %v; want status %d", p.req.Kind, p.req.Type, err, p.want)
		}
	}
	for range 3 {
		if v, err := acc.Viewer(ctx); err != nil || v.Organization != "Organization/o" {
			t.Fatalf("Viewer = %+v, %v", v, err)
		}
	}
	if d.resolve != 1 {
		t.Errorf("the viewer was resolved %d times in one request; want once", d.resolve)
	}
	boom := errors.New("boom")
	if _, err := Decide(ctx, &decider{err: boom}, d); !errors.Is(err, boom) {
		t.Errorf("Decide with grants that cannot be known = %v; want the error", err)
	}
}
