package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/store"
)

// Log writes AuditEvents: stored as resources (searchable like any other
// type) and appended to the chain in the same transaction.
type Log struct {
	Dir    *directory.Directory
	Clock  clock.Clock
	Source Source

	mu      sync.Mutex
	queue   []*commitOp
	running bool
}

// commitOp is one caller's records waiting for a group commit.
type commitOp struct {
	items []directory.Item
	done  chan error
}

// maxGroup bounds one group commit (a huge batch delays its first caller).
const maxGroup = 256

// ErrUnavailable wraps every failure to record: the request that needed
// the record must fail (fail-closed).
var ErrUnavailable = errors.New("audit trail unavailable")

// Commit records events durably and returns once they are committed.
// Concurrent callers share transactions: while one batch commits, the next
// gathers, so an idle server commits at once and a busy one commits many
// records per disk flush. The records are built and indexed on the
// caller's goroutine; only the insert is serialized.
func (l *Log) Commit(ctx context.Context, events ...*Event) error {
	if len(events) == 0 {
		return nil
	}
	items, err := l.prepare(events, l.Clock.Now())
	if err != nil {
		return err
	}
	op := &commitOp{items: items, done: make(chan error, 1)}
	l.mu.Lock()
	l.queue = append(l.queue, op)
	if !l.running {
		l.running = true
		go l.flush(context.WithoutCancel(ctx))
	}
	l.mu.Unlock()
	// Wait even if ctx ends: the outcome must be known before answering.
	return <-op.done
}

// flush commits queued records batch by batch until the queue is empty.
func (l *Log) flush(ctx context.Context) {
	for {
		l.mu.Lock()
		n := min(len(l.queue), maxGroup)
		batch := l.queue[:n:n]
		l.queue = l.queue[n:]
		if len(batch) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		var items []directory.Item
		for _, op := range batch {
			items = append(items, op.items...)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := l.Dir.Write(wctx, func(w *directory.Writer) error { return l.write(wctx, w, items) })
		cancel()
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		for _, op := range batch {
			op.done <- err
		}
	}
}

// WriteTx records events in the caller's write transaction, so that they
// commit with the change they describe, or not at all.
func (l *Log) WriteTx(ctx context.Context, w *directory.Writer, events ...*Event) error {
	items, err := l.prepare(events, w.Now())
	if err != nil {
		return err
	}
	return l.write(ctx, w, items)
}

// prepare renders, parses and indexes records stamped at now.
func (l *Log) prepare(events []*Event, now time.Time) ([]directory.Item, error) {
	items := make([]directory.Item, 0, len(events))
	for _, e := range events {
		body, err := e.resource(l.Source, now)
		if err != nil {
			return nil, fmt.Errorf("%w: render: %w", ErrUnavailable, err)
		}
		res, err := fhir.ParseResource(body)
		if err != nil {
			return nil, fmt.Errorf("%w: a record does not parse: %w", ErrUnavailable, err)
		}
		idx, err := l.Dir.Indexer.Index(res)
		if err != nil {
			return nil, fmt.Errorf("%w: index: %w", ErrUnavailable, err)
		}
		items = append(items, directory.Item{Res: res, Index: idx})
	}
	return items, nil
}

// write stores records and chains them, last in the transaction (the
// chain's lock is held until commit).
func (l *Log) write(ctx context.Context, w *directory.Writer, items []directory.Item) error {
	if len(items) == 0 {
		return nil
	}
	changes, err := w.PutAll(ctx, items)
	if err != nil {
		return fmt.Errorf("%w: store: %w", ErrUnavailable, err)
	}
	links := make([]store.AuditItem, len(changes))
	for i, c := range changes {
		links[i] = store.AuditItem{ID: c.ID, Body: c.Version.Body}
	}
	if err := w.Tx().ChainAudit(ctx, links); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}
