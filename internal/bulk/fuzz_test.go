package bulk

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/search"
)

// allowAll grants every caller everything, and sees it as an operator:
// what parsing is checked under (the grants' own narrowing is tested
// through the server).
type allowAll struct{}

func (allowAll) Grants(context.Context, *interaction.Caller) (interaction.Grants, error) {
	return allowAll{}, nil
}
func (allowAll) Allows(string, interaction.Perm) bool { return true }
func (allowAll) Filters(string, interaction.Perm) ([]url.Values, bool) {
	return nil, true
}
func (allowAll) Viewer(context.Context, *interaction.Caller) (*interaction.Viewer, error) {
	return &interaction.Viewer{Operator: true}, nil
}

// allowedAccess is the access of a caller allowAll decides for.
func allowedAccess(t testing.TB) *interaction.Access {
	ctx := interaction.WithCaller(context.Background(), &interaction.Caller{ClientID: "fuzz"})
	acc, err := interaction.Decide(ctx, allowAll{}, allowAll{})
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

func parserService(t testing.TB) *Service {
	reg, err := search.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return &Service{cfg: Config{Search: search.NewEngine(reg, "https://dir.example/fhir"), FHIRBase: "https://dir.example/fhir"}}
}

// FuzzParseKickoff: a kick-off's query, Parameters body and Prefer header
// come from the client. Parsing never panics, refuses only with a 4xx
// *fhir.Error, and what it accepts names served types whose filters
// compile and are not empty (no filter is written "none"), and survives
// the trip through the job record unchanged.
// Crashers go to testdata/fuzz/FuzzParseKickoff.
func FuzzParseKickoff(f *testing.F) {
	for _, s := range []struct {
		post                bool
		query, body, prefer string
	}{
		{false, "", "", "respond-async"},
		{false, "_type=Practitioner,Location&_since=2026-01-02T03:04:05.678Z", "", "respond-async"},
		{false, "_typeFilter=" + url.QueryEscape("Practitioner?active=true,Location?address-city=Ann Arbor,Boston"), "", "respond-async, handling=lenient"},
		{false, "_elements=identifier,Organization.name&_outputFormat=ndjson", "", "respond-async"},
		{false, "patient=Patient/1&_type=Patient", "", "respond-async; handling=lenient"},
		{false, "_typeFilter=" + url.QueryEscape("Practitioner?active=true&colour=blue,Location?colour=red,Patient?name=x"), "", "respond-async, handling=lenient"},
		{true, "", `{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Endpoint"},{"name":"_since","valueInstant":"2026-01-01T00:00:00Z"}]}`, "respond-async"},
		{true, "_type=Endpoint", "", "respond-async"},
		{true, "", `{"resourceType":"Parameters","parameter":[{"name":"_typeFilter"}]}`, "respond-async"},
		{true, "", `{"resourceType":"Parameters","parameter":[{"name":"x","valueBoolean":true},{"name":"y","valueInteger":3}]}`, "respond-async"},
		{true, "", `[1,2`, "respond-async"},
		{false, "_since=2026-13-45T99:00:00Z&_since=x", "", ""},
		{false, "%zz", "", "respond-async"},
	} {
		f.Add(s.post, s.query, s.body, s.prefer)
	}
	svc := parserService(f)
	f.Fuzz(func(t *testing.T, post bool, query, body, prefer string) {
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		r := &http.Request{Method: method, URL: &url.URL{Path: "/fhir/$export", RawQuery: query},
			Header: http.Header{"Prefer": {prefer}, "Content-Type": {"application/fhir+json"}}, Body: io.NopCloser(strings.NewReader(body))}
		spec, err := svc.parseKickoff(r, "", allowedAccess(t))
		if err != nil {
			var fe *fhir.Error
			if !errors.As(err, &fe) || fe.Status < 400 || fe.Status >= 500 {
				t.Fatalf("refused with %T %v; want a 4xx *fhir.Error", err, err)
			}
			return
		}
		if len(spec.Types) == 0 {
			t.Fatalf("accepted with no type: %+v", spec)
		}
		for _, ts := range spec.Types {
			if !svc.cfg.Search.Registry().Serves(ts.Type) {
				t.Fatalf("accepted type %q, not served", ts.Type)
			}
			if _, _, err := svc.condition(ts); err != nil {
				t.Fatalf("accepted filters that do not compile: %v (%+v)", err, ts)
			}
			if slices.Contains(ts.Filters, "") {
				t.Fatalf("accepted an empty filter, which would match everything beside the others: %+v", ts)
			}
		}
		b, err := encodeSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeSpec(b)
		if err != nil || !reflect.DeepEqual(back, spec) {
			t.Fatalf("the job record changes the spec:\n%+v\n%+v (%v)", spec, back, err)
		}
	})
}

func TestSplitTypeFilters(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Practitioner?active=true", []string{"Practitioner?active=true"}},
		{"Practitioner?active=true,Location?address-state=MA", []string{"Practitioner?active=true", "Location?address-state=MA"}},
		{"Location?address-city=Ann Arbor,Boston", []string{"Location?address-city=Ann Arbor,Boston"}},
		{"Location?address-city=A,B,Practitioner?name=x,y", []string{"Location?address-city=A,B", "Practitioner?name=x,y"}},
		{"active=true,Practitioner?x=1", []string{"active=true", "Practitioner?x=1"}},
		{"", []string{""}},
	}
	for _, tt := range tests {
		if got := splitTypeFilters(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitTypeFilters(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
