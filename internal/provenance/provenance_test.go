package provenance_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/profile/profiletest"
	"github.com/vhdir/vhdir/internal/provenance"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/sqlite"
)

var acme = &interaction.Caller{ClientID: "acme", ClientName: "Acme Health Plan", Organization: "Organization/acme-org", OrganizationName: "Acme"}

// at walks a JSON value by member names and array indexes.
func at(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case *jsontree.Object:
			v, _ = x.Get(p)
		case []any:
			i := 0
			for _, c := range p {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := at(v, path...).(string)
	return s
}

func count(v any, path ...string) int {
	a, _ := at(v, path...).([]any)
	return len(a)
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name   string
		value  string
		code   string // "" for success
		expr   string
		inDiag string
	}{
		{name: "minimal", value: `{"resourceType":"Provenance"}`},
		{name: "agent and occurred", value: `{"resourceType":"Provenance","occurredDateTime":"2026-01-02","agent":[{"who":{"reference":"Practitioner/p1"}}],"reason":[{"text":"annual attestation"}]}`},
		{name: "recorded given", value: `{"resourceType":"Provenance","recorded":"2020-01-01T00:00:00Z"}`},
		{name: "with id and meta", value: `{"resourceType":"Provenance","id":"mine","meta":{"tag":[{"code":"x"}]}}`},
		{name: "target", value: `{"resourceType":"Provenance","target":[{"reference":"Practitioner/p1"}]}`, code: fhir.IssueInvalid, expr: "Provenance.target", inDiag: "must not have a target"},
		{name: "empty target", value: `{"resourceType":"Provenance","target":[]}`, code: fhir.IssueInvalid, expr: "Provenance.target"},
		{name: "malformed JSON", value: `{"resourceType":"Provenance",`, code: fhir.IssueStructure, inDiag: "not a JSON Provenance"},
		{name: "empty", value: ``, code: fhir.IssueStructure},
		{name: "not an object", value: `["Provenance"]`, code: fhir.IssueStructure},
		{name: "other resource", value: `{"resourceType":"Practitioner"}`, code: fhir.IssueInvalid, expr: "resourceType"},
		{name: "no resourceType", value: `{"agent":[]}`, code: fhir.IssueInvalid, expr: "resourceType"},
		{name: "bad dateTime", value: `{"resourceType":"Provenance","occurredDateTime":"yesterday"}`, code: fhir.IssueValue, expr: "Provenance.occurred.ofType(dateTime)", inDiag: "X-Provenance header: "},
		{name: "unknown element", value: `{"resourceType":"Provenance","colour":"red"}`, code: fhir.IssueStructure, expr: "Provenance", inDiag: `unknown element "colour"`},
		{name: "agent without who", value: `{"resourceType":"Provenance","agent":[{"type":{"text":"x"}}]}`, code: fhir.IssueRequired, expr: "Provenance.agent[0]"},
		{name: "duplicate member", value: `{"resourceType":"Provenance","resourceType":"Provenance"}`, code: fhir.IssueStructure},
		{name: "too long", value: `{"resourceType":"Provenance","reason":[{"text":"` + strings.Repeat("a", provenance.MaxHeaderBytes) + `"}]}`, code: fhir.IssueTooLong, inDiag: "at most 16384"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := provenance.ParseHeader(tt.value)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("ParseHeader(%q) = %v; want success", tt.value, err)
				}
				if res.Type != "Provenance" {
					t.Errorf("Type = %q", res.Type)
				}
				return
			}
			var fe *fhir.Error
			if !errors.As(err, &fe) {
				t.Fatalf("ParseHeader(%q) = %v, %v; want a *fhir.Error", tt.value, res, err)
			}
			if fe.Status != http.StatusBadRequest {
				t.Errorf("status = %d; want 400", fe.Status)
			}
			is := fe.Issues[0]
			if is.Code != tt.code {
				t.Errorf("code = %q; want %q (%s)", is.Code, tt.code, is.Diagnostics)
			}
			if tt.expr != "" && (len(is.Expression) == 0 || is.Expression[0] != tt.expr) {
				t.Errorf("expression = %v; want %s (%s)", is.Expression, tt.expr, is.Diagnostics)
			}
			if !strings.Contains(is.Diagnostics, tt.inDiag) || !strings.Contains(is.Diagnostics, "X-Provenance") {
				t.Errorf("diagnostics = %q; want it to name X-Provenance and contain %q", is.Diagnostics, tt.inDiag)
			}
		})
	}
}

func header(t *testing.T, value string) *fhir.Resource {
	t.Helper()
	h, err := provenance.ParseHeader(value)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestBuild(t *testing.T) {
	now := time.Date(2026, 7, 8, 9, 10, 11, 123e6, time.UTC)
	v := func(n int64) *store.Version {
		return &store.Version{Type: "Practitioner", ID: "p1", VersionID: n, LastUpdated: now}
	}
	tests := []struct {
		name     string
		change   *directory.Change
		agent    *interaction.Caller
		header   string
		target   string
		activity string
		agents   int
		check    func(t *testing.T, p *jsontree.Object)
	}{
		{name: "create", change: &directory.Change{Action: directory.Created, Type: "Practitioner", ID: "p1", Version: v(1)}, agent: acme,
			target: "Practitioner/p1/_history/1", activity: "CREATE", agents: 1,
			check: func(t *testing.T, p *jsontree.Object) {
				if got := str(p, "agent", "0", "who", "identifier", "system") + "|" + str(p, "agent", "0", "who", "identifier", "value"); got != "urn:vhdir:client-id|acme" {
					t.Errorf("who.identifier = %s", got)
				}
				if got := str(p, "agent", "0", "who", "display"); got != "Acme Health Plan" {
					t.Errorf("who.display = %q", got)
				}
				if got := str(p, "agent", "0", "onBehalfOf", "reference"); got != "Organization/acme-org" {
					t.Errorf("onBehalfOf = %q", got)
				}
				if got := str(p, "agent", "0", "type", "coding", "0", "code"); got != "author" {
					t.Errorf("agent.type = %q", got)
				}
				if _, ok := p.Get("id"); ok {
					t.Error("a built Provenance has an id; the server assigns it when storing")
				}
			}},
		{name: "update", change: &directory.Change{Action: directory.Updated, Type: "Practitioner", ID: "p1", Version: v(2)}, agent: acme,
			target: "Practitioner/p1/_history/2", activity: "UPDATE", agents: 1},
		{name: "delete", change: &directory.Change{Action: directory.Deleted, Type: "Practitioner", ID: "p1", Version: v(3)}, agent: acme,
			target: "Practitioner/p1/_history/3", activity: "DELETE", agents: 1},
		{name: "loader", change: &directory.Change{Action: directory.Created, Type: "Practitioner", ID: "p1", Version: v(1)}, agent: &interaction.Caller{ClientName: "vhdir load"},
			target: "Practitioner/p1/_history/1", activity: "CREATE", agents: 1,
			check: func(t *testing.T, p *jsontree.Object) {
				if got := str(p, "agent", "0", "who", "display"); got != "vhdir load" {
					t.Errorf("who.display = %q", got)
				}
				if at(p, "agent", "0", "who", "identifier") != nil || at(p, "agent", "0", "onBehalfOf") != nil {
					t.Errorf("the loader agent has a client identifier or organization: %s", jsontree.Marshal(at(p, "agent", "0")))
				}
			}},
		{name: "header merged", change: &directory.Change{Action: directory.Updated, Type: "Practitioner", ID: "p1", Version: v(2)}, agent: acme,
			header: `{"resourceType":"Provenance","id":"client-id","recorded":"2001-01-01T00:00:00Z","activity":{"text":"verify"},"occurredDateTime":"2026-01-02","agent":[{"who":{"reference":"Practitioner/steward","display":"Data Steward"}}],"reason":[{"text":"attestation"}]}`,
			target: "Practitioner/p1/_history/2", activity: "UPDATE", agents: 2,
			check: func(t *testing.T, p *jsontree.Object) {
				if got := str(p, "agent", "0", "who", "reference"); got != "Practitioner/steward" {
					t.Errorf("agent[0].who = %q; want the header's agent first", got)
				}
				if got := str(p, "agent", "1", "who", "identifier", "value"); got != "acme" {
					t.Errorf("agent[1] client = %q; want the server's agent appended", got)
				}
				if got := str(p, "occurredDateTime"); got != "2026-01-02" {
					t.Errorf("occurredDateTime = %q", got)
				}
				if got := str(p, "reason", "0", "text"); got != "attestation" {
					t.Errorf("reason = %q", got)
				}
				if _, ok := p.Get("id"); ok {
					t.Error("the header's id was kept")
				}
				var keys []string
				for _, m := range p.Members {
					keys = append(keys, m.Key)
				}
				if got := strings.Join(keys, ","); got != "resourceType,target,occurredDateTime,recorded,reason,activity,agent" {
					t.Errorf("members = %s; want definition order", got)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h *fhir.Resource
			var before string
			if tt.header != "" {
				h = header(t, tt.header)
				before = string(jsontree.Marshal(h.Obj))
			}
			p, err := provenance.Build(tt.change, tt.agent, h, now)
			if err != nil {
				t.Fatalf("Build = %v", err)
			}
			if issues := fhir.Validate(p.Obj); issues != nil {
				t.Fatalf("Build made an invalid Provenance: %v", issues)
			}
			if got := str(p.Obj, "target", "0", "reference"); got != tt.target || count(p.Obj, "target") != 1 {
				t.Errorf("target = %s; want [%s]", jsontree.Marshal(at(p.Obj, "target")), tt.target)
			}
			if got := str(p.Obj, "recorded"); got != "2026-07-08T09:10:11.123Z" {
				t.Errorf("recorded = %q; want the server's time", got)
			}
			if got := str(p.Obj, "activity", "coding", "0", "system") + "#" + str(p.Obj, "activity", "coding", "0", "code"); got != provenance.ActivitySystem+"#"+tt.activity {
				t.Errorf("activity = %s; want %s", got, tt.activity)
			}
			if count(p.Obj, "activity", "coding") != 1 {
				t.Errorf("activity = %s; want the server's coding only", jsontree.Marshal(at(p.Obj, "activity")))
			}
			if n := count(p.Obj, "agent"); n != tt.agents {
				t.Errorf("%d agents; want %d", n, tt.agents)
			}
			if tt.check != nil {
				tt.check(t, p.Obj)
			}
			if h != nil && string(jsontree.Marshal(h.Obj)) != before {
				t.Errorf("Build modified the header:\n got %s\nwant %s", jsontree.Marshal(h.Obj), before)
			}
		})
	}
}

func TestBuildRefusesChangesWithoutVersion(t *testing.T) {
	for _, a := range []directory.Action{directory.Unchanged, directory.Matched, directory.Absent} {
		c := &directory.Change{Action: a, Type: "Practitioner", ID: "p1", Version: &store.Version{VersionID: 1}}
		if _, err := provenance.Build(c, acme, nil, time.Now()); err == nil {
			t.Errorf("Build(%v) = nil error; want one: nothing was written", a)
		}
	}
}

// TestRecord checks which changes get a Provenance, against a real
// directory on SQLite.
func TestRecord(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := search.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	dir := &directory.Directory{Store: st, Clock: clk, Indexer: search.NewEngine(reg, "https://x/fhir"), Profiles: profiletest.Warn(t)}
	parse := func(s string) *fhir.Resource {
		r, err := fhir.ParseResource([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	write := func(fn func(w *directory.Writer) error) []*directory.Change {
		t.Helper()
		var recorded []*directory.Change
		_, err := dir.Write(ctx, func(w *directory.Writer) error {
			if err := fn(w); err != nil {
				return err
			}
			n := len(w.Changes())
			if err := provenance.Record(ctx, w, w.Changes(), acme, nil); err != nil {
				return err
			}
			recorded = w.Changes()[n:]
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		return recorded
	}
	prac := `{"resourceType":"Practitioner","id":"p1","active":true,"identifier":[{"system":"urn:x","value":"1"}]}`
	tests := []struct {
		name string
		fn   func(w *directory.Writer) error
		want []string // targets of the Provenance recorded
	}{
		{"create", func(w *directory.Writer) error { _, err := w.Update(ctx, parse(prac), "p1", fhir.ETags{}); return err }, []string{"Practitioner/p1/_history/1"}},
		{"identical update", func(w *directory.Writer) error { _, err := w.Update(ctx, parse(prac), "p1", fhir.ETags{}); return err }, nil},
		{"conditional create that matches", func(w *directory.Writer) error {
			_, err := w.Create(ctx, parse(`{"resourceType":"Practitioner","active":false}`), "", url.Values{"identifier": {"urn:x|1"}})
			return err
		}, nil},
		{"delete", func(w *directory.Writer) error {
			_, err := w.Delete(ctx, "Practitioner", "p1", fhir.ETags{})
			return err
		}, []string{"Practitioner/p1/_history/2"}},
		{"delete of nothing", func(w *directory.Writer) error {
			_, err := w.Delete(ctx, "Practitioner", "p1", fhir.ETags{})
			return err
		}, nil},
		{"server-kept types", func(w *directory.Writer) error {
			_, err := w.Create(ctx, parse(`{"resourceType":"Provenance","target":[{"reference":"Practitioner/p1"}],"recorded":"2026-01-01T00:00:00Z","agent":[{"who":{"display":"x"}}]}`), "", nil)
			return err
		}, nil},
		{"two writes", func(w *directory.Writer) error {
			if _, err := w.Update(ctx, parse(`{"resourceType":"Location","id":"l1","status":"active"}`), "l1", fhir.ETags{}); err != nil {
				return err
			}
			_, err := w.Update(ctx, parse(`{"resourceType":"Location","id":"l2","status":"active"}`), "l2", fhir.ETags{})
			return err
		}, []string{"Location/l1/_history/1", "Location/l2/_history/1"}},
		{"more writes than a chunk, one unchanged among them", func(w *directory.Writer) error {
			for i := range 600 {
				if i == 300 { // written earlier and unchanged: no Provenance
					if _, err := w.Update(ctx, parse(`{"resourceType":"Location","id":"l1","status":"active"}`), "l1", fhir.ETags{}); err != nil {
						return err
					}
				}
				id := fmt.Sprintf("many%d", i)
				if _, err := w.Update(ctx, parse(`{"resourceType":"Location","id":"`+id+`","status":"active"}`), id, fhir.ETags{}); err != nil {
					return err
				}
			}
			return nil
		}, manyTargets(600)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range write(tt.fn) {
				if c.Type != "Provenance" || c.Action != directory.Created {
					t.Fatalf("Record wrote %v %s/%s; want only new Provenance", c.Action, c.Type, c.ID)
				}
				body, err := jsontree.ParseObject(c.Version.Body)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, str(body, "target", "0", "reference"))
				if str(body, "recorded") != str(body, "meta", "lastUpdated") {
					t.Errorf("recorded %s != meta.lastUpdated %s", str(body, "recorded"), str(body, "meta", "lastUpdated"))
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Provenance targets = %v; want %v", got, tt.want)
			}
		})
	}
}

// manyTargets is the versions "more writes than a chunk" writes, in order.
func manyTargets(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Location/many%d/_history/1", i)
	}
	return out
}
