package rest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/vhdir/vhdir/internal/fhir"
)

// largeBody is the size from which a body draws on the budget. Smaller
// bodies never wait: what they can cost is bounded by the node limits
// alone, and most requests that carry a body are far smaller.
const largeBody = 1 << 20

// bodyWait is how long a large body waits for room in the budget before
// it is refused with 503; bodyRetryAfter is what that answer suggests.
const (
	bodyWait       = 30 * time.Second
	bodyRetryAfter = 5 * time.Second
)

// bodyBudget bounds the bytes of large request bodies the server handles
// at once. The node limits bound what one body may cost; this bounds how
// many may cost it together. A body costs memory well beyond its bytes
// until it is answered — its tree, the resources stored from it, their
// index rows, Provenance and audit records, the response: three 16 MiB
// transactions of 10,000 resources sent together took the server to
// 560 MB on PostgreSQL when two ran at a time, 355 MB one at a time
// (TestLargeBodiesRSS), hence the default budget of one body of the
// largest size (--max-body). A large body takes its share (its
// Content-Length, or --max-body when it is sent without one) before it is
// read and keeps it until it is answered; one that finds no room waits up
// to bodyWait, in arrival order, then gets 503 with Retry-After. A body
// larger than the whole budget runs alone.
type bodyBudget struct {
	sem            *semaphore.Weighted
	total, maxBody int64
	wait           time.Duration
}

func newBodyBudget(total, maxBody int64) *bodyBudget {
	return &bodyBudget{sem: semaphore.NewWeighted(total), total: total, maxBody: maxBody, wait: bodyWait}
}

// errBusy refuses a large body the budget had no room for in time.
var errBusy = errors.New("the server is handling as many large request bodies as it may at once")

// admit wraps r's body so that reading it past largeBody first takes its
// share of the budget. The caller calls release once the request is
// answered.
func (b *bodyBudget) admit(r *http.Request) *budgetedBody {
	bb := &budgetedBody{ReadCloser: r.Body, budget: b, ctx: r.Context(), length: r.ContentLength}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = bb
	}
	return bb
}

// budgetedBody is a request body drawing on the budget.
type budgetedBody struct {
	io.ReadCloser
	budget *bodyBudget
	ctx    context.Context
	length int64 // Content-Length; -1 when not sent
	read   int64
	held   int64
	err    error
}

func (bb *budgetedBody) Read(p []byte) (int, error) {
	if bb.err != nil {
		return 0, bb.err
	}
	if bb.held == 0 {
		var need int64
		switch {
		case bb.length > largeBody:
			need = bb.length
		case bb.length < 0 && bb.read+int64(len(p)) > largeBody:
			need = bb.budget.maxBody // of unknown size: the most it may be
		}
		if need > 0 {
			if err := bb.take(min(need, bb.budget.maxBody, bb.budget.total)); err != nil {
				bb.err = err
				return 0, err
			}
		}
	}
	n, err := bb.ReadCloser.Read(p)
	bb.read += int64(n)
	return n, err
}

func (bb *budgetedBody) take(n int64) error {
	if bb.budget.sem.TryAcquire(n) {
		bb.held = n
		return nil
	}
	ctx, cancel := context.WithTimeout(bb.ctx, bb.budget.wait)
	defer cancel()
	if err := bb.budget.sem.Acquire(ctx, n); err != nil {
		if bb.ctx.Err() != nil {
			return bb.ctx.Err()
		}
		return errBusy
	}
	bb.held = n
	return nil
}

// release gives the body's share back.
func (bb *budgetedBody) release() {
	if bb.held > 0 {
		bb.budget.sem.Release(bb.held)
		bb.held = 0
	}
}

// busyError is the 503 for a body refused by the budget, carrying its
// Retry-After.
func busyError(err error) *fhir.Error {
	e := fhir.Errorf(http.StatusServiceUnavailable, fhir.IssueThrottled,
		"%v (together at most --body-budget bytes of bodies over %d bytes); retry in %v", errBusy, largeBody, bodyRetryAfter).Wrap(err)
	e.RetryAfter = bodyRetryAfter
	return e
}

// tooLarge is the 413 for a body over --max-body.
func tooLarge(limit int64) *fhir.Error {
	return fhir.Errorf(http.StatusRequestEntityTooLarge, fhir.IssueTooLong, "the request body is larger than this server's limit of %d bytes", limit)
}
