package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/store"
)

// Log writes AuditEvents: each is committed as a link of the chain, with
// its bytes and the fields auditors search it by, searchable as soon as
// it is committed.
type Log struct {
	Dir    *directory.Directory
	Clock  clock.Clock
	Source Source
	// Stream, when set, receives records once committed (an external audit
	// repository, Syslog.Send). It must not block.
	Stream func(links []store.AuditLink)

	mu      sync.Mutex
	queue   []*commitOp
	running bool // a caller is leading a group commit

	// What the group commits did, for Stats.
	batches, records atomic.Int64
	busy             atomic.Int64 // nanoseconds spent in group commits
}

// Stats is what the group commits of a Log have done since it started.
type Stats struct {
	Batches int64         // group commits (transactions) run
	Records int64         // records they committed
	Busy    time.Duration // time spent in them, from begin to commit
}

// Stats reports the group commits so far: records per batch and time per
// batch show how well concurrent requests share their commits.
func (l *Log) Stats() Stats {
	return Stats{Batches: l.batches.Load(), Records: l.records.Load(), Busy: time.Duration(l.busy.Load())}
}

// commitOp is one caller's records waiting for a group commit.
type commitOp struct {
	records []store.AuditItem
	done    chan error
	lead    chan struct{} // closed when this caller must lead the next group
}

// maxGroup bounds one group commit (a huge group delays its first caller).
const maxGroup = 256

// ErrUnavailable wraps every failure to record: the request that needed
// the record must fail (fail-closed).
var ErrUnavailable = errors.New("audit trail unavailable")

// Commit records events durably and returns once they are committed.
// Concurrent callers share transactions, led by one of them: a caller
// that finds no commit running commits at once, on its own goroutine;
// callers arriving meanwhile queue, and the first of them leads the next
// group with everything queued by then. Nobody waits for a timer: an idle
// server commits each record at once, a busy one many per disk flush. The
// records are built on the caller's goroutine; only the insert is
// serialized.
func (l *Log) Commit(ctx context.Context, events ...*Event) error {
	if len(events) == 0 {
		return nil
	}
	records, err := l.prepare(events, l.Clock.Now())
	if err != nil {
		return err
	}
	op := &commitOp{records: records, done: make(chan error, 1), lead: make(chan struct{})}
	l.mu.Lock()
	l.queue = append(l.queue, op)
	if l.running {
		l.mu.Unlock()
		// Wait even if ctx ends: the outcome must be known before answering.
		select {
		case err := <-op.done:
			return err
		case <-op.lead:
		}
	} else {
		l.running = true
		l.mu.Unlock()
	}
	l.lead(context.WithoutCancel(ctx))
	return <-op.done
}

// lead commits the queued records (the leader's among them) as one group
// and hands leadership to the first caller queued meanwhile.
func (l *Log) lead(ctx context.Context) {
	l.mu.Lock()
	n := min(len(l.queue), maxGroup)
	group := l.queue[:n:n]
	l.queue = l.queue[n:]
	l.mu.Unlock()

	var records []store.AuditItem
	for _, op := range group {
		records = append(records, op.records...)
	}
	began := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	links, err := l.append(wctx, records)
	cancel()
	l.batches.Add(1)
	l.records.Add(int64(len(records)))
	l.busy.Add(int64(time.Since(began)))
	if err == nil && l.Stream != nil {
		l.Stream(links)
	}
	for _, op := range group {
		op.done <- err
	}

	l.mu.Lock()
	if len(l.queue) > 0 {
		close(l.queue[0].lead)
	} else {
		l.running = false
	}
	l.mu.Unlock()
}

// Check reports whether records can be written now (readiness).
func (l *Log) Check(ctx context.Context) error {
	return l.Dir.Store.AuditWritable(ctx)
}

// WriteTx records events in the caller's write transaction, so that they
// commit with the change they describe, or not at all. It returns their
// links, to stream once the transaction has committed.
func (l *Log) WriteTx(ctx context.Context, w *directory.Writer, events ...*Event) ([]store.AuditLink, error) {
	return l.ChainTx(ctx, w.Tx(), w.Now(), events...)
}

// ChainTx records events, stamped at now, in the caller's transaction,
// so that they commit with the change they describe, or not at all. The
// records are built and appended chainChunk at a time: those of a
// 10,000-entry transaction are never all in memory at once.
func (l *Log) ChainTx(ctx context.Context, tx store.Tx, now time.Time, events ...*Event) ([]store.AuditLink, error) {
	var all []store.AuditLink
	for len(events) > 0 {
		n := min(len(events), chainChunk)
		records, err := l.prepare(events[:n], now)
		if err != nil {
			return nil, err
		}
		links, err := tx.ChainAudit(ctx, records)
		if links, err = l.withBodies(links, records, err); err != nil {
			return nil, err
		}
		all = append(all, links...)
		events = events[n:]
	}
	return all, nil
}

// chainChunk is how many of a write's records ChainTx builds and appends
// at a time.
const chainChunk = 256

// prepare serializes records stamped at now, outside any transaction:
// the commit only appends them to the chain. Each is written straight as
// its bytes (Event.appendRecord), valid by construction.
func (l *Log) prepare(events []*Event, now time.Time) ([]store.AuditItem, error) {
	out := make([]store.AuditItem, 0, len(events))
	scratch := recordScratch.Get().(*[]byte)
	defer recordScratch.Put(scratch)
	for _, e := range events {
		id := l.Dir.NewID()
		*scratch = e.appendRecord((*scratch)[:0], l.Source, id, now)
		out = append(out, store.AuditItem{ID: id, Body: bytes.Clone(*scratch), Fields: e.fields(l.Source, now)})
	}
	return out, nil
}

// recordScratch holds buffers records are written into: each record then
// costs one allocation of its exact size, not the growth of a fresh buffer.
var recordScratch = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// append chains records in a transaction of their own.
func (l *Log) append(ctx context.Context, records []store.AuditItem) ([]store.AuditLink, error) {
	links, err := l.Dir.Store.AppendAudit(ctx, records)
	return l.withBodies(links, records, err)
}

// withBodies gives the links of records their bodies when they are
// streamed (Stream), or wraps the error that failed the append.
func (l *Log) withBodies(links []store.AuditLink, records []store.AuditItem, err error) ([]store.AuditLink, error) {
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if l.Stream == nil {
		return links, nil
	}
	for i := range links {
		links[i].Body = records[i].Body
	}
	return links, nil
}
