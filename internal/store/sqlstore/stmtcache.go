package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache runs queries as statements prepared once on a pool and kept
// (searches on SQLite's read pool; appends on its audit file's pool). A
// search's SQL is built for each request, but its text follows the
// query's shape, not its values (those are arguments), so a few texts come
// back again and again: on SQLite, parsing and planning them anew takes
// about 40 % of the CPU of a one-row identifier search. database/sql prepares a kept statement on each connection the
// first time it runs there.
type stmtCache struct {
	pool  *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// maxCachedStmts bounds the statements kept; beyond it half are dropped
// (texts that vary with a value list's length are the ones that pile up).
const maxCachedStmts = 512

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, stmts: map[string]*sql.Stmt{}}
}

// stmt returns the statement for query, preparing it if needed.
func (c *stmtCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.stmts[query]
	c.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := c.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prior, ok := c.stmts[query]; ok {
		_ = st.Close()
		return prior, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		n := 0
		for q, old := range c.stmts {
			// A statement in use finishes first: database/sql closes it
			// on each connection once that connection is released.
			_ = old.Close()
			delete(c.stmts, q)
			if n++; n >= maxCachedStmts/2 {
				break
			}
		}
	}
	c.stmts[query] = st
	return st, nil
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, query)
	if err != nil {
		// The pool reports the same error through the row it returns.
		return c.pool.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// close closes the statements kept.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for q, st := range c.stmts {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(c.stmts, q)
	}
	return first
}
