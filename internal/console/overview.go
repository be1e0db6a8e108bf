package console

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/store"
)

// overviewData is the overview page.
type overviewData struct {
	Database, Backend string
	Checks            []checkResult
	TimeSource        string
	Now               time.Time
	NTP               *clock.NTPStatus
	Head              *store.AuditLink
	Verification      *verifyState
	Figures           *figures
}

// figures are the overview's counts: whole types and a day of records,
// which take longer than a page may on a large directory, so they are
// counted in the background and shown with their time.
type figures struct {
	Counts      []typeCount
	Requests24h int64
	Failures24h int64
	At          time.Time
	Took        time.Duration
}

// figuresEvery is how old figures may be before an overview counts them
// again.
const figuresEvery = time.Minute

type checkResult struct {
	Name  string
	Error string
	Took  time.Duration
}

type typeCount struct {
	Type  string
	Count int64
}

// overview shows the database, readiness, the time source, the audit
// chain's head and last verification, resource counts and the last day's
// requests and failures.
func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := overviewData{Database: c.cfg.Database, Backend: c.cfg.Store.Backend(), TimeSource: c.cfg.Clock.Source(), Now: c.cfg.Clock.Now()}
	d.Checks = c.runChecks(ctx)
	if c.cfg.Monitor != nil {
		st := c.cfg.Monitor.Status()
		d.NTP = &st
	}
	head, err := c.cfg.Store.AuditHead(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if head.Seq > 0 {
		d.Head = &head
	}
	d.Verification = c.lastVerification()
	if d.Figures, err = c.currentFigures(ctx); err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "overview.html", "Overview", d)
}

// Run counts the overview's figures once, so that the first overview
// need not wait for them. Later overviews count them again, in the
// background, when they are older than figuresEvery: an idle console
// never loads the database.
func (c *Console) Run(ctx context.Context) {
	c.figMu.Lock()
	c.counting = true
	c.figMu.Unlock()
	if _, err := c.countFigures(ctx); err != nil && ctx.Err() == nil {
		c.log.WarnContext(ctx, "console: the overview's figures could not be counted", "err", err)
	}
}

// currentFigures are the latest figures: counted now if there are none
// yet, and counted again in the background when older than figuresEvery.
func (c *Console) currentFigures(ctx context.Context) (*figures, error) {
	c.figMu.Lock()
	f, stale := c.figures, c.figures == nil || c.cfg.Clock.Now().Sub(c.figures.At) > figuresEvery
	refresh := f != nil && stale && !c.counting
	if refresh {
		c.counting = true
	}
	c.figMu.Unlock()
	if f == nil {
		return c.countFigures(ctx)
	}
	if refresh {
		go func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), figuresEvery)
			defer cancel()
			if _, err := c.countFigures(cctx); err != nil {
				c.log.WarnContext(cctx, "console: the overview's figures could not be counted", "err", err)
			}
		}()
	}
	return f, nil
}

// countFigures counts the figures and keeps them.
func (c *Console) countFigures(ctx context.Context) (*figures, error) {
	defer func() {
		c.figMu.Lock()
		c.counting = false
		c.figMu.Unlock()
	}()
	began := time.Now()
	f := &figures{At: c.cfg.Clock.Now()}
	var err error
	if f.Counts, err = c.countTypes(ctx); err != nil {
		return nil, err
	}
	if f.Requests24h, f.Failures24h, err = c.lastDay(ctx, f.At); err != nil {
		return nil, err
	}
	f.Took = time.Since(began)
	c.figMu.Lock()
	c.figures = f
	c.figMu.Unlock()
	return f, nil
}

// runChecks runs the readiness checks, each bounded to 2 seconds.
func (c *Console) runChecks(ctx context.Context) []checkResult {
	out := make([]checkResult, len(c.cfg.Checks))
	for i, ch := range c.cfg.Checks {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		began := time.Now()
		err := ch.Run(cctx)
		cancel()
		out[i] = checkResult{Name: ch.Name, Took: time.Since(began)}
		if err != nil {
			out[i].Error = err.Error()
		}
	}
	return out
}

// countTypes counts each served type's current resources (the store's
// count of a whole type, as _summary=count answers it).
func (c *Console) countTypes(ctx context.Context) ([]typeCount, error) {
	out := make([]typeCount, 0, len(c.cfg.Types))
	for _, t := range c.cfg.Types {
		page, err := c.cfg.Store.Search(ctx, &store.Query{Types: []string{t}, Total: store.TotalAccurate, Viewer: store.SeeAll})
		if err != nil {
			return nil, err
		}
		out = append(out, typeCount{Type: t, Count: page.Total})
	}
	return out, nil
}

// lastDay counts the audit records of the last 24 hours and those whose
// outcome is a failure.
func (c *Console) lastDay(ctx context.Context, now time.Time) (all, failed int64, err error) {
	since := "ge" + now.Add(-24*time.Hour).UTC().Format(time.RFC3339)
	if all, err = c.count(ctx, store.AuditType, url.Values{"date": {since}}); err != nil {
		return 0, 0, err
	}
	failed, err = c.count(ctx, store.AuditType, url.Values{"date": {since}, "outcome": {"4,8,12"}})
	return all, failed, err
}

// count counts what FHIR search parameters q match on typ, seeing
// everything: the console's own figures, not an operator's search.
func (c *Console) count(ctx context.Context, typ string, q url.Values) (int64, error) {
	query, err := c.cfg.Search.Conditional(typ, q)
	if err != nil {
		return 0, err
	}
	query.Total, query.Viewer = store.TotalAccurate, store.SeeAll
	page, err := c.cfg.Store.Search(ctx, query)
	if err != nil {
		return 0, err
	}
	return page.Total, nil
}
