package auth

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/interaction"
)

func TestParseScopeValid(t *testing.T) {
	cases := []struct {
		in   string
		want Scope
	}{
		{"system/Practitioner.read", Scope{Context: "system", Type: "Practitioner", Perms: interaction.PermRead | interaction.PermSearch, V1: true}},
		{"system/*.write", Scope{Context: "system", Type: "*", Perms: interaction.PermCreate | interaction.PermUpdate | interaction.PermDelete, V1: true}},
		{"system/*.*", Scope{Context: "system", Type: "*", Perms: interaction.PermAll, V1: true}},
		{"user/Patient.read", Scope{Context: "user", Type: "Patient", Perms: interaction.PermRead | interaction.PermSearch, V1: true}},
		{"patient/Observation.rs", Scope{Context: "patient", Type: "Observation", Perms: interaction.PermRead | interaction.PermSearch}},
		{"system/Encounter.cud", Scope{Context: "system", Type: "Encounter", Perms: interaction.PermCreate | interaction.PermUpdate | interaction.PermDelete}},
		{"system/*.cruds", Scope{Context: "system", Type: "*", Perms: interaction.PermAll}},
		{"system/Endpoint.s", Scope{Context: "system", Type: "Endpoint", Perms: interaction.PermSearch}},
		{"system/Endpoint.cd", Scope{Context: "system", Type: "Endpoint", Perms: interaction.PermCreate | interaction.PermDelete}},
		{"system/X1.rs", Scope{Context: "system", Type: "X1", Perms: interaction.PermRead | interaction.PermSearch}},
		{"system/PractitionerRole.rs?active=true", Scope{Context: "system", Type: "PractitionerRole", Perms: interaction.PermRead | interaction.PermSearch,
			Filter: url.Values{"active": {"true"}}}},
		{"system/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
			Scope{Context: "system", Type: "Observation", Perms: interaction.PermRead | interaction.PermSearch,
				Filter: url.Values{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|laboratory"}}}},
		{"system/*.rs?_lastUpdated=gt2020&_id=a,b&_tag=x", Scope{Context: "system", Type: "*", Perms: interaction.PermRead | interaction.PermSearch,
			Filter: url.Values{"_lastUpdated": {"gt2020"}, "_id": {"a,b"}, "_tag": {"x"}}}},
		{"system/Organization.r?name=A+B&name=%43", Scope{Context: "system", Type: "Organization", Perms: interaction.PermRead,
			Filter: url.Values{"name": {"A B", "C"}}}},
		{"system/Location.s?address-state:exact=MA", Scope{Context: "system", Type: "Location", Perms: interaction.PermSearch,
			Filter: url.Values{"address-state:exact": {"MA"}}}},
	}
	for _, c := range cases {
		got, err := ParseScope(c.in)
		if err != nil {
			t.Errorf("ParseScope(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseScope(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParseScopeRejects(t *testing.T) {
	cases := []struct {
		in, msg string // msg: a fragment the error must contain
	}{
		{"", "empty scope"},
		{"openid", "not a resource scope"},
		{"fhirUser", "not a resource scope"},
		{"offline_access", "not a resource scope"},
		{"online_access", "not a resource scope"},
		{"launch", "not a resource scope"},
		{"launch/patient", "not a resource scope"},
		{"launch/encounter", "not a resource scope"},
		{"admin/Patient.rs", "context"},
		{"System/Patient.rs", "context"},
		{"system/Patient", "missing"},
		{"system/.rs", "resource type"},
		{"system/patient.rs", "resource type"},
		{"system/Pa-tient.rs", "resource type"},
		{"system/**.rs", "resource type"},
		{"system/Patient.", "empty permissions"},
		{"system/Patient.sr", "in that order"},
		{"system/Patient.dus", "in that order"},
		{"system/Patient.rr", "in that order"},
		{"system/Patient.x", "in that order"},
		{"system/Patient.Read", "in that order"},
		{"system/Patient.read?active=true", "only with v2"},
		{"system/Patient.*?active=true", "only with v2"},
		{"system/Patient.rs?", "empty query"},
		{"system/Patient.rs?&", "empty query"},
		{"system/Patient.rs?=x", "without a name"},
		{"system/Patient.rs?active", "empty value"},
		{"system/Patient.rs?active=", "empty value"},
		{"system/Patient.rs?a=%zz", "bad query"},
		{"system/Patient.rs?a=1;b=2", "bad query"},
		{"system/Patient.rs?_count=1", "changes the result"},
		{"system/Patient.rs?_include=Patient:organization", "changes the result"},
		{"system/Patient.rs?_include:iterate=x", "changes the result"},
		{"system/Patient.rs?%5Fsort=name", "changes the result"},
		{"system/Patient.rs?_summary=true", "changes the result"},
		{"system/Patient.rs?_elements=id", "changes the result"},
		{"system/Patient.rs?a=b\tc", "not allowed"},
		{"system/Patient.rs\n", "not allowed"},
		{"system/Patient.rs?a=\"b\"", "not allowed"},
		{"system/Patient.rs?a=é", "not allowed"},
		{"system/" + strings.Repeat("A", maxScopeBytes) + ".rs", "longer than"},
	}
	for _, c := range cases {
		_, err := ParseScope(c.in)
		if err == nil {
			t.Errorf("ParseScope(%q) succeeded, want error containing %q", c.in, c.msg)
		} else if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("ParseScope(%q) error %q, want it to contain %q", c.in, err, c.msg)
		}
	}
}

func TestParseScopes(t *testing.T) {
	rs := interaction.PermRead | interaction.PermSearch
	cases := []struct {
		in   string
		want []Scope
		err  string
	}{
		{in: "", want: nil},
		{in: "   ", want: nil},
		{in: "system/A.rs", want: []Scope{{Context: "system", Type: "A", Perms: rs}}},
		{in: "  system/A.rs    system/B.read ", want: []Scope{
			{Context: "system", Type: "A", Perms: rs}, {Context: "system", Type: "B", Perms: rs, V1: true}}},
		{in: "system/A.rs\tsystem/B.rs", err: "not allowed"},
		{in: "system/A.rs\nsystem/B.rs", err: "not allowed"},
		{in: "system/A.rs openid", err: "not a resource scope"},
		{in: "system/A.rs system/B.sr", err: "in that order"},
		{in: strings.Repeat("system/A.rs ", maxScopes), want: repeatScope(Scope{Context: "system", Type: "A", Perms: rs}, maxScopes)},
		{in: strings.Repeat("system/A.rs ", maxScopes+1), err: "more than"},
		{in: strings.Repeat(" ", maxScopeBytes+1), err: "longer than"},
	}
	for _, c := range cases {
		got, err := ParseScopes(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseScopes(%.40q) = %v, %v; want error containing %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseScopes(%.40q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func repeatScope(s Scope, n int) []Scope {
	out := make([]Scope, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestScopeStringRoundTrip(t *testing.T) {
	cases := []struct{ in, want string }{
		{"system/Practitioner.read", "system/Practitioner.read"},
		{"system/*.write", "system/*.write"},
		{"system/*.*", "system/*.*"},
		{"system/*.cruds", "system/*.cruds"},
		{"system/A.rs", "system/A.rs"},
		{"patient/A.cu", "patient/A.cu"},
		{"system/A.rs?b=2&a=1", "system/A.rs?a=1&b=2"},
		{"system/A.rs?a=2&a=1", "system/A.rs?a=2&a=1"},
		{"system/A.s?name=A+B%26C%3D%25", "system/A.s?name=A%20B%26C%3D%25"},
		{"system/A.s?a%3Db=%2B", "system/A.s?a%3Db=%2B"},
		{"system/A.s?a=%22%5C%C3%A9", "system/A.s?a=%22%5C%C3%A9"},
		{"system/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
			"system/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"},
	}
	for _, c := range cases {
		s, err := ParseScope(c.in)
		if err != nil {
			t.Fatalf("ParseScope(%q): %v", c.in, err)
		}
		if got := s.String(); got != c.want {
			t.Errorf("ParseScope(%q).String() = %q, want %q", c.in, got, c.want)
		}
		back, err := ParseScope(s.String())
		if err != nil || !reflect.DeepEqual(back, s) {
			t.Errorf("ParseScope(%q) = %+v, %v; want %+v", s.String(), back, err, s)
		}
	}
}

func TestScopeStringBuilt(t *testing.T) {
	cases := []struct {
		s    Scope
		want string
	}{
		// V1 with perms that have no v1 word falls back to letters.
		{Scope{Context: "system", Type: "A", Perms: interaction.PermRead, V1: true}, "system/A.r"},
		// v1 cannot carry a query.
		{Scope{Context: "system", Type: "A", Perms: permV1Read, V1: true, Filter: url.Values{"a": {"1"}}}, "system/A.rs?a=1"},
	}
	for _, c := range cases {
		if got := c.s.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.s, got, c.want)
		}
	}
	ss := mustScopes(t, "system/A.read system/B.rs?x=1")
	if got, want := FormatScopes(ss), "system/A.read system/B.rs?x=1"; got != want {
		t.Errorf("FormatScopes = %q, want %q", got, want)
	}
	if got := FormatScopes(nil); got != "" {
		t.Errorf("FormatScopes(nil) = %q", got)
	}
}

func mustScopes(t testing.TB, s string) []Scope {
	t.Helper()
	ss, err := ParseScopes(s)
	if err != nil {
		t.Fatalf("ParseScopes(%q): %v", s, err)
	}
	return ss
}

func TestMediate(t *testing.T) {
	cases := []struct {
		name, requested, registered, want string
	}{
		{"exact", "system/Practitioner.rs", "system/Practitioner.rs", "system/Practitioner.rs"},
		{"requested wildcard narrowed", "system/*.rs", "system/Practitioner.rs system/Location.r",
			"system/Location.r system/Practitioner.rs"},
		{"registered wildcard", "system/Practitioner.rs", "system/*.cruds", "system/Practitioner.rs"},
		{"wildcard both", "system/*.rs", "system/*.cruds", "system/*.rs"},
		{"type mismatch", "system/Practitioner.rs", "system/Location.rs", ""},
		{"perms intersect", "system/Practitioner.cruds", "system/Practitioner.rus", "system/Practitioner.rus"},
		{"perms disjoint", "system/Practitioner.cd", "system/Practitioner.rs", ""},
		{"wildcard request drops a covered unnamed type", "system/*.rs", "system/*.rs system/Practitioner.cruds", "system/*.rs"},
		{"named type kept beside the wildcard", "system/*.rs system/Practitioner.rs", "system/*.rs system/Practitioner.cruds", "system/*.rs system/Practitioner.rs"},
		{"unnamed type kept when it grants more", "system/*.cruds", "system/*.rs system/Practitioner.cruds", "system/*.rs system/Practitioner.cruds"},
		{"audit not by registered wildcard", "system/AuditEvent.rs", "system/*.cruds", ""},
		{"audit by name", "system/AuditEvent.rs", "system/*.cruds system/AuditEvent.rs", "system/AuditEvent.rs"},
		{"audit v1 by name", "system/AuditEvent.read", "system/AuditEvent.*", "system/AuditEvent.read"},
		{"requested wildcard does not pull in audit", "system/*.rs", "system/AuditEvent.r", ""},
		{"user dropped", "user/Practitioner.rs", "user/Practitioner.rs system/*.rs", ""},
		{"patient dropped", "patient/*.rs", "patient/*.rs", ""},
		{"registered user ignored", "system/Practitioner.rs", "user/*.rs", ""},
		{"v1 preserved", "system/*.read", "system/*.cruds", "system/*.read"},
		{"v1 preserved through v2 registration", "system/Practitioner.*", "system/*.cruds", "system/Practitioner.*"},
		{"v1 narrowed to v1", "system/Practitioner.*", "system/Practitioner.rs", "system/Practitioner.read"},
		{"v1 lost", "system/Practitioner.read", "system/Practitioner.r", "system/Practitioner.r"},
		{"v1 lost to filter", "system/PractitionerRole.read", "system/PractitionerRole.rs?active=true",
			"system/PractitionerRole.rs?active=true"},
		{"v2 stays v2", "system/Practitioner.rs", "system/Practitioner.read", "system/Practitioner.rs"},
		{"requested filter", "system/PractitionerRole.rs?active=true", "system/*.rs", "system/PractitionerRole.rs?active=true"},
		{"registered filter", "system/*.rs", "system/PractitionerRole.rs?active=true", "system/PractitionerRole.rs?active=true"},
		{"both filters", "system/PractitionerRole.rs?specialty=X", "system/PractitionerRole.rs?active=true",
			"system/PractitionerRole.rs?active=true&specialty=X"},
		{"same param both sides", "system/PractitionerRole.rs?active=true", "system/PractitionerRole.rs?active=false",
			"system/PractitionerRole.rs?active=true&active=false"},
		{"same value both sides", "system/PractitionerRole.rs?active=true", "system/PractitionerRole.rs?active=true",
			"system/PractitionerRole.rs?active=true"},
		{"dedup", "system/Practitioner.rs system/Practitioner.rs", "system/*.rs system/Practitioner.cruds", "system/Practitioner.rs"},
		{"covered by superset", "system/Practitioner.r system/Practitioner.rs", "system/*.cruds", "system/Practitioner.rs"},
		{"filtered covered by unfiltered", "system/PractitionerRole.rs?active=true system/PractitionerRole.rs", "system/*.rs",
			"system/PractitionerRole.rs"},
		{"filtered kept beside narrower", "system/PractitionerRole.rs?active=true system/PractitionerRole.r", "system/*.rs",
			"system/PractitionerRole.r system/PractitionerRole.rs?active=true"},
		{"v1 kept over equal v2", "system/Practitioner.rs system/Practitioner.read", "system/*.rs", "system/Practitioner.read"},
		{"wildcard does not cover type", "system/*.rs system/Practitioner.rs", "system/*.rs", "system/*.rs system/Practitioner.rs"},
		{"sorted", "system/Organization.rs system/Endpoint.rs", "system/*.rs", "system/Endpoint.rs system/Organization.rs"},
		{"nothing requested", "", "system/*.rs", ""},
	}
	for _, c := range cases {
		got := Mediate(mustScopes(t, c.requested), mustScopes(t, c.registered))
		if s := FormatScopes(got); s != c.want {
			t.Errorf("%s: Mediate(%q, %q) = %q, want %q", c.name, c.requested, c.registered, s, c.want)
		}
	}
}

func TestMediateDoesNotAlias(t *testing.T) {
	req := mustScopes(t, "system/A.rs?x=1")
	reg := mustScopes(t, "system/A.rs?y=2")
	got := Mediate(req, reg)
	got[0].Filter["x"][0] = "changed"
	got[0].Filter.Add("z", "3")
	if FormatScopes(req) != "system/A.rs?x=1" || FormatScopes(reg) != "system/A.rs?y=2" {
		t.Errorf("Mediate result aliases its inputs: %q %q", FormatScopes(req), FormatScopes(reg))
	}
}

func TestGrantsAllows(t *testing.T) {
	g := NewGrants(mustScopes(t, "system/Practitioner.r system/Practitioner.s?active=true system/*.c user/Location.rs system/Endpoint.read"))
	cases := []struct {
		typ  string
		p    interaction.Perm
		want bool
	}{
		{"Practitioner", interaction.PermRead, true},
		{"Practitioner", interaction.PermSearch, true},
		{"Practitioner", interaction.PermRead | interaction.PermSearch, true}, // from two scopes
		{"Practitioner", interaction.PermCreate, true},                        // from the wildcard
		{"Practitioner", interaction.PermCreate | interaction.PermRead | interaction.PermSearch, true},
		{"Practitioner", interaction.PermUpdate, false},
		{"Practitioner", interaction.PermRead | interaction.PermUpdate, false},
		{"Organization", interaction.PermCreate, true},
		{"Organization", interaction.PermRead, false},
		{"Location", interaction.PermRead, false}, // user/ scopes do not count
		{"Endpoint", interaction.PermRead | interaction.PermSearch, true},
		{"AuditEvent", interaction.PermCreate, false}, // the wildcard does not reach it
		{"Practitioner", 0, false},
		{"Practitioner", interaction.PermRead | 1<<7, false},
	}
	for _, c := range cases {
		if got := g.Allows(c.typ, c.p); got != c.want {
			t.Errorf("Allows(%q, %q) = %v, want %v", c.typ, c.p, got, c.want)
		}
	}
}

func TestGrantsFilters(t *testing.T) {
	active := url.Values{"active": {"true"}}
	spec := url.Values{"specialty": {"X"}}
	cases := []struct {
		name, scopes, typ string
		p                 interaction.Perm
		want              []url.Values
		unrestricted      bool
	}{
		{"two filters", "system/PractitionerRole.rs?active=true system/PractitionerRole.rs?specialty=X",
			"PractitionerRole", interaction.PermSearch, []url.Values{active, spec}, false},
		{"wildcard lifts filters", "system/PractitionerRole.rs?active=true system/PractitionerRole.rs?specialty=X system/*.rs",
			"PractitionerRole", interaction.PermSearch, nil, true},
		{"filter only for its letters", "system/PractitionerRole.r?active=true system/PractitionerRole.s?specialty=X",
			"PractitionerRole", interaction.PermRead, []url.Values{active}, false},
		{"not granted", "system/PractitionerRole.r?active=true", "PractitionerRole", interaction.PermSearch, nil, false},
		{"other type", "system/PractitionerRole.rs?active=true", "Practitioner", interaction.PermRead, nil, false},
		{"unrestricted type scope", "system/Practitioner.rs", "Practitioner", interaction.PermRead | interaction.PermSearch, nil, true},
		{"letters from unfiltered scopes", "system/Practitioner.r system/Practitioner.s", "Practitioner", interaction.PermRead | interaction.PermSearch, nil, true},
		{"remaining letter filtered", "system/Practitioner.r system/Practitioner.s?active=true", "Practitioner",
			interaction.PermRead | interaction.PermSearch, []url.Values{active}, false},
		{"wildcard filter", "system/*.rs?active=true", "Practitioner", interaction.PermRead, []url.Values{active}, false},
		{"audit ignores wildcard", "system/*.rs", "AuditEvent", interaction.PermSearch, nil, false},
		{"audit named", "system/*.rs?active=true system/AuditEvent.rs", "AuditEvent", interaction.PermSearch, nil, true},
		{"empty perm", "system/*.rs", "Practitioner", 0, nil, false},
	}
	for _, c := range cases {
		got, unr := NewGrants(mustScopes(t, c.scopes)).Filters(c.typ, c.p)
		if unr != c.unrestricted || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Filters(%q, %q) = %v, %v; want %v, %v", c.name, c.typ, c.p, got, unr, c.want, c.unrestricted)
		}
	}
}

func TestGrantsReadable(t *testing.T) {
	g := NewGrants(mustScopes(t, "system/*.s system/Practitioner.r?active=true system/Organization.cud system/AuditEvent.c"))
	cases := map[string]bool{
		"Location":     true, // search via wildcard
		"Practitioner": true, // read with a filter still counts
		"Organization": true, // wildcard s
		"AuditEvent":   false,
	}
	for typ, want := range cases {
		if got := g.Readable(typ); got != want {
			t.Errorf("Readable(%q) = %v, want %v", typ, got, want)
		}
	}
	if NewGrants(nil).Readable("Practitioner") {
		t.Error("empty grants readable")
	}
	if !NewGrants(mustScopes(t, "system/AuditEvent.read")).Readable("AuditEvent") {
		t.Error("named AuditEvent not readable")
	}
}

func TestGrantsDoNotAlias(t *testing.T) {
	ss := mustScopes(t, "system/A.rs?x=1")
	g := NewGrants(ss)
	ss[0].Filter.Set("x", "2")
	f, _ := g.Filters("A", interaction.PermRead)
	f[0].Set("x", "3")
	if f, _ := g.Filters("A", interaction.PermRead); f[0].Get("x") != "1" {
		t.Errorf("grants changed through an alias: %v", f)
	}
}

func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{
		"",
		"system/Practitioner.read",
		"system/*.rs system/*.write  system/Patient.*",
		"system/PractitionerRole.rs?active=true&specialty=X",
		"system/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
		"system/A.s?name=A+B%26C%3D%25&a%3Db=%2B",
		"system/A.rs?_count=1",
		"user/Patient.cruds patient/*.s",
		"system/Patient.sr",
		"openid launch/patient",
		"system/A.rs?a=1;b=2",
		"system/A.rs?%zz=1",
		"system/A.rs\tsystem/B.rs",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ss, err := ParseScopes(in)
		if err != nil {
			return
		}
		out := FormatScopes(ss)
		back, err := ParseScopes(out)
		if err != nil {
			t.Fatalf("ParseScopes(%q) accepted, but its format %q fails: %v", in, out, err)
		}
		if !reflect.DeepEqual(back, ss) {
			t.Fatalf("round trip of %q via %q: got %+v, want %+v", in, out, back, ss)
		}
		g := NewGrants(ss)
		for _, s := range ss {
			g.Filters(s.Type, s.Perms)
			g.Readable(s.Type)
		}
		Mediate(ss, ss)
	})
}
