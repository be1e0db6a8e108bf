package restrict

import (
	"slices"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
)

// Viewer is who asks to see a resource. The zero Viewer is a client with no
// organization and no roles: it sees only unrestricted data.
type Viewer struct {
	// Operator marks a directory operator (a client registered with
	// --sees-restricted): every restriction permits it.
	Operator bool
	// Organization is the client's registered organization,
	// "Organization/acme".
	Organization string
	// Ancestors are the organizations Organization is partOf, directly or
	// further up, as "Organization/id". The caller resolves the chain once
	// per client (and stops at cycles).
	Ancestors []string
	// Roles are the client's registered roles, matched against
	// provision.securityLabel: "code", or "system|code".
	Roles []string
	// Membership returns the organizations ("Organization/id") that belong
	// to an actor reference as written in the Consent: for a CareTeam its
	// managingOrganization and Organization participants. It may be nil, and
	// may return nil for actors it does not know.
	Membership func(actorRef string) []string
}

// Permits reports whether r lets v see what it protects. See the package
// documentation for the rule. A broken rule permits operators only.
func (r *Rule) Permits(v Viewer) bool {
	if v.Operator {
		return true
	}
	if r.Err != nil {
		return false
	}
	for _, a := range r.Actors {
		if v.isOrg(a) {
			return true
		}
		if v.Membership == nil {
			continue
		}
		for _, m := range v.Membership(a) {
			if v.isOrg(m) {
				return true
			}
		}
	}
	for _, l := range r.Labels {
		if l.Code == "" {
			continue
		}
		for _, role := range v.Roles {
			if role == l.Code || (l.System != "" && role == l.System+"|"+l.Code) {
				return true
			}
		}
	}
	return false
}

// isOrg reports whether ref names v's organization or one of its ancestors.
func (v Viewer) isOrg(ref string) bool {
	if v.Organization == "" {
		return false
	}
	k := refKey(ref)
	return k != "" && (k == refKey(v.Organization) ||
		slices.ContainsFunc(v.Ancestors, func(a string) bool { return k == refKey(a) }))
}

// canonical returns a relative reference as Type/id, without a version;
// anything else (absolute URL, #id, not a reference) as written.
func canonical(ref string) string {
	r, err := fhir.ParseReference(ref)
	if err != nil || r.Kind != fhir.RefRelative {
		return ref
	}
	return r.Type + "/" + r.ID
}

// Permits reports whether every restriction on the resource root permits v:
// false means the resource does not exist for v.
func (rs *Restrictions) Permits(v Viewer) bool {
	return rs.PermitsBy(v.permits)
}

// PermitsBy is Permits with the decision per rule given by permits, which
// is asked about rules in force and broken ones (Rule.Applies) only.
func (rs *Restrictions) PermitsBy(permits func(*Rule) bool) bool {
	for _, r := range rs.All {
		if r.Root() && r.Rule.Applies() && !permits(r.Rule) {
			return false
		}
	}
	return true
}

// Hidden returns the elements hidden from v: those with a restriction in
// force that does not permit v. The root is never among them; ask Permits.
func (rs *Restrictions) Hidden(v Viewer) Hidden {
	return rs.HiddenBy(v.permits)
}

// HiddenBy is Hidden with the decision per rule given by permits, which is
// asked about rules in force and broken ones (Rule.Applies) only. A caller
// deciding by other means than a Viewer must itself let broken rules permit
// operators only.
func (rs *Restrictions) HiddenBy(permits func(*Rule) bool) Hidden {
	h := Hidden{Type: rs.Type}
	for _, r := range rs.All {
		if r.Root() || !r.Rule.Applies() || permits(r.Rule) {
			continue
		}
		h.paths = append(h.paths, r.Path)
	}
	// Keep only the outermost: what is under a hidden element goes with it.
	slices.SortFunc(h.paths, comparePaths)
	out := h.paths[:0]
	for _, p := range h.paths {
		if len(out) == 0 || !p.under(out[len(out)-1]) {
			out = append(out, p)
		}
	}
	h.paths = out
	return h
}

// permits is r.Permits(v), as a decision function for the By methods.
func (v Viewer) permits(r *Rule) bool { return r.Permits(v) }

// comparePaths orders paths so that a path comes before those under it:
// steps compared in turn, items by index, members by element name (x and _x
// alike, as under does), then shorter first.
func comparePaths(a, b Path) int {
	for i := range min(len(a), len(b)) {
		s, t := a[i], b[i]
		if s.Index != t.Index {
			return s.Index - t.Index
		}
		if c := strings.Compare(elementKey(s.Key), elementKey(t.Key)); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}
