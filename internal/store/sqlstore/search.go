package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"

	"github.com/vhdir/vhdir/internal/store"
)

// builder accumulates bind arguments; placeholders are numbered, so an
// argument may be referenced several times and in any order.
type builder struct {
	d     *Dialect
	args  []any
	alias int
	// perRow writes conditions as correlated EXISTS probes of one
	// resource's index rows (cheap per row: the index tables are keyed by
	// rid first) instead of sets of matching rows (cheap when selective).
	// The planner picks per condition.
	perRow bool
	// view is what the query's viewer sees (viewer.go); keyPH holds the
	// placeholders of its keys once bound.
	view  access
	keyPH string
	// auditAlone are the reference matches of a search over audit
	// records that no record's other references hold (auditRefsAlone).
	auditAlone map[store.RefMatch]bool
	// notNullKeys marks the sort keys that are columns never NULL (audit
	// records' recorded and id): keyNotNull.
	notNullKeys []bool
	// ridDesc breaks ties newest first (audit records sorted newest
	// first: one backward range of an index ending in the time and seq).
	ridDesc bool
}

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return b.d.Placeholder(len(b.args))
}

func (b *builder) newAlias(prefix string) string {
	b.alias++
	return fmt.Sprintf("%s%d", prefix, b.alias)
}

// dbQuerier is what both *sql.DB and *sql.Tx offer.
type dbQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// maxStringUpper closes a prefix range: every string that starts with p
// sorts below p+maxStringUpper in byte (C collation) order.
const maxStringUpper = "\U0010FFFF"

// baseWhere is the condition on resources aliased a: live, visible to the
// viewer, of the types, matching cond.
func (b *builder) baseWhere(a string, types []string, cond store.Cond) (string, error) {
	return b.typedWhere(a, types, cond, false)
}

// typedWhere is baseWhere, its type condition hidden from the database's
// planner where cond is the way in (driven, see typeCond): a chain's
// targets are the rows its condition's index finds, each checked, not the
// rows of the type's index each probed.
func (b *builder) typedWhere(a string, types []string, cond store.Cond, driven bool) (string, error) {
	parts := []string{a + ".deleted = false"}
	if v := b.visible(a); v != "" {
		parts = append(parts, v)
	}
	if typ := b.typeCond(a, types, driven); typ != "" {
		parts = append(parts, typ)
	}
	if cond != nil {
		c, err := b.cond(a, cond)
		if err != nil {
			return "", err
		}
		parts = append(parts, c)
	}
	return strings.Join(parts, " AND "), nil
}

// cond translates a condition on the resource aliased a.
func (b *builder) cond(a string, c store.Cond) (string, error) {
	switch c := c.(type) {
	case store.And:
		return b.join(a, []store.Cond(c), " AND ", "1 = 1")
	case store.Or:
		return b.join(a, []store.Cond(c), " OR ", "1 = 0")
	case store.Not:
		inner, err := b.cond(a, c.X)
		if err != nil {
			return "", err
		}
		return "NOT (" + inner + ")", nil
	case store.IDIs:
		ph := make([]string, len(c.IDs))
		for i, id := range c.IDs {
			ph[i] = b.arg(id)
		}
		if len(ph) == 0 {
			return "1 = 0", nil
		}
		return a + ".id IN (" + strings.Join(ph, ", ") + ")", nil
	case store.LastUpdated:
		return rangeCond(b, c.Op, a+".last_updated", a+".last_updated", c.Lo.UnixMicro(), c.Hi.UnixMicro())
	case store.TokenMatch, store.StringMatch, store.RefMatch, store.DateMatch, store.NumberMatch, store.URIMatch, store.Near:
		l, err := b.leaf(c)
		if err != nil {
			return "", err
		}
		return b.in(a, l.table, l.param, l.inner), nil
	case store.Missing:
		tab, err := tableName(c.Table)
		if err != nil {
			return "", err
		}
		// A value hidden from the viewer is missing for it.
		probe := func(groups string) string {
			return fmt.Sprintf("EXISTS (SELECT 1 FROM %s m WHERE m.rid = %s.rid AND %s)", tab, a, groups)
		}
		exists := b.orGuarded("m", c.Param, "m."+b.groups(c.Param), false, probe)
		if c.Missing {
			return "NOT " + exists, nil
		}
		return exists, nil
	case store.Chain:
		return b.chainCond(a, c)
	case store.Has:
		return b.hasCond(a, c)
	case store.Hierarchy:
		return b.hierarchyCond(a, c), nil
	default:
		return "", fmt.Errorf("search: unsupported condition %T", c)
	}
}

func (b *builder) join(a string, cs []store.Cond, sep, empty string) (string, error) {
	if len(cs) == 0 {
		return empty, nil
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		s, err := b.cond(a, c)
		if err != nil {
			return "", err
		}
		parts[i] = "(" + s + ")"
	}
	return strings.Join(parts, sep), nil
}

// leafCond is a condition on one index table: rows of param's groups
// satisfying inner (columns unqualified).
type leafCond struct {
	table string
	param int64
	inner string
}

// leaf writes a condition on index rows.
func (b *builder) leaf(c store.Cond) (leafCond, error) {
	switch c := c.(type) {
	case store.TokenMatch:
		return b.tokenCond(c), nil
	case store.StringMatch:
		return b.stringCond(c)
	case store.RefMatch:
		return b.refCond(c), nil
	case store.DateMatch:
		inner, err := rangeCond(b, c.Op, "lo", "hi", c.Lo, c.Hi)
		return leafCond{"idx_date", c.Param, inner}, err
	case store.NumberMatch:
		return b.numberCond(c)
	case store.URIMatch:
		return b.uriCond(c)
	case store.Near:
		return b.nearCond(c), nil
	}
	return leafCond{}, fmt.Errorf("search: %T is not an index condition", c)
}

// in restricts alias a to resources having an index row in table for param
// satisfying inner (columns unqualified) that the viewer sees. The
// semi-join lets the planner drive from the index: for each group
// containing param, a range of (grp, value…).
func (b *builder) in(a, table string, param int64, inner string) string {
	if b.perRow {
		x := b.newAlias("x")
		probe := func(groups string) string {
			return fmt.Sprintf("EXISTS (SELECT 1 FROM %s %s WHERE %s.rid = %s.rid AND %s AND %s%s)", table, x, x, a, groups, inner, b.d.ProbeFence)
		}
		if a != derivedRows && !b.view.public() {
			// Guarded rows belong to restricted versions alone
			// (checkRestriction): any other row is answered by the seeks
			// of its main groups, without those of the guarded ones.
			return fmt.Sprintf("(%s OR %s.restricted AND %s)", probe(b.probeGroups(x, param)), a, probe(b.guardedGroups(x, param, true)))
		}
		return b.orGuarded(x, param, b.probeGroups(x, param), true, probe)
	}
	if b.view.public() {
		return fmt.Sprintf("%s.rid IN (SELECT rid FROM %s WHERE %s AND %s)", a, table, b.groups(param), inner)
	}
	// Both branches alias the table: the guarded one refers to its row
	// from subqueries, where an unqualified rid would mean theirs.
	x := b.newAlias("x")
	set := func(groups string) string {
		return fmt.Sprintf("SELECT %s.rid FROM %s %s WHERE %s AND %s", x, table, x, groups, inner)
	}
	return fmt.Sprintf("%s.rid IN (%s)", a, b.unionGuarded(x, param, x+"."+b.groups(param), set))
}

// probeGroups is groups for alias x of a per-row probe.
func (b *builder) probeGroups(x string, param int64) string {
	col := x + ".grp"
	if b.d.ProbeGroup != "" {
		col = fmt.Sprintf(b.d.ProbeGroup, col)
	}
	return col + " IN (SELECT grp FROM param_groups WHERE param = " + b.arg(param) + ")"
}

// groups is the condition that a row's group contains param.
func (b *builder) groups(param int64) string {
	return "grp IN (SELECT grp FROM param_groups WHERE param = " + b.arg(param) + ")"
}

// groupList is groups written, where the dialect has one, as a list the
// database reads once (Dialect.GroupArray): a chain's set probes the
// references to each of its targets (565 organizations of one city), and
// PostgreSQL otherwise reads and sorts the groups again for each target
// (chained + include 12 – 15 % faster at 1M).
func (b *builder) groupList(param int64) string {
	if b.d.GroupArray == "" {
		return b.groups(param)
	}
	return "grp " + fmt.Sprintf(b.d.GroupArray, "SELECT grp FROM param_groups WHERE param = "+b.arg(param))
}

func (b *builder) tokenCond(c store.TokenMatch) leafCond {
	var parts []string
	if c.Code != nil {
		parts = append(parts, "code = "+b.arg(*c.Code))
	}
	if c.System != nil {
		parts = append(parts, "system = "+b.arg(*c.System))
	}
	if len(parts) == 0 {
		parts = append(parts, "1 = 1")
	}
	return leafCond{"idx_token", c.Param, strings.Join(parts, " AND ")}
}

func (b *builder) stringCond(c store.StringMatch) (leafCond, error) {
	switch c.Mode {
	case store.StringExact:
		return leafCond{"idx_string", c.Param, fmt.Sprintf("norm = %s AND exact = %s", b.arg(c.Norm), b.arg(c.Value))}, nil
	case store.StringPrefix:
		return leafCond{"idx_string", c.Param, fmt.Sprintf("norm >= %s AND norm < %s", b.arg(c.Value), b.arg(c.Value+maxStringUpper))}, nil
	case store.StringContains:
		return leafCond{"idx_string", c.Param, "norm LIKE " + b.arg("%"+escapeLike(c.Value)+"%") + " ESCAPE '\\'"}, nil
	default:
		return leafCond{}, fmt.Errorf("search: unknown string mode %d", c.Mode)
	}
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (b *builder) refCond(c store.RefMatch) leafCond {
	var parts []string
	if c.URL != "" {
		parts = append(parts, "url = "+b.arg(c.URL))
	} else {
		parts = append(parts, "id = "+b.arg(c.ID))
		if c.Type != "" {
			parts = append(parts, "type = "+b.arg(c.Type))
		}
	}
	return leafCond{"idx_ref", c.Param, strings.Join(parts, " AND ")}
}

func (b *builder) uriCond(c store.URIMatch) (leafCond, error) {
	switch c.Mode {
	case store.URIExact:
		return leafCond{"idx_uri", c.Param, "uri = " + b.arg(c.Value)}, nil
	case store.URIBelow:
		return leafCond{"idx_uri", c.Param, fmt.Sprintf("uri >= %s AND uri < %s", b.arg(c.Value), b.arg(c.Value+maxStringUpper))}, nil
	case store.URIAbove:
		// Every prefix of the value, at path boundaries and in full.
		var ph []string
		for _, p := range uriPrefixes(c.Value) {
			ph = append(ph, b.arg(p))
		}
		return leafCond{"idx_uri", c.Param, "uri IN (" + strings.Join(ph, ", ") + ")"}, nil
	default:
		return leafCond{}, fmt.Errorf("search: unknown uri mode %d", c.Mode)
	}
}

// uriPrefixes returns v and each of its prefixes ending before a '/'.
func uriPrefixes(v string) []string {
	out := []string{v}
	for i := len(v) - 1; i > 0; i-- {
		if v[i] == '/' && v[i-1] != '/' {
			out = append(out, v[:i])
		}
	}
	return out
}

func (b *builder) numberCond(c store.NumberMatch) (leafCond, error) {
	table := "idx_number"
	var extra []string
	if c.Quantity {
		table = "idx_quantity"
		if c.System != nil {
			extra = append(extra, "system = "+b.arg(*c.System))
		}
		if c.Code != nil {
			extra = append(extra, "code = "+b.arg(*c.Code))
		}
	}
	var inner string
	switch c.Op {
	case store.Eq, 0:
		inner = fmt.Sprintf("value >= %s AND value < %s", b.arg(c.Lo), b.arg(c.Hi))
	case store.Ne:
		inner = fmt.Sprintf("(value < %s OR value >= %s)", b.arg(c.Lo), b.arg(c.Hi))
	case store.Gt, store.Sa:
		inner = "value > " + b.arg(c.Value)
	case store.Lt, store.Eb:
		inner = "value < " + b.arg(c.Value)
	case store.Ge:
		inner = "value >= " + b.arg(c.Value)
	case store.Le:
		inner = "value <= " + b.arg(c.Value)
	case store.Ap:
		d := math.Abs(c.Value) * 0.1
		inner = fmt.Sprintf("value >= %s AND value <= %s", b.arg(c.Value-d), b.arg(c.Value+d))
	default:
		return leafCond{}, fmt.Errorf("search: unknown comparator %d", c.Op)
	}
	if len(extra) > 0 {
		inner += " AND " + strings.Join(extra, " AND ")
	}
	return leafCond{table, c.Param, inner}, nil
}

// rangeCond compares a stored range [lo, hi] with the searched range
// [qlo, qhi] per FHIR R4 search prefixes for dates
// (https://hl7.org/fhir/R4/search.html#prefix).
func rangeCond(b *builder, op store.Comparator, lo, hi string, qlo, qhi int64) (string, error) {
	// Built only where used: every argument must appear in the statement.
	contained := func() string { return fmt.Sprintf("(%s >= %s AND %s <= %s)", lo, b.arg(qlo), hi, b.arg(qhi)) }
	switch op {
	case store.Eq, 0:
		return contained(), nil
	case store.Ne:
		return "NOT " + contained(), nil
	case store.Gt:
		return hi + " > " + b.arg(qhi), nil
	case store.Lt:
		return lo + " < " + b.arg(qlo), nil
	case store.Ge:
		return fmt.Sprintf("(%s > %s OR %s)", hi, b.arg(qhi), contained()), nil
	case store.Le:
		return fmt.Sprintf("(%s < %s OR %s)", lo, b.arg(qlo), contained()), nil
	case store.Sa:
		return lo + " > " + b.arg(qhi), nil
	case store.Eb:
		return hi + " < " + b.arg(qlo), nil
	case store.Ap:
		// Approximately: overlapping the searched range widened by 10 %.
		w := (qhi - qlo) / 10
		return fmt.Sprintf("(%s <= %s AND %s >= %s)", lo, b.arg(qhi+w), hi, b.arg(qlo-w)), nil
	default:
		return "", fmt.Errorf("search: unknown comparator %d", op)
	}
}

func (b *builder) chainCond(a string, c store.Chain) (string, error) {
	t := b.newAlias("t")
	s := b.newAlias("s")
	if b.perRow {
		// This resource's references, each target checked in place.
		where, err := b.baseWhere(t, c.Types, c.Where)
		if err != nil {
			return "", err
		}
		// Nested EXISTS fixes the order: this row's references first.
		probe := func(groups string) string {
			return fmt.Sprintf("EXISTS (SELECT 1 FROM idx_ref %s WHERE %s.rid = %s.rid AND %s AND EXISTS (SELECT 1 FROM resources %s WHERE %s.type = %s.type AND %s.id = %s.id AND %s%s)%s)",
				s, s, a, groups, t, t, s, t, s, where, b.d.ProbeFence, b.d.ProbeFence)
		}
		return b.orGuarded(s, c.Param, b.probeGroups(s, c.Param), true, probe), nil
	}
	// The targets first (few: the organizations of one city), then the
	// references to them through idx_ref_target (grp, id, type).
	where, err := b.typedWhere(t, c.Types, c.Where, c.Where != nil)
	if err != nil {
		return "", err
	}
	set := func(groups string) string {
		return fmt.Sprintf("SELECT %s.rid FROM idx_ref %s WHERE %s AND (%s.id, %s.type) IN (SELECT %s.id, %s.type FROM resources %s WHERE %s)",
			s, s, groups, s, s, t, t, t, where)
	}
	return fmt.Sprintf("%s.rid IN (%s)", a, b.unionGuarded(s, c.Param, s+"."+b.groupList(c.Param), set)), nil
}

func (b *builder) hasCond(a string, c store.Has) (string, error) {
	if c.Type == store.AuditType {
		return b.auditHas(a, c)
	}
	src := b.newAlias("h")
	s := b.newAlias("s")
	where, err := b.baseWhere(src, []string{c.Type}, c.Where)
	if err != nil {
		return "", err
	}
	if b.perRow {
		// Nested EXISTS fixes the order: the references to this row first
		// (idx_ref_target), then their sources.
		probe := func(groups string) string {
			return fmt.Sprintf("EXISTS (SELECT 1 FROM idx_ref %s WHERE %s AND %s.id = %s.id AND %s.type = %s.type AND EXISTS (SELECT 1 FROM resources %s WHERE %s.rid = %s.rid AND %s%s)%s)",
				s, groups, s, a, s, a, src, src, s, where, b.d.ProbeFence, b.d.ProbeFence)
		}
		return b.orGuarded(s, c.Param, s+"."+b.groups(c.Param), false, probe), nil
	}
	// The sources first, then what they reference; not correlated with
	// the outer row, so evaluated once.
	set := func(groups string) string {
		return fmt.Sprintf("SELECT %s.id, %s.type FROM idx_ref %s WHERE %s AND %s.rid IN (SELECT %s.rid FROM resources %s WHERE %s)",
			s, s, s, groups, s, src, src, where)
	}
	return fmt.Sprintf("(%s.id, %s.type) IN (%s)", a, a, b.unionGuarded(s, c.Param, s+"."+b.groups(c.Param), set)), nil
}

// nearCond prefilters with a bounding box (index range on lat) and then
// applies the haversine distance.
func (b *builder) nearCond(c store.Near) leafCond {
	dLat, dLon := box(c.Lat, c.Lon, c.RadiusKm)
	inner := fmt.Sprintf("lat BETWEEN %s AND %s AND lon BETWEEN %s AND %s AND %s <= %s",
		b.arg(c.Lat-dLat), b.arg(c.Lat+dLat), b.arg(c.Lon-dLon), b.arg(c.Lon+dLon), b.haversine(c.Lat, c.Lon), b.arg(c.RadiusKm))
	return leafCond{"idx_coord", c.Param, inner}
}

// hierarchyCond matches references to a resource or to its descendants
// (below) or ancestors (above) along the PartOf reference of its type,
// walked with a recursive query (at most maxDepth levels: hierarchies are
// shallow, and the bound stops cycles). A step passes only through
// resources and partof values the viewer sees.
func (b *builder) hierarchyCond(a string, c store.Hierarchy) string {
	const maxDepth = 32
	var step string
	if c.Below {
		// children: resources whose partof points at a tree member
		step = fmt.Sprintf("SELECT hr.type, hr.id, t.depth + 1 FROM tree t JOIN idx_ref hx ON hx.type = t.type AND hx.id = t.id AND %s JOIN resources hr ON hr.rid = hx.rid AND hr.type = t.type AND hr.deleted = false%s WHERE t.depth < %d",
			b.anyGroups("hx", c.PartOf), b.andVisible("hr"), maxDepth)
	} else {
		// parents: what a tree member's partof points at
		step = fmt.Sprintf("SELECT hx.type, hx.id, t.depth + 1 FROM tree t JOIN resources hr ON hr.type = t.type AND hr.id = t.id AND hr.deleted = false%s JOIN idx_ref hx ON hx.rid = hr.rid AND %s WHERE t.depth < %d",
			b.andVisible("hr"), b.anyGroups("hx", c.PartOf), maxDepth)
	}
	tree := fmt.Sprintf("WITH RECURSIVE tree(type, id, depth) AS (SELECT %s, %s, 0 UNION %s) SELECT type, id FROM tree",
		b.castText(b.arg(c.Type)), b.castText(b.arg(c.ID)), step)
	return b.in(a, "idx_ref", c.Param, "(type, id) IN ("+tree+")")
}

// castText types a bound argument as text where the dialect needs it.
func (b *builder) castText(ph string) string {
	if b.d.TextParam == "" {
		return ph
	}
	return fmt.Sprintf(b.d.TextParam, ph)
}

func tableName(t store.Table) (string, error) {
	switch t {
	case store.TableString:
		return "idx_string", nil
	case store.TableToken:
		return "idx_token", nil
	case store.TableRef:
		return "idx_ref", nil
	case store.TableDate:
		return "idx_date", nil
	case store.TableNumber:
		return "idx_number", nil
	case store.TableQuantity:
		return "idx_quantity", nil
	case store.TableURI:
		return "idx_uri", nil
	case store.TableCoord:
		return "idx_coord", nil
	default:
		return "", fmt.Errorf("search: unknown index table %d", t)
	}
}
