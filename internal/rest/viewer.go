package rest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/restrict"
	"github.com/vhdir/vhdir/internal/store"
)

// Viewer is the caller as usage restrictions (VhDir §Restricted Content)
// see it: a directory operator, or an organization with its place in the
// directory. It is resolved from the caller's registration and the
// directory's own data (see Server.Viewer), and is plain data so that an
// export job can keep the viewer it was started by.
type Viewer struct {
	// Operator sees everything (a client registered with
	// --sees-restricted, or a server without authorization).
	Operator bool `json:"operator,omitempty"`
	// Organization is the caller's registered organization, Organization/id.
	Organization string `json:"organization,omitempty"`
	// Ancestors are the organizations Organization is partOf, up the chain.
	Ancestors []string `json:"ancestors,omitempty"`
	// Teams are the CareTeams whose managing organization or participants
	// include Organization or an ancestor, CareTeam/id.
	Teams []string `json:"teams,omitempty"`
	// Roles are the caller's registered roles ("code" or "system|code"),
	// matched against a restriction's securityLabel.
	Roles []string `json:"roles,omitempty"`
}

// Restrict is v as package restrict decides on it.
func (v *Viewer) Restrict() restrict.Viewer {
	if v == nil {
		return restrict.Viewer{}
	}
	rv := restrict.Viewer{Operator: v.Operator, Organization: v.Organization, Ancestors: v.Ancestors, Roles: v.Roles}
	return rv.WithTeams(v.Teams)
}

// Store is v as the store checks it in queries.
func (v *Viewer) Store() *store.Viewer {
	switch {
	case v == nil:
		return nil
	case v.Operator:
		return store.SeeAll
	}
	return &store.Viewer{Keys: restrict.ViewerKeys(v.Restrict(), v.Teams)}
}

// viewerTTL is how long a resolved viewer is reused: a change of an
// organization's partOf or of a CareTeam's members reaches a client's view
// within this time.
const viewerTTL = 30 * time.Second

// maxAncestors bounds the partOf walk (and stops cycles).
const maxAncestors = 32

// viewers caches resolved viewers by who they were resolved for.
type viewers struct {
	mu sync.Mutex
	m  map[string]viewerEntry
}

type viewerEntry struct {
	v     *Viewer
	until time.Time
}

// Viewer returns the caller of ctx as usage restrictions see it: an
// operator when the server has no authorization or the caller's
// registration says so, else its organization resolved in the directory.
func (s *Server) Viewer(ctx context.Context) (*Viewer, error) {
	a := s.access(ctx)
	if a == nil || a.Operator {
		return &Viewer{Operator: true}, nil
	}
	key := a.Organization + "\x00" + strings.Join(a.Roles, "\x00")
	now := s.cfg.Clock.Now()
	s.viewers.mu.Lock()
	e, ok := s.viewers.m[key]
	s.viewers.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.v, nil
	}
	v, err := s.resolveViewer(ctx, a.Organization, a.Roles)
	if err != nil {
		return nil, fmt.Errorf("resolve the caller for usage restrictions: %w", err)
	}
	s.viewers.mu.Lock()
	if s.viewers.m == nil || len(s.viewers.m) > 10_000 {
		s.viewers.m = map[string]viewerEntry{}
	}
	s.viewers.m[key] = viewerEntry{v: v, until: now.Add(viewerTTL)}
	s.viewers.mu.Unlock()
	return v, nil
}

// resolveViewer looks up org's ancestors and teams.
func (s *Server) resolveViewer(ctx context.Context, org string, roles []string) (*Viewer, error) {
	v := &Viewer{Organization: org, Roles: slices.Clone(roles)}
	if org == "" {
		return v, nil
	}
	ancestors, err := s.ancestors(ctx, org)
	if err != nil {
		return nil, err
	}
	v.Ancestors = ancestors
	if v.Teams, err = s.teams(ctx, append([]string{org}, ancestors...)); err != nil {
		return nil, err
	}
	return v, nil
}

// ancestors walks Organization.partOf up from org.
func (s *Server) ancestors(ctx context.Context, org string) ([]string, error) {
	var out []string
	seen := map[string]bool{org: true}
	cur := org
	for range maxAncestors {
		id, ok := strings.CutPrefix(cur, "Organization/")
		if !ok {
			break
		}
		v, err := s.cfg.Store.Read(ctx, "Organization", id)
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
	r, err := fhir.ParseReference(ref)
	if err != nil || r.Kind != fhir.RefRelative || r.Type != "Organization" {
		return "", nil
	}
	return "Organization/" + r.ID, nil
}

// teams finds the CareTeams that orgs manage or take part in.
func (s *Server) teams(ctx context.Context, orgs []string) ([]string, error) {
	list := strings.Join(orgs, ",")
	var alts []store.Cond
	for _, param := range []string{"organization", "participant"} {
		c, err := s.cfg.Search.Filter("CareTeam", url.Values{param: {list}})
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
		page, err := s.cfg.Store.Search(ctx, q)
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

// errHidden marks a 404 answered because a usage restriction hides the
// resource from the caller (the audit record says so; the client learns
// only that it is not known).
var errHidden = errors.New("hidden by a usage restriction")

// IsHidden reports whether err is a 404 caused by a usage restriction.
func IsHidden(err error) bool { return errors.Is(err, errHidden) }

// visible reports whether viewer may see version v at all.
func (s *Server) visible(ctx context.Context, v *store.Version, viewer *Viewer) (bool, error) {
	if v.Guard == 0 || viewer != nil && viewer.Operator {
		return true, nil
	}
	rs, ok := s.cfg.Store.(store.RestrictStore)
	if !ok {
		return false, nil // fail closed: a store that cannot tell hides it
	}
	return rs.Visible(ctx, v, viewer.Store())
}

// ViewBody returns the body of version v as viewer (nil: a viewer with no
// organization) may see it: the stored
// bytes when nothing is restricted, else the restricted view (elements
// removed, SUBSETTED) re-encoded. visible is false when the version's root
// is hidden from viewer by its own restrictions; the caller has already
// checked the store's Guard (visible), which also covers restrictions a
// VerificationResult inherits.
func ViewBody(v *store.Version, viewer *Viewer) (body []byte, visible, subsetted bool, err error) {
	if !v.Restricted || v.Body == nil || viewer != nil && viewer.Operator {
		return v.Body, true, false, nil
	}
	obj, err := jsontree.ParseObject(v.Body)
	if err != nil {
		return nil, false, false, fmt.Errorf("%s/%s: stored body: %w", v.Type, v.ID, err)
	}
	out, visible, subsetted := restrict.View(obj, restrict.Parse(obj), viewer.Restrict())
	switch {
	case !visible:
		return nil, false, false, nil
	case !subsetted:
		return v.Body, true, false, nil
	}
	return jsontree.Marshal(out), true, true, nil
}

// RestrictionNote tells the audit trail what usage restrictions did to a
// response: the resources (Type/id) served with elements removed.
type RestrictionNote struct {
	Subsetted []string
}

func (n *RestrictionNote) subsetted(v *store.Version) {
	n.Subsetted = append(n.Subsetted, v.Type+"/"+v.ID)
}

// viewBody is ViewBody for a version r serves, noting a subsetted body in
// r's Restriction. A version not visible is one the store's filter
// already left out of lists; the caller skips it.
func (r *Response) viewBody(v *store.Version, viewer *Viewer) (body []byte, visible bool, err error) {
	body, visible, subsetted, err := ViewBody(v, viewer)
	if subsetted {
		r.Restriction.subsetted(v)
	}
	return body, visible, err
}
