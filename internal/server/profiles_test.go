package server

import (
	"testing"

	"github.com/vhdir/vhdir/internal/profile"
)

func mustValidator(t testing.TB) *profile.Validator {
	t.Helper()
	v, err := profile.New()
	if err != nil {
		t.Fatal(err)
	}
	return v
}
