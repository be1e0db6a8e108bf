package directory_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/profile/profiletest"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/sqlite"
)

func newDirectory(t *testing.T) *directory.Directory {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := search.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return &directory.Directory{Store: st, Clock: clock.NewFake(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)), Indexer: search.NewEngine(reg, "https://x/fhir"), Profiles: profiletest.Policy(t, profile.Warn)}
}

func resource(t *testing.T, body string) *fhir.Resource {
	t.Helper()
	r, err := fhir.ParseResource([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPutAllVersionsInOrder(t *testing.T) {
	d := newDirectory(t)
	ctx := context.Background()
	items := []directory.Item{
		{Res: resource(t, `{"resourceType":"Organization","id":"a","active":true}`)},
		{Res: resource(t, `{"resourceType":"Organization","id":"a","active":false}`)},
		{Res: resource(t, `{"resourceType":"Organization","id":"a","active":false}`)}, // identical to the previous
		{Res: resource(t, `{"resourceType":"Organization","active":true}`)},           // no id: one is assigned
	}
	changes, err := d.Write(ctx, func(w *directory.Writer) error {
		_, err := w.PutAll(ctx, items)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []directory.Action{directory.Created, directory.Updated, directory.Unchanged, directory.Created}
	for i, c := range changes {
		if c.Action != want[i] {
			t.Errorf("change %d = %v; want %v", i, c.Action, want[i])
		}
	}
	if changes[3].ID == "" {
		t.Errorf("no id assigned")
	}
	v, err := d.Store.Read(ctx, "Organization", "a")
	if err != nil || v.VersionID != 2 {
		t.Errorf("Read(a) = %+v, %v; want version 2", v, err)
	}
}

// TestProfilesRefuse: a resource the profile checker refuses (enforce) is
// not stored, on the single and the batch path, and nothing else of its
// transaction is either; without a checker no write runs.
func TestProfilesRefuse(t *testing.T) {
	d := newDirectory(t)
	d.Profiles = profiletest.Policy(t, profile.Enforce)
	ctx := context.Background()
	// org-1: an Organization needs a name or an identifier.
	const refused = `{"resourceType":"Organization","id":"f","active":true,"type":[{"text":"clinic"}]}`
	for _, write := range []func(w *directory.Writer) error{
		func(w *directory.Writer) error {
			_, err := w.Create(ctx, resource(t, refused), "", nil)
			return err
		},
		func(w *directory.Writer) error {
			_, err := w.PutAll(ctx, []directory.Item{{Res: resource(t, `{"resourceType":"Organization","id":"ok","active":true,"type":[{"text":"clinic"}],"name":"Fine"}`)}, {Res: resource(t, refused)}})
			return err
		},
	} {
		_, err := d.Write(ctx, write)
		if fhir.StatusOf(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "org-1") {
			t.Errorf("write of a resource the profiles refuse: %v; want 422 naming org-1", err)
		}
	}
	if _, err := d.Store.Read(ctx, "Organization", "ok"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a batch with a refused resource stored the others: %v", err)
	}
	if _, err := d.Write(ctx, func(w *directory.Writer) error {
		_, err := w.Create(ctx, resource(t, `{"resourceType":"Organization","id":"ok","active":true,"type":[{"text":"clinic"}],"name":"Fine"}`), "", nil)
		return err
	}); err != nil {
		t.Errorf("a valid Organization alone: %v", err)
	}
	d.Profiles = nil
	if _, err := d.Write(ctx, func(*directory.Writer) error { return nil }); err == nil {
		t.Errorf("a directory without a profile checker wrote")
	}
}
