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

// groupCommit runs small writes from concurrent callers in shared
// transactions, so that one commit (one disk flush) serves many callers:
// the token endpoint writes two rows per token, and with a flush each,
// SQLite's single writer would cap it far below what signature checks
// allow. A caller that finds no batch running runs one itself with
// everything queued; callers arriving meanwhile queue, and the first of
// them leads the next batch. Nobody waits for a timer: an idle server
// commits each write at once.
type groupCommit struct {
	mu      sync.Mutex
	pending []*groupOp
	running bool
}

// groupOp is one caller's write: fn runs inside the batch's transaction,
// within a savepoint so that its failure undoes only its own work.
type groupOp struct {
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error    // the result, once committed or failed
	lead chan struct{} // closed when this caller must lead the next batch
}

// maxGroup bounds a batch (a long batch delays its first caller).
const maxGroup = 64

// groupWrite runs fn in a shared write transaction and returns its result
// once the transaction has committed.
func (db *DB) groupWrite(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	g := &db.group
	op := &groupOp{fn: fn, done: make(chan error, 1), lead: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, op)
	if g.running {
		g.mu.Unlock()
		select {
		case err := <-op.done:
			return err
		case <-op.lead:
		}
	} else {
		g.running = true
		g.mu.Unlock()
	}
	db.leadBatch(ctx)
	return <-op.done
}

// leadBatch commits the queued writes (the leader's among them) and hands
// leadership to the first caller queued meanwhile.
func (db *DB) leadBatch(ctx context.Context) {
	g := &db.group
	g.mu.Lock()
	n := min(len(g.pending), maxGroup)
	batch := g.pending[:n:n]
	g.pending = g.pending[n:]
	g.mu.Unlock()

	// Other callers' writes must not fail because the leader gave up.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	db.runBatch(bctx, batch)
	cancel()

	g.mu.Lock()
	if len(g.pending) > 0 {
		close(g.pending[0].lead)
	} else {
		g.running = false
	}
	g.mu.Unlock()
}

// runBatch runs ops in one transaction, each in a savepoint (a lone op
// needs none). If the transaction itself fails (a lost race, a broken
// connection), each op is retried alone so that one bad write cannot sink
// the others.
func (db *DB) runBatch(ctx context.Context, batch []*groupOp) {
	if len(batch) == 1 {
		batch[0].done <- db.retryAlone(ctx, batch[0])
		return
	}
	results, err := db.tryBatch(ctx, batch)
	if err != nil {
		for _, op := range batch {
			op.done <- db.retryAlone(ctx, op)
		}
		return
	}
	for i, op := range batch {
		if db.retryable(results[i]) {
			results[i] = db.retryAlone(ctx, op) // lost a race inside the batch
		}
		op.done <- results[i]
	}
}

func (db *DB) tryBatch(ctx context.Context, batch []*groupOp) ([]error, error) {
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	results := make([]error, len(batch))
	for i, op := range batch {
		if _, err := db.txExec(ctx, tx, "SAVEPOINT op"); err != nil {
			return nil, err
		}
		if results[i] = op.fn(ctx, tx); results[i] != nil {
			if _, err := db.txExec(ctx, tx, "ROLLBACK TO SAVEPOINT op"); err != nil {
				return nil, err
			}
		}
		if _, err := db.txExec(ctx, tx, "RELEASE SAVEPOINT op"); err != nil {
			return nil, err
		}
	}
	return results, tx.Commit()
}

// retryAlone runs one op in its own transaction, retrying lost races.
func (db *DB) retryAlone(ctx context.Context, op *groupOp) error {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err = db.once(ctx, op.fn)
		if err == nil || !db.retryable(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

func (db *DB) once(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return db.classify(err)
	}
	defer tx.Rollback()
	if err := fn(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", db.classify(err))
	}
	return nil
}

// retryable reports whether err is a lost race worth running again.
func (db *DB) retryable(err error) bool {
	return err != nil && errors.Is(db.classify(err), store.ErrRetry)
}
