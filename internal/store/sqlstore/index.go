package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/vhdir/vhdir/internal/store"
)

// indexTable describes one idx_* table: its name, its columns after rid and
// param, and how to list a resource's rows as arguments.
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

// tableMask records which index tables hold rows of a resource, so an
// update deletes only from those (most resources touch three or four of the
// eight tables).
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

func writeIndex(ctx context.Context, t *tx, rid int64, idx *store.Index) error {
	if idx == nil {
		return nil
	}
	if t.pending == nil {
		t.pending = make([]pendingRows, len(indexTables))
	}
	total := 0
	for i, tab := range indexTables {
		for _, r := range tab.rows(idx) {
			p := &t.pending[i]
			p.args = append(p.args, rid)
			p.args = append(p.args, r...)
			p.nrows++
		}
		total += t.pending[i].nrows
	}
	if total >= flushThreshold {
		return t.flush(ctx)
	}
	return nil
}

// flush writes buffered index rows. It runs before anything that reads or
// deletes index rows in the transaction, and before commit.
func (t *tx) flush(ctx context.Context) error {
	for i := range t.pending {
		p := &t.pending[i]
		if p.nrows == 0 {
			continue
		}
		if err := t.insertRows(ctx, indexTables[i], p.args, p.nrows); err != nil {
			return err
		}
		p.args = p.args[:0]
		p.nrows = 0
	}
	return nil
}

// insertRows writes nrows rows in chunks of power-of-two sizes, so the
// transaction prepares few distinct statements.
func (t *tx) insertRows(ctx context.Context, tab indexTable, args []any, nrows int) error {
	width := 2 + len(tab.columns)
	maxRows := 256
	for maxRows*width > t.db.d.MaxParams {
		maxRows /= 2
	}
	for nrows > 0 {
		n := maxRows
		for n > nrows {
			n /= 2
		}
		s, err := t.stmt(ctx, t.insertSQL(tab, n))
		if err != nil {
			return err
		}
		if _, err := s.ExecContext(ctx, args[:n*width]...); err != nil {
			return fmt.Errorf("insert %s: %w", tab.name, err)
		}
		args = args[n*width:]
		nrows -= n
	}
	return nil
}

func (t *tx) insertSQL(tab indexTable, n int) string {
	key := fmt.Sprintf("%s/%d", tab.name, n)
	if s, ok := t.db.insertCache.Load(key); ok {
		return s.(string)
	}
	var b strings.Builder
	b.WriteString(t.db.d.InsertIndexRows)
	b.WriteString(" ")
	b.WriteString(tab.name)
	b.WriteString(" (rid, param, ")
	b.WriteString(strings.Join(tab.columns, ", "))
	b.WriteString(") VALUES ")
	width := 2 + len(tab.columns)
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
			b.WriteString(t.db.d.InsertPlaceholder(p))
			p++
		}
		b.WriteByte(')')
	}
	s := b.String()
	t.db.insertCache.Store(key, s)
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
