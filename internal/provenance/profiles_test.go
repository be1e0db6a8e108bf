package provenance_test

import (
	"testing"

	"github.com/vhdir/vhdir/internal/profile"
)

// warnPolicy validates every resource written against R4 and the VhDir
// profiles without refusing any: these tests write minimal resources to
// exercise other behaviour, and profile enforcement has tests of its own.
func warnPolicy(t testing.TB) *profile.Policy {
	t.Helper()
	p, err := profile.NewPolicy(profile.Warn, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
