package directory

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/restrict"
	"github.com/vhdir/vhdir/internal/store"
)

// followers are the types whose visibility follows their targets: a
// VerificationResult (IG SHALL) and a Provenance (it names the version it
// is about, so it would reveal a restricted resource to whoever reads it).
var followers = []string{"VerificationResult", "Provenance"}

// follows reports whether typ is one of followers.
func follows(typ string) bool { return slices.Contains(followers, typ) }

// cascadePage is how many VerificationResults a cascade reads at a time.
const cascadePage = 100

// restriction checks res's usage restrictions before it is written and
// returns the index to store: idx itself, or for a VerificationResult a
// copy whose Restriction adds what it inherits from its targets. pending
// holds versions this transaction is about to write and the store does not
// have yet (PutAll), looked up before the store.
func (w *Writer) restriction(ctx context.Context, res *fhir.Resource, idx *store.Index, pending map[store.Key]*store.Version) (*store.Index, error) {
	if err := checkRestrictions(res, idx); err != nil {
		return nil, err
	}
	if !follows(res.Type) {
		return idx, nil
	}
	r, err := w.verificationRestriction(ctx, res.Obj, idx.Restriction, pending)
	if err != nil {
		return nil, err
	}
	if r == idx.Restriction {
		return idx, nil
	}
	c := *idx
	c.Restriction = r
	return store.GuardRoot(&c), nil
}

// checkRestrictions refuses res, indexed as idx, when its usage
// restrictions cannot be honoured. Only a resource whose index carries a
// Restriction is parsed: the Indexer attaches one whenever a restriction
// applies, and a broken one always does (see Indexer), so the resources
// without any, nearly all, are not walked once more.
func checkRestrictions(res *fhir.Resource, idx *store.Index) error {
	if idx == nil || idx.Restriction == nil {
		return nil
	}
	return brokenRestrictions(restrict.Parse(res.Obj))
}

// brokenRestrictions refuses restrictions that cannot be honoured as
// written (restrict.Rule.Err): one issue per restricted element, naming it
// and the problem and quoting nothing of the resource.
func brokenRestrictions(rs *restrict.Restrictions) error {
	var issues []fhir.Issue
	for _, r := range rs.All {
		if r.Rule.Err == nil {
			continue
		}
		is := fhir.Issue{
			Severity:    fhir.SeverityError,
			Code:        fhir.IssueInvalid,
			Diagnostics: "the usage restriction cannot be honoured: " + r.Rule.Err.Error(),
			Expression:  []string{r.Element},
		}
		if !slices.ContainsFunc(issues, func(x fhir.Issue) bool {
			return x.Diagnostics == is.Diagnostics && slices.Equal(x.Expression, is.Expression)
		}) {
			issues = append(issues, is)
		}
	}
	if len(issues) == 0 {
		return nil
	}
	return &fhir.Error{Status: http.StatusUnprocessableEntity, Issues: issues}
}

// verificationRestriction returns the Restriction of VerificationResult vr
// whose own (from its body, by the Indexer) is own: own with the rules it
// inherits from its targets appended and made root rules. It returns own
// itself when nothing is inherited.
func (w *Writer) verificationRestriction(ctx context.Context, vr *jsontree.Object, own *store.Restriction, pending map[store.Key]*store.Version) (*store.Restriction, error) {
	inherited, err := w.inherited(ctx, vr, pending)
	if err != nil || len(inherited) == 0 {
		return own, err
	}
	r := &store.Restriction{}
	if own != nil {
		*r = *own
		r.Rules = slices.Clone(own.Rules)
	}
	for _, keys := range inherited {
		i := slices.IndexFunc(r.Rules, func(k []string) bool { return slices.Equal(k, keys) })
		if i < 0 {
			if len(r.Rules) == store.MaxRules {
				return nil, fhir.Errorf(http.StatusUnprocessableEntity, fhir.IssueNotSupported,
					"the VerificationResult and what it validates carry more than %d distinct usage restrictions", store.MaxRules)
			}
			i = len(r.Rules)
			r.Rules = append(r.Rules, keys)
		}
		r.Root |= 1 << i
	}
	r.Marked = true
	return r, nil
}

// inherited returns the permit keys of the rules VerificationResult vr
// inherits (see the package documentation), each keys list once, in order
// of first appearance.
func (w *Writer) inherited(ctx context.Context, vr *jsontree.Object, pending map[store.Key]*store.Version) ([][]string, error) {
	refs, locations := restrict.TargetOf(vr)
	var keys []store.Key
	types := map[string]bool{}
	for _, s := range refs {
		ref, err := fhir.ParseReference(s)
		if err != nil || ref.Type == "" || ref.ID == "" {
			continue
		}
		// An absolute reference may name this server: taken as local,
		// failing closed.
		if ref.Kind != fhir.RefRelative && ref.Kind != fhir.RefAbsolute {
			continue
		}
		k := store.Key{Type: ref.Type, ID: ref.ID}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
		types[ref.Type] = true
	}
	if len(keys) == 0 {
		return nil, nil
	}
	// Serialize with writes of the targets (cascade): whichever commits
	// second sees the other, even for a target not yet created. Sorted,
	// so two writers of VerificationResults lock in one order.
	// A target this transaction wrote is locked already (its row, and its
	// cascade's lock): a Provenance of the write it records takes none.
	locks := slices.DeleteFunc(slices.Clone(keys), func(k store.Key) bool { return w.written(k) != nil })
	slices.SortFunc(locks, func(a, b store.Key) int { return strings.Compare(a.Type+"/"+a.ID, b.Type+"/"+b.ID) })
	for _, k := range locks {
		if err := w.tx.Lock(ctx, followLock(k.Type, k.ID)); err != nil {
			return nil, fmt.Errorf("lock %s/%s: %w", k.Type, k.ID, err)
		}
	}
	found := map[store.Key]*store.Version{}
	var missing []store.Key
	for _, k := range keys {
		if v, ok := pending[k]; ok {
			found[k] = v
		} else if v := w.written(k); v != nil {
			found[k] = v // no read: a Provenance's target was just written
		} else {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		cur, err := w.tx.CurrentMany(ctx, missing)
		if err != nil {
			return nil, fmt.Errorf("read VerificationResult targets: %w", err)
		}
		for k, v := range cur {
			found[k] = v
		}
	}
	var out [][]string
	add := func(r *restrict.Rule) {
		k := r.Keys()
		if !slices.ContainsFunc(out, func(x []string) bool { return slices.Equal(x, k) }) {
			out = append(out, k)
		}
	}
	for _, k := range keys {
		v := found[k]
		if v == nil || v.Deleted || v.Body == nil {
			continue // nothing to follow
		}
		obj, err := jsontree.ParseObject(v.Body)
		if err != nil {
			return nil, fmt.Errorf("read %s/%s: %w", k.Type, k.ID, err)
		}
		rs := restrict.Parse(obj)
		if rs.None() {
			continue
		}
		for _, a := range rs.Applying() {
			if a.Root() {
				add(a.Rule)
			}
		}
		for _, loc := range locations {
			// A location belongs to the targets of its type; one whose
			// type is none of theirs (or that names none) to every target,
			// where Covering fails closed.
			if t := locationType(loc); t != k.Type && types[t] {
				continue
			}
			for _, r := range rs.Covering(loc) {
				add(r)
			}
		}
	}
	return out, nil
}

// written returns the version of k this transaction wrote last, or nil;
// for a delete, the version deleted: a Provenance of a deletion follows
// what was deleted.
func (w *Writer) written(k store.Key) *store.Version {
	c := w.wrote[k]
	switch {
	case c == nil:
		return nil
	case c.Action == Deleted:
		return c.before
	}
	return c.Version
}

// followLock names the lock that a write of typ/id with its cascade, and
// the writes of VerificationResults reading typ/id, hold until they end:
// without it, a VerificationResult written while its target changes (or
// is created) could read the target as it was and not be found by the
// target's cascade, which cannot see it uncommitted.
func followLock(typ, id string) string { return "restrict-follow:" + typ + "/" + id }

// locationType returns the type a targetLocation starts with:
// "Practitioner" for "Practitioner.qualification[0]".
func locationType(loc string) string {
	if i := strings.IndexAny(loc, ".[("); i >= 0 {
		return loc[:i]
	}
	return loc
}

// cascade recomputes the Restriction of every VerificationResult whose
// target is typ/id, after a write of typ/id changed (or may have changed)
// what they inherit. It runs in the write's transaction.
func (w *Writer) cascade(ctx context.Context, typ, id string) error {
	if follows(typ) {
		return nil
	}
	if err := w.tx.Lock(ctx, followLock(typ, id)); err != nil {
		return fmt.Errorf("lock %s/%s: %w", typ, id, err)
	}
	var vrs []*store.Version
	for _, f := range followers {
		found, err := w.followersOf(ctx, f, typ, id)
		if err != nil {
			return err
		}
		vrs = append(vrs, found...)
	}
	for _, v := range vrs {
		if v.Deleted || v.Body == nil {
			continue
		}
		obj, err := jsontree.ParseObject(v.Body)
		if err != nil {
			return fmt.Errorf("read %s/%s: %w", v.Type, v.ID, err)
		}
		own, err := w.d.Indexer.Index(&fhir.Resource{Type: v.Type, ID: v.ID, Obj: obj})
		if err != nil {
			return fmt.Errorf("index %s/%s: %w", v.Type, v.ID, err)
		}
		r, err := w.verificationRestriction(ctx, obj, own.Restriction, nil)
		if err != nil {
			return err
		}
		idx := *own
		idx.Restriction = r
		if err := w.tx.Restrict(ctx, v.Type, v.ID, store.GuardRoot(&idx)); err != nil {
			return fmt.Errorf("restrict %s/%s: %w", v.Type, v.ID, err)
		}
	}
	return nil
}

// followersOf returns the current resources of type f whose target is
// typ/id, all read before any is changed (Restrict must not move what the
// paging walks).
func (w *Writer) followersOf(ctx context.Context, f, typ, id string) ([]*store.Version, error) {
	q, err := w.d.Indexer.Conditional(f, url.Values{"target": {typ + "/" + id}})
	if err != nil {
		return nil, fmt.Errorf("%s of %s/%s: %w", f, typ, id, err)
	}
	q.Viewer = store.SeeAll
	q.Count = cascadePage
	var out []*store.Version
	for {
		page, err := w.tx.Search(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("%s of %s/%s: %w", f, typ, id, err)
		}
		out = append(out, page.Versions...)
		if page.Next == nil {
			return out, nil
		}
		q.After = page.Next
	}
}

// restricted reports whether a version written with idx carries
// restrictions, and so may change what VerificationResults inherit.
func restricted(idx *store.Index) bool {
	return idx != nil && idx.Restriction != nil && idx.Restriction.Marked
}

// stamp sets on v what the store reports of its restriction.
func stamp(v *store.Version, idx *store.Index) {
	if restricted(idx) {
		v.Restricted, v.Guard = true, idx.Restriction.Root
	}
}
