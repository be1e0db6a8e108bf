package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/vhdir/vhdir/internal/store"
)

// How queries enforce usage restrictions (the rows are described in
// restrict.go). Every place a resources (or resource_history) row becomes
// visible — matches, counts, chain targets, _has sources, includes,
// hierarchy steps, history, export — adds visible(alias); every condition
// on index rows (and every sort key) goes through param_groups and so sees
// only main rows, unless the viewer may see guarded ones: then its group
// list is widened to the parameter's guarded groups and a guarded row
// passes only when its mask permits the viewer (anyOf). A value hidden from
// a viewer never matches, counts or orders its results.
//
// A viewer is permitted by mask on version (rid, version) when
//
//	(mask & ~(OR of the bits of restriction_keys rows of (rid, version) whose key it holds)) = 0
//
// Most viewers hold keys that no restriction names (a client of an
// organization that restricts nothing): one indexed probe per call finds
// that, and they run the statements of a viewer without keys.

// access is what a query's viewer sees, decided once per call.
type access struct {
	// all sees everything (store.Viewer.All).
	all bool
	// keys are the viewer's permit keys when some restriction names one
	// of them; nil when it sees unrestricted data only.
	keys []string
}

// public reports whether the viewer sees unrestricted data only: no
// restricted resource, no guarded index row.
func (v access) public() bool { return !v.all && len(v.keys) == 0 }

// resolveAccess decides how viewer sees the store, probing q for its keys.
func resolveAccess(ctx context.Context, q dbQuerier, d *Dialect, viewer *store.Viewer) (access, error) {
	switch {
	case viewer == nil:
		return access{}, nil
	case viewer.All:
		return access{all: true}, nil
	case len(viewer.Keys) == 0:
		return access{}, nil
	}
	ph := make([]string, len(viewer.Keys))
	args := make([]any, len(viewer.Keys))
	for i, k := range viewer.Keys {
		ph[i], args[i] = d.Placeholder(i+1), k
	}
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM restriction_keys WHERE key IN ("+strings.Join(ph, ", ")+") LIMIT 1", args...).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return access{}, nil // named nowhere
	case err != nil:
		return access{}, fmt.Errorf("restriction keys: %w", err)
	}
	return access{keys: viewer.Keys}, nil
}

// keyList is the viewer's keys as placeholders, bound once per statement
// however many checks use them.
func (b *builder) keyList() string {
	if b.keyPH == "" {
		ph := make([]string, len(b.view.keys))
		for i, k := range b.view.keys {
			ph[i] = b.arg(k)
		}
		b.keyPH = strings.Join(ph, ", ")
	}
	return b.keyPH
}

// heldBits is the OR of the rule bits of version (rid, version) that the
// viewer's keys satisfy (0 when none).
func (b *builder) heldBits(rid, version string) string {
	return fmt.Sprintf("COALESCE((SELECT %s FROM restriction_keys rk WHERE rk.rid = %s AND rk.version = %s AND rk.key IN (%s)), 0)",
		fmt.Sprintf(b.d.BitOr, "rk.bit"), rid, version, b.keyList())
}

// permitted is the condition that the viewer is permitted by every rule
// of mask on version (rid, version). Only for viewers with keys.
func (b *builder) permitted(rid, version, mask string) string {
	return fmt.Sprintf("(%s & ~%s) = 0", mask, b.heldBits(rid, version))
}

// visible is the condition that the row aliased a (of resources or
// resource_history) is visible to the viewer; "" when every row is.
func (b *builder) visible(a string) string {
	switch {
	case b.view.all:
		return ""
	case b.view.public():
		return a + ".guard = 0"
	}
	return fmt.Sprintf("(%s.guard = 0 OR %s)", a, b.permitted(a+".rid", a+".version", a+".guard"))
}

// andVisible is visible(a) as a further " AND …" term ("" when none).
func (b *builder) andVisible(a string) string {
	if v := b.visible(a); v != "" {
		return " AND " + v
	}
	return ""
}

// guardedGroups is the condition that index row x is a guarded row of
// param that the viewer may see, under its resource's current version;
// "" when the viewer sees none. probe keeps a per-row probe on the
// (rid, grp) index as probeGroups does.
func (b *builder) guardedGroups(x string, param int64, probe bool) string {
	if b.view.public() {
		return ""
	}
	col := x + ".grp"
	if probe && b.d.ProbeGroup != "" {
		col = fmt.Sprintf(b.d.ProbeGroup, col)
	}
	p := b.arg(param)
	in := fmt.Sprintf("%s IN (SELECT gg.grp FROM guarded_groups gg WHERE gg.param = %s)", col, p)
	if b.view.all {
		return in
	}
	mask := fmt.Sprintf("(SELECT gm.mask FROM guarded_groups gm WHERE gm.param = %s AND gm.grp = %s.grp)", p, x)
	version := fmt.Sprintf("(SELECT rv.version FROM resources rv WHERE rv.rid = %s.rid)", x)
	return in + " AND " + b.permitted(x+".rid", version, mask)
}

// orGuarded is probe over the rows of param the viewer may see: groups
// (the main group condition, fenced says as probeGroups writes it: the
// probe reads the (rid, grp…) key; unfenced, the value index, which leads
// with grp, stays open: a _has probe by target id and type, a :missing
// check) widened to the guarded groups, see anyOf.
func (b *builder) orGuarded(x string, param int64, groups string, fenced bool, probe func(groups string) string) string {
	if b.view.public() {
		return probe(groups)
	}
	return probe(b.anyOf(x, param, groups, fenced))
}

// unionGuarded is set over the rows of param the viewer may see (groups:
// the main group condition), see anyOf.
func (b *builder) unionGuarded(x string, param int64, groups string, set func(groups string) string) string {
	if b.view.public() {
		return set(groups)
	}
	return set(b.anyOf(x, param, groups, false))
}

// anyOf is the condition that index row x is a row of param the viewer
// may see, for a viewer that may see guarded rows: one group list, main
// and guarded (widen), so that each condition keeps one index plan and a
// chain's target set is written once; then a main row passes at once (a
// hashed list) and a guarded row, rare, only when its mask permits the
// viewer. (A main branch UNION ALL a guarded one would write a chain's
// target set twice: 3 – 5 times slower for permitted viewers.)
func (b *builder) anyOf(x string, param int64, groups string, fenced bool) string {
	if b.view.all {
		return widen(groups)
	}
	return fmt.Sprintf("%s AND (%s OR %s)", widen(groups), groups, b.guardedGroups(x, param, fenced))
}

// widen turns groups, a main group condition as groups or probeGroups
// write it ("… IN (SELECT grp FROM param_groups WHERE param = $n)"), into
// the condition that a row is of the parameter, main or guarded. The
// placeholder is reused: every bound argument must appear in the
// statement.
func widen(groups string) string {
	i := strings.LastIndex(groups, "param = ")
	if i < 0 {
		panic("sqlstore: widen: not a group condition: " + groups)
	}
	i += len("param = ")
	ph, closing, ok := strings.Cut(groups[i:], ")")
	if !ok || strings.Trim(closing, ")") != "" {
		panic("sqlstore: widen: not a group condition: " + groups)
	}
	return groups[:i] + ph + " UNION ALL SELECT grp FROM guarded_groups WHERE param = " + ph + ")" + closing
}

// anyGroups is the condition that index row x belongs to param among the
// rows the viewer sees (anyOf; for a viewer without permissions the main
// groups alone): for joins (a page's includes, hierarchy steps).
func (b *builder) anyGroups(x string, param int64) string {
	main := x + "." + b.groups(param)
	if b.view.public() {
		return main
	}
	return b.anyOf(x, param, main, false)
}

var _ store.RestrictStore = (*DB)(nil)

// Visible reports whether viewer may see v (see store.RestrictStore): v's
// own version's rule keys decide, so an old or deleted version is judged
// by the restriction it was written with.
func (db *DB) Visible(ctx context.Context, v *store.Version, viewer *store.Viewer) (bool, error) {
	if v.Guard == 0 || viewer != nil && viewer.All {
		return true, nil
	}
	if viewer == nil || len(viewer.Keys) == 0 {
		return false, nil
	}
	b := &builder{d: db.d, view: access{keys: viewer.Keys}}
	text := fmt.Sprintf("SELECT %s FROM resources r WHERE r.type = %s AND r.id = %s",
		b.heldBits("r.rid", b.arg(v.VersionID)), b.arg(v.Type), b.arg(v.ID))
	var held int64
	err := db.read.QueryRowContext(ctx, text, b.args...).Scan(&held)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // not a version of this store
	}
	if err != nil {
		return false, fmt.Errorf("visible %s/%s/_history/%d: %w", v.Type, v.ID, v.VersionID, err)
	}
	return v.Guard&^held == 0, nil
}
