package directory_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/profile/profiletest"
	"github.com/vhdir/vhdir/internal/restrict"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// eachBackend runs fn with a fresh directory on each store backend.
func eachBackend(t *testing.T, fn func(t *testing.T, d *directory.Directory)) {
	reg, err := search.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range testdb.All {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Fresh(t)
			t.Cleanup(func() { st.Close() })
			fn(t, &directory.Directory{Store: st, Clock: clock.NewFake(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)), Indexer: search.NewEngine(reg, "https://x/fhir"), Profiles: profiletest.Warn(t)})
		})
	}
}

// consentJSON is a valid contained Consent #c permitting Organization/acme.
const consentJSON = `{"resourceType":"Consent","id":"c","status":"active","scope":{"text":"protect"},"category":[{"text":"internal use only"}],` +
	`"provision":{"type":"permit","actor":[{"role":{"text":"IRCP"},"reference":{"reference":"Organization/acme"}}]}}`

// usage is a usage-restriction extension array pointing at #c.
const usage = `[{"url":"` + restrict.ExtensionURL + `","valueReference":{"reference":"#c"}}]`

const (
	locationPlain          = `{"resourceType":"Location","id":"l","name":"Shelter","address":{"city":"Ann Arbor"}}`
	locationRootRestricted = `{"resourceType":"Location","id":"l","contained":[` + consentJSON + `],"extension":` + usage + `,"name":"Shelter","address":{"city":"Ann Arbor"}}`
	locationAddrRestricted = `{"resourceType":"Location","id":"l","contained":[` + consentJSON + `],"name":"Shelter","address":{"extension":` + usage + `,"city":"Ann Arbor"}}`
)

func vr(id string, locations ...string) string {
	loc := ""
	if len(locations) > 0 {
		loc = `,"targetLocation":["` + strings.Join(locations, `","`) + `"]`
	}
	return `{"resourceType":"VerificationResult","id":"` + id + `","status":"validated","target":[{"reference":"Location/l"}]` + loc + `}`
}

func write(t *testing.T, d *directory.Directory, fn func(ctx context.Context, w *directory.Writer) error) error {
	t.Helper()
	ctx := context.Background()
	_, err := d.Write(ctx, func(w *directory.Writer) error { return fn(ctx, w) })
	return err
}

func update(t *testing.T, d *directory.Directory, body string) {
	t.Helper()
	res := resource(t, body)
	if err := write(t, d, func(ctx context.Context, w *directory.Writer) error {
		_, err := w.Update(ctx, res, res.ID, fhir.ETags{})
		return err
	}); err != nil {
		t.Fatalf("Update(%s/%s) = %v", res.Type, res.ID, err)
	}
}

// guard reads typ/id and returns its Guard (Restricted must agree).
func guard(t *testing.T, d *directory.Directory, typ, id string) int64 {
	t.Helper()
	v, err := d.Store.Read(context.Background(), typ, id)
	if err != nil {
		t.Fatalf("Read(%s/%s) = %v", typ, id, err)
	}
	if v.Guard != 0 && !v.Restricted {
		t.Errorf("%s/%s: Guard %b but not Restricted", typ, id, v.Guard)
	}
	return v.Guard
}

// visible asks the store whether a viewer holding keys sees typ/id.
func visible(t *testing.T, d *directory.Directory, typ, id string, keys ...string) bool {
	t.Helper()
	rs, ok := d.Store.(store.RestrictStore)
	if !ok {
		t.Fatalf("%T does not enforce restrictions", d.Store)
	}
	ctx := context.Background()
	v, err := d.Store.Read(ctx, typ, id)
	if err != nil {
		t.Fatalf("Read(%s/%s) = %v", typ, id, err)
	}
	ok, err = rs.Visible(ctx, v, &store.Viewer{Keys: keys})
	if err != nil {
		t.Fatalf("Visible = %v", err)
	}
	return ok
}

func TestBrokenRestrictionRefused(t *testing.T) {
	ext := func(ref string) string {
		return `[{"url":"` + restrict.ExtensionURL + `","valueReference":{"reference":"` + ref + `"}}]`
	}
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"not #id", `{"resourceType":"Location","extension":` + ext("Consent/secret-ref") + `,"name":"n"}`, false},
		{"not a Consent", `{"resourceType":"Location","contained":[{"resourceType":"Organization","id":"secret-ref"}],"address":{"extension":` + ext("#secret-ref") + `,"city":"x"}}`, false},
		{"deny provision", `{"resourceType":"Location","contained":[` + strings.Replace(strings.Replace(consentJSON, `"permit"`, `"deny"`, 1), `"c"`, `"secret-ref"`, 1) + `],"telecom":[{"value":"1","extension":` + ext("#secret-ref") + `}]}`, false},
		{"inactive is fine", strings.Replace(locationRootRestricted, `"active"`, `"inactive"`, 1), true},
	}
	eachBackend(t, func(t *testing.T, d *directory.Directory) {
		for _, tt := range tests {
			id := "secret-id"
			if tt.ok {
				id = "fine"
			}
			writes := []struct {
				how string
				fn  func(ctx context.Context, w *directory.Writer) error
			}{
				{"Create", func(ctx context.Context, w *directory.Writer) error {
					_, err := w.Create(ctx, resource(t, tt.body), id, nil)
					return err
				}},
				{"Update", func(ctx context.Context, w *directory.Writer) error {
					_, err := w.Update(ctx, resource(t, tt.body), id, fhir.ETags{})
					return err
				}},
				{"PutAll", func(ctx context.Context, w *directory.Writer) error {
					res := resource(t, tt.body)
					res.ID = id
					idx, err := d.Indexer.Index(res)
					if err != nil {
						return err
					}
					_, err = w.PutAll(ctx, []directory.Item{{Res: res, Index: idx}})
					return err
				}},
			}
			for _, wr := range writes {
				err := write(t, d, wr.fn)
				if tt.ok {
					if err != nil {
						t.Errorf("%s %s: %v; want it written", wr.how, tt.name, err)
					}
					continue
				}
				var fe *fhir.Error
				if !errors.As(err, &fe) || fe.Status != http.StatusUnprocessableEntity {
					t.Errorf("%s %s = %v; want a 422", wr.how, tt.name, err)
					continue
				}
				if msg := fe.Error(); strings.Contains(msg, "secret") || !strings.HasPrefix(fe.Issues[0].Expression[0], "Location") {
					t.Errorf("%s %s: outcome %q at %q; want the element named and nothing of the resource quoted", wr.how, tt.name, msg, fe.Issues[0].Expression)
				}
				if _, err := d.Store.Read(context.Background(), "Location", id); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s %s: the refused resource was stored (%v)", wr.how, tt.name, err)
				}
			}
		}
	})
}

func TestVerificationResultInheritsRoot(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *directory.Directory) {
		update(t, d, locationRootRestricted)
		update(t, d, vr("v"))
		if g := guard(t, d, "VerificationResult", "v"); g != 1 {
			t.Errorf("VerificationResult Guard = %b; want 1 (the Location's root rule)", g)
		}
		if !visible(t, d, "VerificationResult", "v", "Organization/acme") || visible(t, d, "VerificationResult", "v", "Organization/other") {
			t.Errorf("the VerificationResult is not visible exactly to who sees its target")
		}
	})
}

func TestVerificationResultInheritsTargetLocation(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *directory.Directory) {
		update(t, d, locationAddrRestricted)
		update(t, d, vr("addr", "Location.address"))
		update(t, d, vr("city", "Location.address.city"))
		update(t, d, vr("name", "Location.name"))
		update(t, d, vr("whole"))
		update(t, d, vr("unparsed", "Location.address.where(city='x')"))
		for id, want := range map[string]int64{"addr": 1, "city": 1, "name": 0, "whole": 0, "unparsed": 1} {
			if g := guard(t, d, "VerificationResult", id); g != want {
				t.Errorf("VerificationResult/%s Guard = %b; want %b", id, g, want)
			}
		}
	})
}

func TestVerificationResultOwnAndInherited(t *testing.T) {
	// The VerificationResult's own rules keep their numbers (its guarded
	// rows depend on them); the inherited rule comes after them.
	own := `{"resourceType":"VerificationResult","id":"v","status":"validated","contained":[` +
		strings.Replace(consentJSON, "Organization/acme", "Organization/other", 1) + `],` +
		`"target":[{"reference":"Location/l"}],"statusDate":"2020-01-01","_statusDate":{"extension":` + usage + `}}`
	eachBackend(t, func(t *testing.T, d *directory.Directory) {
		update(t, d, locationRootRestricted)
		update(t, d, own)
		if g := guard(t, d, "VerificationResult", "v"); g != 2 {
			t.Errorf("Guard = %b; want 10 (own rule 0 on an element, inherited rule 1 on the root)", g)
		}
	})
}

func TestVerificationResultCascade(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *directory.Directory) {
		update(t, d, locationPlain)
		update(t, d, vr("v"))
		update(t, d, vr("addr", "Location.address"))
		check := func(when string, v, addr int64) {
			t.Helper()
			if g := guard(t, d, "VerificationResult", "v"); g != v {
				t.Errorf("%s: VerificationResult/v Guard = %b; want %b", when, g, v)
			}
			if g := guard(t, d, "VerificationResult", "addr"); g != addr {
				t.Errorf("%s: VerificationResult/addr Guard = %b; want %b", when, g, addr)
			}
		}
		check("target unrestricted", 0, 0)
		update(t, d, locationAddrRestricted)
		check("target's address restricted", 0, 1)
		update(t, d, locationRootRestricted)
		check("target restricted", 1, 1)
		update(t, d, locationPlain)
		check("target unrestricted again", 0, 0)
		update(t, d, locationRootRestricted)
		if err := write(t, d, func(ctx context.Context, w *directory.Writer) error {
			_, err := w.Delete(ctx, "Location", "l", fhir.ETags{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		// They keep what the last live version gave them: they still
		// describe restricted data.
		check("target deleted", 1, 1)
	})
}

func TestVerificationResultInBatch(t *testing.T) {
	// A VerificationResult loaded before its target in one batch follows
	// the target as the batch leaves it.
	eachBackend(t, func(t *testing.T, d *directory.Directory) {
		var items []directory.Item
		for _, body := range []string{vr("v"), locationPlain, locationRootRestricted} {
			res := resource(t, body)
			idx, err := d.Indexer.Index(res)
			if err != nil {
				t.Fatal(err)
			}
			items = append(items, directory.Item{Res: res, Index: idx})
		}
		if err := write(t, d, func(ctx context.Context, w *directory.Writer) error {
			_, err := w.PutAll(ctx, items)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if g := guard(t, d, "VerificationResult", "v"); g != 1 {
			t.Errorf("VerificationResult Guard = %b; want 1", g)
		}
	})
}

func TestConditionalSeesRestricted(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *directory.Directory) {
		update(t, d, locationRootRestricted)
		var c *directory.Change
		if err := write(t, d, func(ctx context.Context, w *directory.Writer) error {
			var err error
			c, err = w.Create(ctx, resource(t, `{"resourceType":"Location","name":"Shelter"}`), "", url.Values{"name": {"Shelter"}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if c.Action != directory.Matched || c.ID != "l" {
			t.Errorf("conditional create = %v %s; want it to match the restricted Location/l", c.Action, c.ID)
		}
	})
}

// TestVerificationResultRace writes VerificationResults while their
// targets become restricted in other transactions: whichever commits
// second must leave the VerificationResult following its target.
func TestVerificationResultRace(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *directory.Directory) {
		for i := range 10 {
			id := "l" + strings.Repeat("x", i)
			target := strings.Replace(locationRootRestricted, `"id":"l"`, `"id":"`+id+`"`, 1)
			vrBody := strings.Replace(vr("v"+id), "Location/l", "Location/"+id, 1)
			if i%2 == 1 {
				update(t, d, strings.Replace(locationPlain, `"id":"l"`, `"id":"`+id+`"`, 1)) // exists before
			}
			errs := make(chan error, 2)
			for _, body := range []string{target, vrBody} {
				go func() {
					res := resource(t, body)
					_, err := d.Write(context.Background(), func(w *directory.Writer) error {
						_, err := w.Update(context.Background(), res, res.ID, fhir.ETags{})
						return err
					})
					errs <- err
				}()
			}
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if g := guard(t, d, "VerificationResult", "v"+id); g != 1 {
				t.Errorf("round %d: VerificationResult Guard = %b; want 1", i, g)
			}
		}
	})
}

func TestConditionalWithViewer(t *testing.T) {
	// A caller writing on a client's behalf (WithViewer) gets conditions
	// matched as that client sees: a restricted resource it may not see
	// neither matches nor blocks.
	eachBackend(t, func(t *testing.T, d *directory.Directory) {
		update(t, d, locationRootRestricted)
		for _, tt := range []struct {
			keys []string
			want directory.Action
		}{
			{[]string{"Organization/acme"}, directory.Matched},
			{[]string{"Organization/other"}, directory.Created},
		} {
			var c *directory.Change
			ctx := directory.WithViewer(context.Background(), &store.Viewer{Keys: tt.keys})
			if _, err := d.Write(ctx, func(w *directory.Writer) error {
				var err error
				c, err = w.Create(ctx, resource(t, `{"resourceType":"Location","name":"Shelter"}`), "", url.Values{"name": {"Shelter"}})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if c.Action != tt.want {
				t.Errorf("conditional create as %q = %v; want %v", tt.keys, c.Action, tt.want)
			}
		}
	})
}

// TestProvenanceFollowsTarget: a Provenance written with its target (as
// package provenance does, in the write's transaction) is restricted as
// the target is, also when it records the target's deletion; and it
// follows later changes of the target like a VerificationResult.
func TestProvenanceFollowsTarget(t *testing.T) {
	prov := func(id, target string) *fhir.Resource {
		return resource(t, `{"resourceType":"Provenance","id":"`+id+`","recorded":"2026-05-06T07:08:09Z","target":[{"reference":"`+target+`"}],"agent":[{"who":{"reference":"Organization/acme"}}]}`)
	}
	eachBackend(t, func(t *testing.T, d *directory.Directory) {
		withProvenance := func(id string, fn func(ctx context.Context, w *directory.Writer) (*directory.Change, error)) {
			t.Helper()
			if err := write(t, d, func(ctx context.Context, w *directory.Writer) error {
				c, err := fn(ctx, w)
				if err != nil {
					return err
				}
				_, err = w.Put(ctx, prov(id, c.Type+"/"+c.ID+"/_history/"+itoa(c.Version.VersionID)), nil)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		withProvenance("p1", func(ctx context.Context, w *directory.Writer) (*directory.Change, error) {
			return w.Create(ctx, resource(t, locationPlain), "l", nil)
		})
		if g := guard(t, d, "Provenance", "p1"); g != 0 {
			t.Errorf("Provenance of an unrestricted write: Guard %d, want 0", g)
		}
		withProvenance("p2", func(ctx context.Context, w *directory.Writer) (*directory.Change, error) {
			res := resource(t, locationRootRestricted)
			return w.Update(ctx, res, res.ID, fhir.ETags{})
		})
		if g := guard(t, d, "Provenance", "p2"); g == 0 || visible(t, d, "Provenance", "p2", "Organization/other") || !visible(t, d, "Provenance", "p2", "Organization/acme") {
			t.Errorf("Provenance of a restricted write: Guard %d; want it restricted as its target", g)
		}
		// The target's restriction reaches the earlier Provenance too.
		if g := guard(t, d, "Provenance", "p1"); g == 0 {
			t.Error("Provenance p1 did not follow its target becoming restricted")
		}
		withProvenance("p3", func(ctx context.Context, w *directory.Writer) (*directory.Change, error) {
			return w.Delete(ctx, "Location", "l", fhir.ETags{})
		})
		if g := guard(t, d, "Provenance", "p3"); g == 0 {
			t.Error("Provenance of the deletion of a restricted resource is unrestricted")
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
