package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/store"
)

// indexTable describes one idx_* table: its name, its value columns (after
// rid and grp), and how to list a resource's rows as (param, values…).
type indexTable struct {
	bit     int64
	name    string
	columns []string // after rid, param
	rows    func(idx *store.Index) [][]any
}

var indexTables = []indexTable{
	{1 << 0, "idx_string", []string{"norm", "exact"}, func(x *store.Index) [][]any {
		out := make([][]any, len(x.Strings))
		for i, v := range x.Strings {
			out[i] = []any{v.Param, v.Norm, v.Exact}
		}
		return out
	}},
	{1 << 1, "idx_token", []string{"system", "code"}, func(x *store.Index) [][]any {
		out := make([][]any, len(x.Tokens))
		for i, v := range x.Tokens {
			out[i] = []any{v.Param, v.System, v.Code}
		}
		return out
	}},
	{1 << 2, "idx_ref", []string{"type", "id", "url"}, func(x *store.Index) [][]any {
		out := make([][]any, len(x.Refs))
		for i, v := range x.Refs {
			out[i] = []any{v.Param, v.Type, v.ID, v.URL}
		}
		return out
	}},
	{1 << 3, "idx_date", []string{"lo", "hi"}, func(x *store.Index) [][]any {
		out := make([][]any, len(x.Dates))
		for i, v := range x.Dates {
			out[i] = []any{v.Param, v.Lo, v.Hi}
		}
		return out
	}},
	{1 << 4, "idx_number", []string{"value", "lo", "hi"}, func(x *store.Index) [][]any {
		out := make([][]any, len(x.Numbers))
		for i, v := range x.Numbers {
			out[i] = []any{v.Param, v.Value, v.Lo, v.Hi}
		}
		return out
	}},
	{1 << 5, "idx_quantity", []string{"system", "code", "value", "lo", "hi"}, func(x *store.Index) [][]any {
		out := make([][]any, len(x.Quantities))
		for i, v := range x.Quantities {
			out[i] = []any{v.Param, v.System, v.Code, v.Value, v.Lo, v.Hi}
		}
		return out
	}},
	{1 << 6, "idx_uri", []string{"uri"}, func(x *store.Index) [][]any {
		out := make([][]any, len(x.URIs))
		for i, v := range x.URIs {
			out[i] = []any{v.Param, v.URI}
		}
		return out
	}},
	{1 << 7, "idx_coord", []string{"lat", "lon"}, func(x *store.Index) [][]any {
		out := make([][]any, len(x.Coords))
		for i, v := range x.Coords {
			out[i] = []any{v.Param, v.Lat, v.Lon}
		}
		return out
	}},
}

// tableMask records which index tables hold rows of a resource (guarded
// rows included), so an update deletes only from those (most resources
// touch three or four of the eight tables).
func tableMask(idx *store.Index) int64 {
	if idx == nil {
		return 0
	}
	var m int64
	for _, t := range indexTables {
		if len(t.rows(idx)) > 0 {
			m |= t.bit
		}
	}
	if r := idx.Restriction; r != nil {
		for _, g := range r.Guarded {
			m |= tableMask(g.Index)
		}
	}
	return m
}

// pendingRows buffers index rows of one table across Puts so that a bulk
// load writes them with few large INSERTs.
type pendingRows struct {
	args  []any
	nrows int
}

// flushThreshold is how many buffered rows trigger a write.
const flushThreshold = 2000

// Index rows are stored factorized: a resource's rows with equal values in
// one table become one row whose grp names the set of parameters that have
// that value (Practitioner "Smith" is one row for name, family and
// phonetic). grp is a hash of the sorted parameter ids; param_groups maps
// each parameter to the groups that contain it, and queries go through it.
// This cuts the rows a resource writes by about a third.

// groupID is FNV-1a over the sorted parameter ids of a group.
func groupID(params []int64) int64 {
	return int64(fnvInts(fnvOffset, params))
}

// FNV-1a 64-bit parameters.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnvInts continues FNV-1a hash h over the bytes of xs, low byte first.
func fnvInts(h uint64, xs []int64) uint64 {
	for _, x := range xs {
		for s := 0; s < 64; s += 8 {
			h ^= uint64(x>>s) & 0xff
			h *= fnvPrime
		}
	}
	return h
}

// writeIndex buffers a resource's index rows: its main rows under
// ordinary groups, and the rows of each Restriction.Guarded index under
// guarded groups (restrict.go).
func writeIndex(ctx context.Context, t *tx, rid int64, idx *store.Index) error {
	if idx == nil {
		return nil
	}
	// A resource restricted at its root has no main rows, whoever indexed
	// it (see store.GuardRoot; the count of count() relies on it).
	idx = store.GuardRoot(idx)
	if t.pending == nil {
		t.pending = make([]pendingRows, len(indexTables))
	}
	t.bufferRows(rid, idx, 0)
	if r := idx.Restriction; r != nil {
		for _, g := range r.Guarded {
			t.bufferRows(rid, g.Index, g.Mask)
		}
	}
	total := t.keyRows.nrows
	for i := range t.pending {
		total += t.pending[i].nrows
	}
	if total >= flushThreshold {
		return t.flush(ctx)
	}
	return nil
}

// bufferRows adds idx's rows, factorized, under ordinary groups (mask 0)
// or under the guarded groups of mask.
func (t *tx) bufferRows(rid int64, idx *store.Index, mask int64) {
	if idx == nil {
		return
	}
	for i, tab := range indexTables {
		p := &t.pending[i]
		for _, r := range factorize(tab.rows(idx)) {
			var grp int64
			if mask == 0 {
				grp = t.group(r.params)
			} else {
				grp = t.guardedGroup(r.params, mask)
			}
			p.args = append(p.args, rid, grp)
			p.args = append(p.args, r.values...)
			p.nrows++
		}
	}
}

type factorRow struct {
	params []int64
	values []any
}

// factorize merges rows (param, values…) with equal values.
func factorize(rows [][]any) []factorRow {
	if len(rows) == 0 {
		return nil
	}
	out := make([]factorRow, 0, len(rows))
	byKey := make(map[string]int, len(rows))
	var kb []byte
	for _, r := range rows {
		kb = valueKey(kb[:0], r[1:])
		if i, ok := byKey[string(kb)]; ok {
			if !slices.Contains(out[i].params, r[0].(int64)) {
				out[i].params = append(out[i].params, r[0].(int64))
			}
			continue
		}
		byKey[string(kb)] = len(out)
		out = append(out, factorRow{params: []int64{r[0].(int64)}, values: r[1:]})
	}
	for i := range out {
		slices.Sort(out[i].params)
	}
	return out
}

// valueKey encodes values unambiguously (type tag, length, bytes).
func valueKey(dst []byte, values []any) []byte {
	for _, v := range values {
		switch x := v.(type) {
		case string:
			dst = append(dst, 's')
			dst = strconv.AppendInt(dst, int64(len(x)), 10)
			dst = append(dst, ':')
			dst = append(dst, x...)
		case int64:
			dst = append(dst, 'i')
			dst = strconv.AppendInt(dst, x, 10)
		case float64:
			dst = append(dst, 'f')
			dst = strconv.AppendFloat(dst, x, 'g', -1, 64)
		}
		dst = append(dst, ';')
	}
	return dst
}

// group returns the id of a parameter set, registering it (in this
// transaction) when the database may not know it yet.
func (t *tx) group(params []int64) int64 {
	grp := groupID(params)
	if _, known := t.db.groups.Load(grp); known {
		return grp
	}
	if t.newGroups == nil {
		t.newGroups = map[int64][]int64{}
	}
	t.newGroups[grp] = params
	return grp
}

// registerGroups writes the groups this transaction introduced; committed
// groups are remembered by the DB after commit (see committed).
func (t *tx) registerGroups(ctx context.Context) error {
	if len(t.newGroups) == 0 {
		return nil
	}
	var args []any
	for grp, params := range t.newGroups {
		for _, p := range params {
			args = append(args, p, grp)
		}
	}
	n := len(args) / 2
	s, err := t.stmt(ctx, t.groupsSQL(n))
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("register parameter groups: %w", err)
	}
	for grp := range t.newGroups {
		t.registered = append(t.registered, grp)
	}
	clear(t.newGroups)
	return nil
}

func (t *tx) groupsSQL(n int) string {
	var b strings.Builder
	b.WriteString(t.db.d.SQL.InsertGroups)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "(%s, %s)", t.db.d.InsertPlaceholder(2*i+1), t.db.d.InsertPlaceholder(2*i+2))
	}
	b.WriteString(t.db.d.SQL.InsertGroupsEnd)
	return b.String()
}

// committed records the groups a committed transaction registered.
func (t *tx) committed() {
	for _, grp := range t.registered {
		t.db.groups.Store(grp, true)
	}
	for _, grp := range t.registeredGuarded {
		t.db.guarded.Store(grp, true)
	}
}

// flush writes buffered index rows (after the groups they use) and
// restriction keys. It runs before anything that reads or deletes index
// rows or keys in the transaction, and before commit.
func (t *tx) flush(ctx context.Context) error {
	if err := t.insertDeferred(ctx); err != nil {
		return err
	}
	if err := t.registerGroups(ctx); err != nil {
		return err
	}
	if err := t.registerGuarded(ctx); err != nil {
		return err
	}
	for i := range t.pending {
		p := &t.pending[i]
		if p.nrows == 0 {
			continue
		}
		tab := indexTables[i]
		if err := t.insertRows(ctx, tab.name, append([]string{"rid", "grp"}, tab.columns...), p.args, p.nrows); err != nil {
			return err
		}
		p.args = p.args[:0]
		p.nrows = 0
	}
	return t.flushKeys(ctx)
}

// insertRows writes nrows index rows of columns into table (see
// insertInto), a row already there left as it is.
func (t *tx) insertRows(ctx context.Context, table string, columns []string, args []any, nrows int) error {
	return t.insertInto(ctx, t.db.d.InsertIndexRows, table, columns, args, nrows)
}

// insertInto writes nrows rows of columns into table with the INSERT verb
// in chunks of power-of-two sizes, so that the transaction prepares few
// distinct statements.
func (t *tx) insertInto(ctx context.Context, verb, table string, columns []string, args []any, nrows int) error {
	width := len(columns)
	for _, n := range insertChunks(nrows, width, t.db.d.MaxParams) {
		s, err := t.stmt(ctx, t.db.insertSQL(verb, table, columns, n))
		if err != nil {
			return err
		}
		if _, err := s.ExecContext(ctx, args[:n*width]...); err != nil {
			return fmt.Errorf("insert %s: %w", table, err)
		}
		args = args[n*width:]
	}
	return nil
}

// insertChunks splits nrows rows of width values into multi-row INSERTs:
// the row counts of each, powers of two (few texts to prepare) within
// the dialect's parameter limit.
func insertChunks(nrows, width, maxParams int) []int {
	maxRows := 256
	for maxRows*width > maxParams {
		maxRows /= 2
	}
	var out []int
	for nrows > 0 {
		n := maxRows
		for n > nrows {
			n /= 2
		}
		out = append(out, n)
		nrows -= n
	}
	return out
}

func (db *DB) insertSQL(verb, table string, columns []string, n int) string {
	key := fmt.Sprintf("%s/%s/%d", verb, table, n)
	if s, ok := db.insertCache.Load(key); ok {
		return s.(string)
	}
	var b strings.Builder
	b.WriteString(verb)
	b.WriteString(" ")
	b.WriteString(table)
	b.WriteString(" (")
	b.WriteString(strings.Join(columns, ", "))
	b.WriteString(") VALUES ")
	width := len(columns)
	p := 1
	for r := 0; r < n; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := 0; c < width; c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString(db.d.InsertPlaceholder(p))
			p++
		}
		b.WriteByte(')')
	}
	s := b.String()
	db.insertCache.Store(key, s)
	return s
}

func deleteIndex(ctx context.Context, t *tx, rid, mask int64) error {
	if mask == 0 {
		return nil
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	for _, tab := range indexTables {
		if mask&tab.bit == 0 {
			continue
		}
		s, err := t.stmt(ctx, "DELETE FROM "+tab.name+" WHERE rid = "+t.db.d.Placeholder(1))
		if err != nil {
			return err
		}
		if _, err := s.ExecContext(ctx, rid); err != nil {
			return fmt.Errorf("delete %s rows: %w", tab.name, err)
		}
	}
	return nil
}
