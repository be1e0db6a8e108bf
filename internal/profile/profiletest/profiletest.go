// Package profiletest builds the profile-validation policies that tests
// wiring a directory of their own write under.
package profiletest

import (
	"testing"

	"github.com/vhdir/vhdir/internal/profile"
)

// Policy returns the policy of mode, failing the test if the embedded
// definitions do not compile.
func Policy(t testing.TB, mode profile.Mode) *profile.Policy {
	t.Helper()
	p, err := profile.NewPolicy(mode, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Warn is Policy(t, profile.Warn): every resource written is validated and
// none refused, for tests that write minimal resources to exercise other
// behaviour (enforcement has tests of its own).
func Warn(t testing.TB) *profile.Policy { return Policy(t, profile.Warn) }
