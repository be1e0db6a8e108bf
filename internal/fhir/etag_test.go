package fhir

import (
	"slices"
	"testing"
)

func TestParseETags(t *testing.T) {
	tests := []struct {
		in       string
		any      bool
		versions []int64
		others   int
		ifMatch  bool // ParseIfMatch accepts it
		ok       bool // ParseIfNoneMatch accepts it
	}{
		{"", false, nil, 0, true, true},
		{"*", true, nil, 0, true, true},
		{` * `, true, nil, 0, true, true},
		{`W/"3"`, false, []int64{3}, 0, true, true},
		{`"3"`, false, []int64{3}, 0, true, true},
		{`3`, false, []int64{3}, 0, true, true},
		{`w/"3"`, false, []int64{3}, 0, true, true},
		{`W/3`, false, []int64{3}, 0, true, true},
		{`W/"1", W/"2"`, false, []int64{1, 2}, 0, true, true},
		{`W/"1",W/"2",,  "4" ,`, false, []int64{1, 2, 4}, 0, true, true},
		{`W/"1", "abc"`, false, []int64{1}, 1, false, true},
		{`W/""`, false, nil, 1, false, true},
		{`"a,b", W/"2"`, false, []int64{2}, 1, false, true},
		{`W/"0"`, false, nil, 1, false, true},
		{`*, W/"1"`, false, nil, 0, false, false},
		{`W/"1", *`, false, nil, 0, false, false},
		{`W/"1`, false, nil, 0, false, false},
		{`seven`, false, nil, 0, false, false},
		{`W/"1" W/"2"`, false, nil, 0, false, false},
		{`"a b"`, false, nil, 0, false, false},
		{"\"a\x01\"", false, nil, 0, false, false},
	}
	for _, tt := range tests {
		got, err := ParseIfNoneMatch(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseIfNoneMatch(%q) error = %v; want ok %v", tt.in, err, tt.ok)
			continue
		}
		if err == nil && (got.Any != tt.any || !slices.Equal(got.Versions, tt.versions) || got.Others != tt.others) {
			t.Errorf("ParseIfNoneMatch(%q) = %+v; want any %v, versions %v, others %d", tt.in, got, tt.any, tt.versions, tt.others)
		}
		m, err := ParseIfMatch(tt.in)
		if (err == nil) != tt.ifMatch {
			t.Errorf("ParseIfMatch(%q) error = %v; want ok %v", tt.in, err, tt.ifMatch)
		}
		if err == nil && (m.Any != tt.any || !slices.Equal(m.Versions, tt.versions)) {
			t.Errorf("ParseIfMatch(%q) = %+v; want any %v, versions %v", tt.in, m, tt.any, tt.versions)
		}
	}
}

func TestETagsMatch(t *testing.T) {
	tests := []struct {
		e    ETags
		v    int64
		want bool
	}{
		{ETags{Any: true}, 3, true},
		{ETags{Any: true}, 0, false},
		{ETags{Versions: []int64{1, 3}}, 3, true},
		{ETags{Versions: []int64{1, 3}}, 2, false},
		{ETags{Versions: []int64{1, 3}}, 0, false},
		{ETags{Others: 1}, 1, false},
	}
	for _, tt := range tests {
		if got := tt.e.Match(tt.v); got != tt.want {
			t.Errorf("%+v.Match(%d) = %v; want %v", tt.e, tt.v, got, tt.want)
		}
	}
}

// FuzzParseETags: any header value parses or fails without panicking, and
// what parses reads back the same from its String.
func FuzzParseETags(f *testing.F) {
	for _, s := range []string{"*", `W/"1", W/"2"`, `"abc", 3`, `W/"1`, `*, W/"1"`, `,,W/"9",`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseIfNoneMatch(s)
		if err != nil || !e.Present() || e.Others > 0 {
			return
		}
		back, err := ParseIfMatch(e.String())
		if err != nil || back.Any != e.Any || !slices.Equal(back.Versions, e.Versions) {
			t.Errorf("ParseIfMatch(%q) = %+v, %v; want %+v (from %q)", e.String(), back, err, e, s)
		}
	})
}
