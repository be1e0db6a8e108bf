package auth

import (
	"slices"
	"testing"
)

func TestSplitList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"a", []string{"a"}},
		{" a@example.org , +1 555 0100,", []string{"a@example.org", "+1 555 0100"}},
		{"shelter-staff,http://example.org/roles|counsellor", []string{"shelter-staff", "http://example.org/roles|counsellor"}},
	}
	for _, tt := range tests {
		if got := SplitList(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("SplitList(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
