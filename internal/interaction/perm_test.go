package interaction

import "testing"

func TestPermString(t *testing.T) {
	cases := map[Perm]string{
		0:                       "",
		PermRead | PermSearch:   "rs",
		PermSearch | PermCreate: "cs",
		PermAll:                 "cruds",
		PermDelete:              "d",
	}
	for p, want := range cases {
		if got := p.String(); got != want {
			t.Errorf("Perm(%d).String() = %q, want %q", p, got, want)
		}
	}
}
