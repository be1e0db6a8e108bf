package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/vhdir/vhdir/internal/store"
)

// AuditEvent searches are compiled onto the columns of audit_chain and
// the rows of audit_ref (migration 0008), never onto index tables: the
// parameters below are the AuditEvent parameters search offers, each
// with the record fields it reads (store.AuditFields, the values the
// search package would extract from the record). A parameter no record
// has a value for (_security, _tag, _source, source) matches nothing and
// is always missing.

// auditField is a searchable field of the records.
type auditField uint8

const (
	afNone auditField = iota
	afAction
	afOutcome
	afType
	afSubtype
	afAddress
	afAgent
	afAgentIdentifier
	afEntity
	afEntityIdentifier
	afSourceIdentifier
	afDate
	afPolicy
	afProfile
)

// auditFields maps parameter ids (store.ParamID) to the fields they search.
var auditFields = map[int64]auditField{
	store.ParamID(store.AuditType, "action"):            afAction,
	store.ParamID(store.AuditType, "outcome"):           afOutcome,
	store.ParamID(store.AuditType, "type"):              afType,
	store.ParamID(store.AuditType, "subtype"):           afSubtype,
	store.ParamID(store.AuditType, "address"):           afAddress,
	store.ParamID(store.AuditType, "agent"):             afAgent,
	store.ParamID(store.AuditType, "agent:identifier"):  afAgentIdentifier,
	store.ParamID(store.AuditType, "entity"):            afEntity,
	store.ParamID(store.AuditType, "entity:identifier"): afEntityIdentifier,
	store.ParamID(store.AuditType, "source:identifier"): afSourceIdentifier,
	store.ParamID(store.AuditType, "date"):              afDate,
	store.ParamID(store.AuditType, "policy"):            afPolicy,
	store.ParamID(store.AuditType, "_profile"):          afProfile,
}

// auditLive holds for the records searches see: every record whose
// fields are stored (not a legacy link whose body was lost).
const auditLive = "%[1]s.recorded > 0"

// tokenColumn is one token value of a record: a system (a column, or
// fixed) and a code column.
type tokenColumn struct {
	system, systemCol, code string
}

func auditTokens(a string, f auditField) []tokenColumn {
	switch f {
	case afAction:
		return []tokenColumn{{code: a + ".action"}}
	case afOutcome:
		return []tokenColumn{{code: a + ".outcome"}}
	case afType:
		return []tokenColumn{{systemCol: a + ".type_system", code: a + ".type_code"}}
	case afSubtype:
		return []tokenColumn{{systemCol: a + ".subtype_system", code: a + ".subtype_code"}}
	case afAgentIdentifier:
		return []tokenColumn{{system: store.AuditClientSystem, code: a + ".client"}, {system: store.AuditURISystem, code: a + ".source"}}
	case afSourceIdentifier:
		return []tokenColumn{{system: store.AuditURISystem, code: a + ".source"}}
	case afEntityIdentifier:
		return []tokenColumn{{code: a + ".request_id"}}
	}
	return nil
}

// auditStrings are the string columns of a field (address: the client's
// and the server's).
func auditStrings(a string, f auditField) []string {
	if f == afAddress {
		return []string{a + ".address", a + ".source"}
	}
	return nil
}

func auditURI(a string, f auditField) string {
	switch f {
	case afPolicy:
		return a + ".policy"
	case afProfile:
		return a + ".profile"
	}
	return ""
}

// auditRefKind is audit_ref.entity for a reference field, and the
// column of audit_chain that holds a record's first reference of it.
func auditRefKind(f auditField) (entity bool, column string, ok bool) {
	switch f {
	case afAgent:
		return false, "agent", true
	case afEntity:
		return true, "entity", true
	}
	return false, "", false
}

// auditWhere is the WHERE of a search over the records aliased a.
func (b *builder) auditWhere(a string, c store.Cond) (string, error) {
	where := fmt.Sprintf(auditLive, a)
	if c == nil {
		return where, nil
	}
	cond, err := b.auditCond(a, c)
	if err != nil {
		return "", err
	}
	return where + " AND " + cond, nil
}

// auditCond translates a condition on the record aliased a.
func (b *builder) auditCond(a string, c store.Cond) (string, error) {
	switch c := c.(type) {
	case store.And:
		return b.auditJoin(a, c, " AND ", "1 = 1")
	case store.Or:
		return b.auditJoin(a, c, " OR ", "1 = 0")
	case store.Not:
		inner, err := b.auditCond(a, c.X)
		if err != nil {
			return "", err
		}
		return "NOT (" + inner + ")", nil
	case store.IDIs:
		if len(c.IDs) == 0 {
			return "1 = 0", nil
		}
		ph := make([]string, len(c.IDs))
		for i, id := range c.IDs {
			ph[i] = b.arg(id)
		}
		return a + ".res_id IN (" + strings.Join(ph, ", ") + ")", nil
	case store.LastUpdated:
		return rangeCond(b, c.Op, a+".recorded", a+".recorded", c.Lo.UnixMicro(), c.Hi.UnixMicro())
	case store.DateMatch:
		if auditFields[c.Param] != afDate {
			return "1 = 0", nil
		}
		// recorded is kept to the millisecond: the range it stands for.
		return rangeCond(b, c.Op, a+".recorded", "("+a+".recorded + 999)", c.Lo, c.Hi)
	case store.TokenMatch:
		return b.auditToken(a, c), nil
	case store.StringMatch:
		return b.auditString(a, c)
	case store.URIMatch:
		return b.auditURIMatch(a, c)
	case store.RefMatch:
		return b.auditRef(a, c), nil
	case store.Missing:
		return b.auditMissing(a, c), nil
	case store.Chain:
		return b.auditChain(a, c)
	case store.NumberMatch, store.Near:
		return "1 = 0", nil // AuditEvent has no such parameter
	case store.Has:
		return "1 = 0", nil // no resource refers to a record (records are written by ChainAudit alone)
	case store.Hierarchy:
		return "", fmt.Errorf(":above and :below on AuditEvent: %w", store.ErrUnsupported)
	}
	return "", fmt.Errorf("search: unsupported condition %T", c)
}

func (b *builder) auditJoin(a string, cs []store.Cond, sep, empty string) (string, error) {
	if len(cs) == 0 {
		return empty, nil
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		s, err := b.auditCond(a, c)
		if err != nil {
			return "", err
		}
		parts[i] = "(" + s + ")"
	}
	return strings.Join(parts, sep), nil
}

func (b *builder) auditToken(a string, c store.TokenMatch) string {
	var alts []string
	for _, col := range auditTokens(a, auditFields[c.Param]) {
		// Arguments are bound only where used: PostgreSQL refuses one
		// that no statement refers to.
		if c.System != nil && col.systemCol == "" && *c.System != col.system {
			continue
		}
		parts := []string{col.code + " <> ''"}
		if c.Code != nil {
			parts = append(parts, col.code+" = "+b.arg(*c.Code))
		}
		if c.System != nil && col.systemCol != "" {
			parts = append(parts, col.systemCol+" = "+b.arg(*c.System))
		}
		alts = append(alts, "("+strings.Join(parts, " AND ")+")")
	}
	return anyOf(alts)
}

// auditString matches as the search index does on normalized text: the
// columns hold addresses (IP addresses and URLs), which normalize to
// their lower case.
func (b *builder) auditString(a string, c store.StringMatch) (string, error) {
	var alts []string
	for _, col := range auditStrings(a, auditFields[c.Param]) {
		switch c.Mode {
		case store.StringExact:
			alts = append(alts, col+" = "+b.arg(c.Value))
		case store.StringPrefix:
			alts = append(alts, fmt.Sprintf("(%s <> '' AND LOWER(%s) LIKE %s ESCAPE '\\')", col, col, b.arg(escapeLike(c.Value)+"%")))
		case store.StringContains:
			alts = append(alts, fmt.Sprintf("(%s <> '' AND LOWER(%s) LIKE %s ESCAPE '\\')", col, col, b.arg("%"+escapeLike(c.Value)+"%")))
		default:
			return "", fmt.Errorf("search: unknown string mode %d", c.Mode)
		}
	}
	return anyOf(alts), nil
}

func (b *builder) auditURIMatch(a string, c store.URIMatch) (string, error) {
	col := auditURI(a, auditFields[c.Param])
	if col == "" {
		return "1 = 0", nil
	}
	switch c.Mode {
	case store.URIExact:
		return col + " = " + b.arg(c.Value), nil
	case store.URIBelow:
		return fmt.Sprintf("(%s >= %s AND %s < %s)", col, b.arg(c.Value), col, b.arg(c.Value+maxStringUpper)), nil
	case store.URIAbove:
		var ph []string
		for _, p := range uriPrefixes(c.Value) {
			ph = append(ph, b.arg(p))
		}
		return col + " IN (" + strings.Join(ph, ", ") + ")", nil
	}
	return "", fmt.Errorf("search: unknown uri mode %d", c.Mode)
}

// auditRef matches records by a reference: in their own row (the first
// of its kind, an index range on the column) or in audit_ref (the others,
// through audit_ref_target).
func (b *builder) auditRef(a string, c store.RefMatch) string {
	entity, column, ok := auditRefKind(auditFields[c.Param])
	if !ok {
		return "1 = 0"
	}
	col := a + "." + column
	// Arguments are bound only where used: PostgreSQL refuses one that no
	// statement refers to.
	var own string
	var where func() []string
	switch {
	case c.URL != "":
		url := b.arg(c.URL)
		own, where = col+" = "+url, func() []string { return []string{"url = " + url} }
	case c.Type != "":
		own = col + " = " + b.arg(c.Type+"/"+c.ID)
		where = func() []string { return []string{"id = " + b.arg(c.ID), "type = " + b.arg(c.Type)} }
	default:
		// Any type: no index range on Type/id, but the others' rows have one.
		own = col + " LIKE " + b.arg("%/"+escapeLike(c.ID)) + " ESCAPE '\\'"
		where = func() []string { return []string{"id = " + b.arg(c.ID)} }
	}
	if b.auditAlone[c] {
		return own
	}
	others := append(where(), "entity = "+b.arg(entity))
	return fmt.Sprintf("(%s OR %s.seq IN (SELECT seq FROM audit_ref WHERE %s))", own, a, strings.Join(others, " AND "))
}

// auditRefsAlone finds the reference matches of a search over the
// records (agent, entity) that no record holds among its other
// references (audit_ref): most are a record's first of their kind, in
// its row. Such a match is its column's alone, one range of the column's
// index in time order, where the alternative of the other references
// would make the database merge two sets and sort them.
//
// A record appended between the probe and the page can only be one the
// page might as well have missed by being read a moment earlier: records
// are appended, never changed.
func auditRefsAlone(ctx context.Context, d *Dialect, q dbQuerier, c store.Cond) (map[store.RefMatch]bool, error) {
	p := d.Placeholder
	var alone map[store.RefMatch]bool
	var walk func(store.Cond) error
	walk = func(c store.Cond) error {
		switch c := c.(type) {
		case store.And:
			for _, x := range c {
				if err := walk(x); err != nil {
					return err
				}
			}
		case store.Or:
			for _, x := range c {
				if err := walk(x); err != nil {
					return err
				}
			}
		case store.Not:
			return walk(c.X)
		case store.RefMatch:
			entity, _, ok := auditRefKind(auditFields[c.Param])
			if !ok || c.Type == "" && c.URL == "" {
				return nil
			}
			text, args := fmt.Sprintf("SELECT 1 FROM audit_ref WHERE id = %s AND type = %s AND entity = %s LIMIT 1", p(1), p(2), p(3)), []any{c.ID, c.Type, entity}
			if c.URL != "" {
				text, args = fmt.Sprintf("SELECT 1 FROM audit_ref WHERE url = %s AND entity = %s LIMIT 1", p(1), p(2)), []any{c.URL, entity}
			}
			var one int
			switch err := q.QueryRowContext(ctx, text, args...).Scan(&one); {
			case errors.Is(err, sql.ErrNoRows):
				if alone == nil {
					alone = map[store.RefMatch]bool{}
				}
				alone[c] = true
			case err != nil:
				return fmt.Errorf("audit references: %w", err)
			}
		}
		return nil
	}
	return alone, walk(c)
}

// auditMissing: whether a record has (or lacks) a value for the parameter.
func (b *builder) auditMissing(a string, c store.Missing) string {
	var has string
	f := auditFields[c.Param]
	switch f {
	case afDate:
		has = "1 = 1"
	case afAgent, afEntity:
		// A record with references of a kind keeps the first in its row.
		_, column, _ := auditRefKind(f)
		has = a + "." + column + " <> ''"
	case afAddress:
		has = fmt.Sprintf("(%[1]s.address <> '' OR %[1]s.source <> '')", a)
	case afPolicy, afProfile:
		has = auditURI(a, f) + " <> ''"
	default:
		var alts []string
		for _, col := range auditTokens(a, f) {
			alts = append(alts, col.code+" <> ''")
		}
		has = anyOf(alts)
	}
	if c.Missing {
		return "NOT (" + has + ")"
	}
	return has
}

// auditChain matches records whose reference points to a resource that
// satisfies the chain's condition (and that the viewer sees).
func (b *builder) auditChain(a string, c store.Chain) (string, error) {
	entity, column, ok := auditRefKind(auditFields[c.Param])
	if !ok {
		return "1 = 0", nil
	}
	t, u := b.newAlias("t"), b.newAlias("t")
	where, err := b.baseWhere(t, c.Types, c.Where)
	if err != nil {
		return "", err
	}
	others, err := b.baseWhere(u, c.Types, c.Where)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("(%[1]s.%[2]s IN (SELECT %[3]s.type || '/' || %[3]s.id FROM resources %[3]s WHERE %[4]s) OR "+
		"%[1]s.seq IN (SELECT f.seq FROM audit_ref f WHERE f.entity = %[5]s AND (f.id, f.type) IN (SELECT %[6]s.id, %[6]s.type FROM resources %[6]s WHERE %[7]s)))",
		a, column, t, where, b.arg(entity), u, others), nil
}

// auditSortExpr is the value a record sorts by for key k.
func (b *builder) auditSortExpr(a string, k store.SortKey) string {
	switch k.Kind {
	case store.SortLastUpdated:
		return a + ".recorded"
	case store.SortID:
		return a + ".res_id"
	}
	f := auditFields[k.Param]
	switch {
	case f == afDate:
		return a + ".recorded"
	case len(auditTokens(a, f)) == 1:
		col := auditTokens(a, f)[0].code
		return "NULLIF(" + col + ", '')"
	case f == afAddress:
		cmp := "<"
		if k.Desc {
			cmp = ">"
		}
		return fmt.Sprintf("NULLIF(CASE WHEN %[1]s.address = '' THEN LOWER(%[1]s.source) WHEN %[1]s.source = '' THEN LOWER(%[1]s.address) "+
			"WHEN LOWER(%[1]s.address) %[2]s LOWER(%[1]s.source) THEN LOWER(%[1]s.address) ELSE LOWER(%[1]s.source) END, '')", a, cmp)
	case auditURI(a, f) != "":
		return "NULLIF(" + auditURI(a, f) + ", '')"
	}
	if _, column, ok := auditRefKind(f); ok {
		return "NULLIF(" + a + "." + column + ", '')" // the first reference of the kind
	}
	return "NULL"
}

// anyOf joins alternatives with OR; none is false.
func anyOf(alts []string) string {
	switch len(alts) {
	case 0:
		return "1 = 0"
	case 1:
		return alts[0]
	}
	return "(" + strings.Join(alts, " OR ") + ")"
}
