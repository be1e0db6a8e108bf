// Package membership resolves where a caller's organization sits in the
// directory: the organizations it is partOf, up the chain, and the
// CareTeams they manage or take part in. Usage restrictions permit by
// exactly that (VhDir §Restricted Content), so Resolver is the server's
// interaction.ViewerResolver. Resolved viewers are cached briefly: a
// change of an organization's partOf or of a CareTeam's members reaches a
// client's view within TTL.
package membership

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/store"
)

// TTL is how long a resolved viewer is reused.
const TTL = 30 * time.Second

// maxAncestors bounds the partOf walk (and stops cycles).
const maxAncestors = 32

// maxCached bounds the cache; beyond it, it starts again empty.
const maxCached = 10_000

// Filters compiles search parameters into store conditions (package
// search's Engine).
type Filters interface {
	Filter(typ string, q url.Values) (store.Cond, error)
}

// Resolver resolves callers into viewers by the directory's data.
type Resolver struct {
	store   store.Store
	filters Filters
	clock   clock.Clock

	mu sync.Mutex
	m  map[string]entry
}

type entry struct {
	v     *interaction.Viewer
	until time.Time
}

// New returns a resolver reading st; every argument is required.
func New(st store.Store, filters Filters, clk clock.Clock) (*Resolver, error) {
	if st == nil || filters == nil || clk == nil {
		return nil, errors.New("membership: a store, search filters and a clock are required")
	}
	return &Resolver{store: st, filters: filters, clock: clk, m: map[string]entry{}}, nil
}

// Viewer returns c as usage restrictions see it: an operator when its
// registration says so, else its organization resolved in the directory.
func (r *Resolver) Viewer(ctx context.Context, c *interaction.Caller) (*interaction.Viewer, error) {
	if c.SeesRestricted {
		return &interaction.Viewer{Operator: true}, nil
	}
	key := c.Organization + "\x00" + strings.Join(c.Roles, "\x00")
	now := r.clock.Now()
	r.mu.Lock()
	e, ok := r.m[key]
	r.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.v, nil
	}
	v, err := r.resolve(ctx, c.Organization, c.Roles)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if len(r.m) > maxCached {
		clear(r.m)
	}
	r.m[key] = entry{v: v, until: now.Add(TTL)}
	r.mu.Unlock()
	return v, nil
}

// resolve looks up org's ancestors and teams.
func (r *Resolver) resolve(ctx context.Context, org string, roles []string) (*interaction.Viewer, error) {
	v := &interaction.Viewer{Organization: org, Roles: slices.Clone(roles)}
	if org == "" {
		return v, nil
	}
	ancestors, err := r.ancestors(ctx, org)
	if err != nil {
		return nil, err
	}
	v.Ancestors = ancestors
	if v.Teams, err = r.teams(ctx, append([]string{org}, ancestors...)); err != nil {
		return nil, err
	}
	return v, nil
}

// ancestors walks Organization.partOf up from org.
func (r *Resolver) ancestors(ctx context.Context, org string) ([]string, error) {
	var out []string
	seen := map[string]bool{org: true}
	cur := org
	for range maxAncestors {
		id, ok := strings.CutPrefix(cur, "Organization/")
		if !ok {
			break
		}
		v, err := r.store.Read(ctx, "Organization", id)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrGone) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", cur, err)
		}
		parent, err := partOf(v.Body)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", cur, err)
		}
		if parent == "" || seen[parent] {
			break
		}
		seen[parent] = true
		out = append(out, parent)
		cur = parent
	}
	return out, nil
}

// partOf returns Organization.partOf as Organization/id ("" when absent or
// not a local reference).
func partOf(body []byte) (string, error) {
	obj, err := jsontree.ParseObject(body)
	if err != nil {
		return "", err
	}
	p, ok := obj.Object("partOf")
	if !ok {
		return "", nil
	}
	ref, _ := p.String("reference")
	ref2, err := fhir.ParseReference(ref)
	if err != nil || ref2.Kind != fhir.RefRelative || ref2.Type != "Organization" {
		return "", nil
	}
	return "Organization/" + ref2.ID, nil
}

// teams finds the CareTeams that orgs manage or take part in.
func (r *Resolver) teams(ctx context.Context, orgs []string) ([]string, error) {
	list := strings.Join(orgs, ",")
	var alts []store.Cond
	for _, param := range []string{"organization", "participant"} {
		c, err := r.filters.Filter("CareTeam", url.Values{param: {list}})
		if err != nil {
			// A registry without the parameter has no such membership.
			continue
		}
		alts = append(alts, c)
	}
	if len(alts) == 0 {
		return nil, nil
	}
	q := &store.Query{Types: []string{"CareTeam"}, Where: store.AnyOf(alts...), Count: 1000, Viewer: store.SeeAll}
	var out []string
	for {
		page, err := r.store.Search(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("find the CareTeams of %s: %w", orgs[0], err)
		}
		for _, v := range page.Versions {
			out = append(out, "CareTeam/"+v.ID)
		}
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
