package audit

import (
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
	running bool
	// coming counts requests under way that will call Commit (Arrive was
	// called, Commit not yet): the flusher waits a little for them rather
	// than commit a batch of one while seven more are a moment away.
	coming atomic.Int64
	kick   chan struct{}
	once   sync.Once

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
}

// maxGroup bounds one group commit (a huge batch delays its first caller).
const maxGroup = 256

// gatherWait is the longest a batch waits for records still being
// prepared (see Log.coming): less than one disk flush, so waiting never
// costs more than the commit it saves.
const gatherWait = time.Millisecond

// busyWait is how long a batch waits for callers yet to arrive after a
// shared batch (see gather).
const busyWait = 300 * time.Microsecond

// Arrive announces a request that will call Commit; every Arrive is
// followed by one Commit (with no events if there is nothing to record)
// or one Leave.
func (l *Log) Arrive() { l.coming.Add(1) }

// Leave withdraws an Arrive whose request will not Commit (it failed
// before it could).
func (l *Log) Leave() { l.coming.Add(-1) }

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
		l.settle()
		return nil
	}
	records, err := l.prepare(events, l.Clock.Now())
	if err != nil {
		l.settle()
		return err
	}
	l.once.Do(func() { l.kick = make(chan struct{}, 1) })
	op := &commitOp{records: records, done: make(chan error, 1)}
	l.mu.Lock()
	l.queue = append(l.queue, op)
	l.settle()
	if !l.running {
		l.running = true
		go l.flush(context.WithoutCancel(ctx))
	}
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	// Wait even if ctx ends: the outcome must be known before answering.
	return <-op.done
}

// settle ends an Arrive (never below zero: callers outside the
// middleware Commit without arriving).
func (l *Log) settle() {
	for {
		n := l.coming.Load()
		if n <= 0 || l.coming.CompareAndSwap(n, n-1) {
			return
		}
	}
}

// gather waits, at most gatherWait, while requests that will commit are
// still on their way, so that they join this batch. When the last batch
// was shared by several callers, it also waits a little (busyWait) for
// callers that have not arrived yet: on a busy server the next requests
// are a fraction of a commit away, and a batch of one would make each of
// them wait for a commit of its own.
func (l *Log) gather(lastBatch int) {
	deadline := time.NewTimer(gatherWait)
	defer deadline.Stop()
	var busy <-chan time.Time
	if lastBatch > 1 {
		t := time.NewTimer(busyWait)
		defer t.Stop()
		busy = t.C
	}
	for {
		l.mu.Lock()
		queued := len(l.queue)
		l.mu.Unlock()
		if queued >= maxGroup || busy == nil && l.coming.Load() == 0 {
			return
		}
		select {
		case <-l.kick:
		case <-busy:
			busy = nil
		case <-deadline.C:
			return
		}
	}
}

// flush commits queued records batch by batch until the queue is empty.
func (l *Log) flush(ctx context.Context) {
	last := 0
	for {
		l.gather(last)
		l.mu.Lock()
		n := min(len(l.queue), maxGroup)
		batch := l.queue[:n:n]
		last = n
		l.queue = l.queue[n:]
		if len(batch) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		var records []store.AuditItem
		for _, op := range batch {
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
		for _, op := range batch {
			op.done <- err
		}
	}
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
// so that they commit with the change they describe, or not at all.
func (l *Log) ChainTx(ctx context.Context, tx store.Tx, now time.Time, events ...*Event) ([]store.AuditLink, error) {
	records, err := l.prepare(events, now)
	if err != nil {
		return nil, err
	}
	if len(records) == 0 {
		return nil, nil
	}
	links, err := tx.ChainAudit(ctx, records)
	return withBodies(links, records, err)
}

// prepare serializes records stamped at now, outside any transaction:
// the commit only appends them to the chain. Each is written straight as
// its bytes (Event.appendRecord), valid by construction.
func (l *Log) prepare(events []*Event, now time.Time) ([]store.AuditItem, error) {
	out := make([]store.AuditItem, 0, len(events))
	for _, e := range events {
		id := l.Dir.NewID()
		out = append(out, store.AuditItem{ID: id, Body: e.appendRecord(make([]byte, 0, 1536), l.Source, id, now), Fields: e.fields(l.Source, now)})
	}
	return out, nil
}

// append chains records in a transaction of their own.
func (l *Log) append(ctx context.Context, records []store.AuditItem) ([]store.AuditLink, error) {
	links, err := l.Dir.Store.AppendAudit(ctx, records)
	return withBodies(links, records, err)
}

// withBodies gives the links of records their bodies (for Stream), or
// wraps the error that failed the append.
func withBodies(links []store.AuditLink, records []store.AuditItem, err error) ([]store.AuditLink, error) {
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	for i := range links {
		links[i].Body = records[i].Body
	}
	return links, nil
}
