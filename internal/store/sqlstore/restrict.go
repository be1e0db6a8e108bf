package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vhdir/vhdir/internal/store"
)

// Usage restrictions are stored in three places (migration 0005; how
// queries use them is in viewer.go):
//
//   - resources.guard and resources.restricted (and the same columns of
//     resource_history): a version's root mask (Restriction.Root) and its
//     Marked flag. guard 0 is unrestricted.
//   - restriction_keys (rid, version, key, bit): the permit keys of each
//     rule of each version, bit = 1 << rule. Rows of earlier versions stay,
//     for history.
//   - guarded_groups (param, grp, mask): the groups of guarded index rows
//     (Restriction.Guarded). Those rows live in the idx_* tables like any
//     other but their groups are never in param_groups, so every query that
//     goes through param_groups (all of them, unless the viewer may see
//     guarded rows) cannot meet them.
//
// An unrestricted write costs what it did before: two more columns on the
// resources row, no extra statement.

// restrictionOf is idx's restriction, the zero Restriction when none.
func restrictionOf(idx *store.Index) store.Restriction {
	if idx == nil || idx.Restriction == nil {
		return store.Restriction{}
	}
	return *idx.Restriction
}

// checkRestriction refuses restrictions the store cannot represent: masks
// are bits 0…62 (bit 63 would make them negative).
func checkRestriction(r store.Restriction) error {
	if len(r.Rules) > store.MaxRules {
		return fmt.Errorf("restriction: %d rules, at most %d", len(r.Rules), store.MaxRules)
	}
	if r.Root < 0 {
		return errors.New("restriction: root mask uses bit 63")
	}
	if !r.Marked && (r.Root != 0 || len(r.Guarded) > 0) {
		// Searches skip the guarded rows of unrestricted versions.
		return errors.New("restriction: a root mask or guarded rows on a version not marked restricted")
	}
	for _, g := range r.Guarded {
		if g.Mask <= 0 {
			return fmt.Errorf("restriction: guarded rows with mask %#x (want bits of rules 0-62, at least one)", g.Mask)
		}
	}
	return nil
}

// keyColumns are the columns of restriction_keys.
var keyColumns = []string{"rid", "version", "key", "bit"}

// bufferKeys adds the restriction_keys rows of version of rid: one per
// rule and distinct key.
func (t *tx) bufferKeys(rid, version int64, rules [][]string) {
	for i, keys := range rules {
		bit := int64(1) << i
		for j, k := range keys {
			if slices.Contains(keys[:j], k) {
				continue // listed twice: one row (the primary key)
			}
			t.keyRows.args = append(t.keyRows.args, rid, version, k, bit)
			t.keyRows.nrows++
		}
	}
}

// flushKeys writes the buffered restriction_keys rows.
func (t *tx) flushKeys(ctx context.Context) error {
	if t.keyRows.nrows == 0 {
		return nil
	}
	if err := t.insertRows(ctx, "restriction_keys", keyColumns, t.keyRows.args, t.keyRows.nrows); err != nil {
		return err
	}
	t.keyRows.args = t.keyRows.args[:0]
	t.keyRows.nrows = 0
	return nil
}

// keepRestriction gives a delete version written without a restriction
// its previous version's, rule keys included: a deletion must stay hidden
// (in history, in an export's deleted list, as a 410) from whoever could
// not see the resource. Unrestricted resources run no statement here.
func (t *tx) keepRestriction(ctx context.Context, v *store.Version, idx *store.Index, cur *current) error {
	if !v.Deleted || idx != nil && idx.Restriction != nil || cur.v.Guard == 0 && !cur.v.Restricted {
		return nil
	}
	v.Guard, v.Restricted = cur.v.Guard, cur.v.Restricted
	if err := t.flush(ctx); err != nil { // the previous version's keys may still be buffered
		return err
	}
	p := t.db.d.Placeholder
	s, err := t.stmt(ctx, fmt.Sprintf("INSERT INTO restriction_keys (rid, version, key, bit) SELECT rid, %s, key, bit FROM restriction_keys WHERE rid = %s AND version = %s",
		p(1), p(2), p(3)))
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, v.VersionID, cur.rid, cur.v.VersionID); err != nil {
		return fmt.Errorf("delete %s/%s: keep its restriction: %w", v.Type, v.ID, err)
	}
	return nil
}

// Restrict replaces the index rows and restriction of a resource's
// current version (see store.Tx) without making a version.
func (t *tx) Restrict(ctx context.Context, typ, id string, idx *store.Index) error {
	r := restrictionOf(idx)
	if err := checkRestriction(r); err != nil {
		return fmt.Errorf("restrict %s/%s: %w", typ, id, err)
	}
	cur, err := t.currentRow(ctx, typ, id)
	if err != nil {
		return fmt.Errorf("restrict %s/%s: %w", typ, id, err)
	}
	if err := deleteIndex(ctx, t, cur.rid, cur.idxTables); err != nil { // flushes first
		return fmt.Errorf("restrict %s/%s: %w", typ, id, err)
	}
	if err := t.flush(ctx); err != nil { // the version's keys may still be buffered
		return err
	}
	if err := writeIndex(ctx, t, cur.rid, idx); err != nil {
		return fmt.Errorf("restrict %s/%s: %w", typ, id, err)
	}
	tables := tableMask(idx)
	p := t.db.d.Placeholder
	s, err := t.stmt(ctx, fmt.Sprintf("UPDATE resources SET guard = %s, restricted = %s, idx_tables = %s WHERE rid = %s", p(1), p(2), p(3), p(4)))
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, r.Root, r.Marked, tables, cur.rid); err != nil {
		return fmt.Errorf("restrict %s/%s: %w", typ, id, err)
	}
	s, err = t.stmt(ctx, fmt.Sprintf("DELETE FROM restriction_keys WHERE rid = %s AND version = %s", p(1), p(2)))
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, cur.rid, cur.v.VersionID); err != nil {
		return fmt.Errorf("restrict %s/%s: drop old keys: %w", typ, id, err)
	}
	t.bufferKeys(cur.rid, cur.v.VersionID, r.Rules)
	// The cached row (currentRow's).
	cur.idxTables, cur.v.Guard, cur.v.Restricted = tables, r.Root, r.Marked
	return nil
}

// Guarded groups. A guarded row's group id hashes its parameters and mask
// after a salt, so it is never the id of an ordinary group (up to the
// 64-bit hash colliding, which ordinary groups already rely on) and rows
// of one value under two masks stay apart.

// guardedSalt starts a guarded group's hash.
const guardedSalt = "vhdir/guarded-group\x00"

type guardedGroup struct {
	params []int64
	mask   int64
}

// guardedGroupID is FNV-1a over the salt, the sorted parameter ids and
// the mask.
func guardedGroupID(params []int64, mask int64) int64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(guardedSalt); i++ {
		h ^= uint64(guardedSalt[i])
		h *= fnvPrime
	}
	h = fnvInts(h, params)
	return int64(fnvInts(h, []int64{mask}))
}

// guardedGroup returns the id of the guarded group of params under mask,
// registering it (in this transaction) when the database may not know it.
func (t *tx) guardedGroup(params []int64, mask int64) int64 {
	grp := guardedGroupID(params, mask)
	if _, known := t.db.guarded.Load(grp); known {
		return grp
	}
	if t.newGuarded == nil {
		t.newGuarded = map[int64]guardedGroup{}
	}
	t.newGuarded[grp] = guardedGroup{params: params, mask: mask}
	return grp
}

// registerGuarded writes the guarded groups this transaction introduced
// (committed ones are remembered by the DB after commit).
func (t *tx) registerGuarded(ctx context.Context) error {
	if len(t.newGuarded) == 0 {
		return nil
	}
	var args []any
	for grp, g := range t.newGuarded {
		for _, p := range g.params {
			args = append(args, p, grp, g.mask)
		}
	}
	var b strings.Builder
	b.WriteString(t.db.d.SQL.InsertGuardedGroups)
	for i := 0; i < len(args)/3; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		ph := t.db.d.InsertPlaceholder
		fmt.Fprintf(&b, "(%s, %s, %s)", ph(3*i+1), ph(3*i+2), ph(3*i+3))
	}
	b.WriteString(t.db.d.SQL.InsertGuardedGroupsEnd)
	s, err := t.stmt(ctx, b.String())
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("register guarded groups: %w", err)
	}
	for grp := range t.newGuarded {
		t.registeredGuarded = append(t.registeredGuarded, grp)
	}
	clear(t.newGuarded)
	return nil
}
