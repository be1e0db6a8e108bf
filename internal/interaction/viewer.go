package interaction

import (
	"errors"
	"fmt"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/restrict"
	"github.com/vhdir/vhdir/internal/store"
)

// Viewer is the caller as usage restrictions (VhDir §Restricted Content)
// see it: a directory operator, or an organization with its place in the
// directory. A ViewerResolver makes it from the caller and the directory's
// own data. It is plain data, so that an export job can keep the viewer it
// was started by; Restrict and Store are the forms package restrict and
// the store judge it in.
type Viewer struct {
	// Operator sees everything: a client registered with
	// --sees-restricted.
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

// Restrict is v as package restrict decides on it (nil: a viewer with no
// organization).
func (v *Viewer) Restrict() restrict.Viewer {
	if v == nil {
		return restrict.Viewer{}
	}
	rv := restrict.Viewer{Operator: v.Operator, Organization: v.Organization, Ancestors: v.Ancestors, Roles: v.Roles}
	return rv.WithTeams(v.Teams)
}

// Store is v as the store checks it in queries (nil: only unrestricted
// data).
func (v *Viewer) Store() *store.Viewer {
	switch {
	case v == nil:
		return nil
	case v.Operator:
		return store.SeeAll
	}
	return &store.Viewer{Keys: restrict.ViewerKeys(v.Restrict(), v.Teams)}
}

// Body returns the body of version ver as v (nil: a viewer with no
// organization) may see it: the stored bytes when nothing is restricted,
// else the restricted view (elements removed, SUBSETTED) re-encoded.
// visible is false when the version's root is hidden from v by its own
// restrictions; the caller has already checked the store's Guard
// (store.RestrictStore.Visible), which also covers restrictions a
// VerificationResult inherits.
func (v *Viewer) Body(ver *store.Version) (body []byte, visible, subsetted bool, err error) {
	if !ver.Restricted || ver.Body == nil || v != nil && v.Operator {
		return ver.Body, true, false, nil
	}
	obj, err := jsontree.ParseObject(ver.Body)
	if err != nil {
		return nil, false, false, fmt.Errorf("%s/%s: stored body: %w", ver.Type, ver.ID, err)
	}
	out, visible, subsetted := restrict.View(obj, restrict.Parse(obj), v.Restrict())
	switch {
	case !visible:
		return nil, false, false, nil
	case !subsetted:
		return ver.Body, true, false, nil
	}
	return jsontree.Marshal(out), true, true, nil
}

// ErrHidden marks a 404 answered because a usage restriction hides the
// resource from the caller: the audit record says so; the client learns
// only that it is not known. Match it with errors.Is.
var ErrHidden = errors.New("hidden by a usage restriction")
