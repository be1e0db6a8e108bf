package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// Authorization state (store.AuthStore): tables auth_clients,
// auth_assertions and auth_tokens of migration 0002. Every statement is
// plain SQL both databases run alike, numbered with the dialect's
// placeholders; the races it must settle (two nodes using one assertion id)
// are settled by one INSERT … ON CONFLICT, never by a read then a write.

var _ store.AuthStore = (*DB)(nil)

// authStatements are the auth statements of one dialect.
type authStatements struct {
	insertClient, client, clients, updateClient string
	useAssertion                                string
	insertToken, token                          string
	purgeAssertions, purgeTokens                string
}

var authCache sync.Map // *Dialect → *authStatements

func (db *DB) authSQL() *authStatements {
	if s, ok := authCache.Load(db.d); ok {
		return s.(*authStatements)
	}
	p := db.d.Placeholder
	s := &authStatements{
		// DO NOTHING rather than a unique violation: no error to classify,
		// and the row count says whether the id was free.
		insertClient: fmt.Sprintf(`INSERT INTO auth_clients (id, data, disabled, created, updated) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING`, p(1), p(2), p(3), p(4), p(5)),
		client:       fmt.Sprintf(`SELECT data, disabled, created, updated FROM auth_clients WHERE id = %s`, p(1)),
		clients:      `SELECT id, data, disabled, created, updated FROM auth_clients ORDER BY id`,
		updateClient: fmt.Sprintf(`UPDATE auth_clients SET data = %s, disabled = %s, updated = %s WHERE id = %s`, p(1), p(2), p(3), p(4)),
		// A first use inserts; a later one updates only when the earlier
		// use has expired. A replay changes no row. Concurrent uses meet
		// on the primary key: the loser waits for the winner's row and
		// then finds it unexpired.
		useAssertion: fmt.Sprintf(`INSERT INTO auth_assertions (client_id, jti, expires) VALUES (%s, %s, %s) `+
			`ON CONFLICT (client_id, jti) DO UPDATE SET expires = excluded.expires WHERE auth_assertions.expires <= %s`, p(1), p(2), p(3), p(4)),
		insertToken:     fmt.Sprintf(`INSERT INTO auth_tokens (hash, client_id, scope, issued_at, expires) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (hash) DO NOTHING`, p(1), p(2), p(3), p(4), p(5)),
		token:           fmt.Sprintf(`SELECT client_id, scope, issued_at, expires FROM auth_tokens WHERE hash = %s`, p(1)),
		purgeAssertions: fmt.Sprintf(`DELETE FROM auth_assertions WHERE expires < %s`, p(1)),
		purgeTokens:     fmt.Sprintf(`DELETE FROM auth_tokens WHERE expires < %s`, p(1)),
	}
	actual, _ := authCache.LoadOrStore(db.d, s)
	return actual.(*authStatements)
}

// writeExec runs one statement on the write pool (SQLite's one writer
// connection) and returns the rows it changed. Like Update, it runs the
// statement again when it lost a race (Dialect.Retryable).
func (db *DB) writeExec(ctx context.Context, query string, args ...any) (int64, error) {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var res sql.Result
		res, err = db.write.ExecContext(ctx, query, args...)
		if err == nil {
			return res.RowsAffected()
		}
		err = db.classify(err)
		if !errors.Is(err, store.ErrRetry) || ctx.Err() != nil {
			return 0, err
		}
	}
	return 0, err
}

// nonNil keeps an empty registration from becoming NULL (drivers bind a nil
// []byte as NULL).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// CreateClient registers a client inside the transaction.
func (t *tx) CreateClient(ctx context.Context, c *store.ClientRecord) error {
	if c.Created.IsZero() || c.Updated.IsZero() {
		return fmt.Errorf("auth client %s: Created and Updated must be set", c.ID)
	}
	res, err := t.tx.ExecContext(ctx, t.db.authSQL().insertClient, c.ID, nonNil(c.Data), c.Disabled, c.Created.UnixMicro(), c.Updated.UnixMicro())
	if err != nil {
		return fmt.Errorf("auth client %s: %w", c.ID, t.db.classify(err))
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("auth client %s: %w", c.ID, errors.Join(store.ErrExists, err))
	}
	return nil
}

type scanner interface{ Scan(...any) error }

func scanClient(row scanner, c *store.ClientRecord, withID bool) error {
	var created, updated int64
	dest := []any{&c.Data, &c.Disabled, &created, &updated}
	if withID {
		dest = append([]any{&c.ID}, dest...)
	}
	if err := row.Scan(dest...); err != nil {
		return err
	}
	c.Created = time.UnixMicro(created).UTC()
	c.Updated = time.UnixMicro(updated).UTC()
	return nil
}

// Client returns a registration, or ErrNotFound.
func (db *DB) Client(ctx context.Context, id string) (*store.ClientRecord, error) {
	c := &store.ClientRecord{ID: id}
	st, err := db.prepared(db.read, db.authSQL().client)
	if err != nil {
		return nil, fmt.Errorf("auth client %s: %w", id, err)
	}
	err = scanClient(st.QueryRowContext(ctx, id), c, false)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("auth client %s: %w", id, err)
	}
	return c, nil
}

// Clients lists every registration, ordered by id.
func (db *DB) Clients(ctx context.Context) ([]*store.ClientRecord, error) {
	rows, err := db.read.QueryContext(ctx, db.authSQL().clients)
	if err != nil {
		return nil, fmt.Errorf("auth clients: %w", err)
	}
	defer rows.Close()
	var out []*store.ClientRecord
	for rows.Next() {
		c := &store.ClientRecord{}
		if err := scanClient(rows, c, true); err != nil {
			return nil, fmt.Errorf("auth clients: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("auth clients: %w", err)
	}
	return out, nil
}

// UpdateClient replaces Data, Disabled and Updated inside the transaction.
func (t *tx) UpdateClient(ctx context.Context, c *store.ClientRecord) error {
	if c.Updated.IsZero() {
		return fmt.Errorf("auth client %s: Updated must be set", c.ID)
	}
	res, err := t.tx.ExecContext(ctx, t.db.authSQL().updateClient, nonNil(c.Data), c.Disabled, c.Updated.UnixMicro(), c.ID)
	if err != nil {
		return fmt.Errorf("auth client %s: %w", c.ID, t.db.classify(err))
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("auth client %s: %w", c.ID, errors.Join(store.ErrNotFound, err))
	}
	return nil
}

// UseAssertion records a use of an assertion id. It reports false when an
// earlier use has not expired by u.Now; an expired use is replaced.
func (db *DB) UseAssertion(ctx context.Context, u store.AssertionUse) (bool, error) {
	var fresh bool
	err := db.groupWrite(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		fresh, err = db.useAssertion(ctx, tx, u)
		return err
	})
	return fresh, err
}

func (db *DB) useAssertion(ctx context.Context, tx *sql.Tx, u store.AssertionUse) (bool, error) {
	res, err := db.txExec(ctx, tx, db.authSQL().useAssertion, u.ClientID, u.JTI, u.Until.UnixMicro(), u.Now.UnixMicro())
	if err != nil {
		return false, fmt.Errorf("auth assertion %s of client %s: %w", u.JTI, u.ClientID, db.classify(err))
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// IssueToken records an assertion's use and the token it earned together;
// a replay stores neither.
func (db *DB) IssueToken(ctx context.Context, u store.AssertionUse, t *store.TokenRecord) (bool, error) {
	var fresh bool
	err := db.groupWrite(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		fresh = false
		ok, err := db.useAssertion(ctx, tx, u)
		if err != nil || !ok {
			return err
		}
		if err := db.putToken(ctx, tx, t); err != nil {
			return err
		}
		fresh = true
		return nil
	})
	return fresh, err
}

// tokenName shortens a token hash for error messages.
func tokenName(hash []byte) string {
	return fmt.Sprintf("%x…", hash[:min(len(hash), 4)])
}

// PutToken stores an issued access token; ErrExists when its hash is
// already stored.
func (db *DB) PutToken(ctx context.Context, t *store.TokenRecord) error {
	return db.groupWrite(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return db.putToken(ctx, tx, t)
	})
}

func (db *DB) putToken(ctx context.Context, tx *sql.Tx, t *store.TokenRecord) error {
	res, err := db.txExec(ctx, tx, db.authSQL().insertToken, nonNil(t.Hash), t.ClientID, t.Scope, t.IssuedAt.UnixMicro(), t.Expires.UnixMicro())
	if err != nil {
		return fmt.Errorf("auth token %s: %w", tokenName(t.Hash), db.classify(err))
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("auth token %s: %w", tokenName(t.Hash), errors.Join(store.ErrExists, err))
	}
	return nil
}

// Token returns the token with this hash, expired or not, or ErrNotFound.
func (db *DB) Token(ctx context.Context, hash []byte) (*store.TokenRecord, error) {
	t := &store.TokenRecord{Hash: append([]byte(nil), hash...)}
	var issued, expires int64
	st, err := db.prepared(db.read, db.authSQL().token)
	if err != nil {
		return nil, fmt.Errorf("auth token %s: %w", tokenName(hash), err)
	}
	err = st.QueryRowContext(ctx, nonNil(hash)).Scan(&t.ClientID, &t.Scope, &issued, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("auth token %s: %w", tokenName(hash), err)
	}
	t.IssuedAt = time.UnixMicro(issued).UTC()
	t.Expires = time.UnixMicro(expires).UTC()
	return t, nil
}

// PurgeAuth deletes assertion ids and tokens that expired before now. The
// two deletes are independent: a failure between them leaves only rows a
// later purge removes.
func (db *DB) PurgeAuth(ctx context.Context, now time.Time) error {
	q := db.authSQL()
	if _, err := db.writeExec(ctx, q.purgeAssertions, now.UnixMicro()); err != nil {
		return fmt.Errorf("purge auth assertions: %w", err)
	}
	if _, err := db.writeExec(ctx, q.purgeTokens, now.UnixMicro()); err != nil {
		return fmt.Errorf("purge auth tokens: %w", err)
	}
	return nil
}

// prepareAuth prepares the statements of the token path once, at open:
// a statement prepared on SQLite's one writer connection could not be
// prepared later from inside a transaction holding it.
func (db *DB) prepareAuth(ctx context.Context) error {
	q := db.authSQL()
	for _, p := range []struct {
		pool  *sql.DB
		query string
	}{
		{db.read, q.client}, {db.read, q.token},
		{db.write, q.useAssertion}, {db.write, q.insertToken},
		{db.write, "SAVEPOINT op"}, {db.write, "ROLLBACK TO SAVEPOINT op"}, {db.write, "RELEASE SAVEPOINT op"},
	} {
		st, err := p.pool.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		db.preparedCache.Store(preparedKey{p.pool, p.query}, st)
	}
	return nil
}

// prepared returns a statement prepared by prepareAuth.
func (db *DB) prepared(pool *sql.DB, query string) (*sql.Stmt, error) {
	if st, ok := db.preparedCache.Load(preparedKey{pool, query}); ok {
		return st.(*sql.Stmt), nil
	}
	return nil, fmt.Errorf("statement %q was not prepared at open", query)
}

type preparedKey struct {
	pool  *sql.DB
	query string
}

// txExec runs a statement prepared on the write pool inside tx.
func (db *DB) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := db.prepared(db.write, query)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}
