package restrict

import (
	"slices"
	"strings"
)

// Permit keys are the reduced form in which the store enforces rules
// (store.Restriction): a rule becomes the list of keys a viewer can hold to
// be permitted by it (Rule.Keys), a viewer the list of keys it holds
// (ViewerKeys), and the viewer is permitted by the rule exactly when the two
// lists share a key. The keys are
//
//   - an organization or actor reference, canonical as Permits compares
//     them: "Organization/acme", "CareTeam/blue" (a relative reference as
//     Type/id without a version; anything else as written);
//   - a security label: "label:<code>", and "label:<system>|<code>" when the
//     label has a system.
//
// A reference that itself begins with "label:" is never a key, on either
// side, so that it cannot be mistaken for a label: such an actor permits
// only operators.
const labelPrefix = "label:"

// Keys returns the permit keys of r, sorted and without repeats: a viewer
// holding one of them (ViewerKeys) is permitted by r. A broken rule has no
// keys (only viewers that see everything pass it), nor has a rule whose
// actors have only a display and whose labels have no code, as in the IG
// examples.
func (r *Rule) Keys() []string {
	if r.Err != nil {
		return nil
	}
	var keys []string
	for _, a := range r.Actors {
		if k := refKey(a); k != "" {
			keys = append(keys, k)
		}
	}
	for _, l := range r.Labels {
		if l.Code == "" {
			continue
		}
		keys = append(keys, labelPrefix+l.Code)
		if l.System != "" {
			keys = append(keys, labelPrefix+l.System+"|"+l.Code)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// ViewerKeys returns the permit keys v holds, sorted and without repeats:
// its organization and ancestors; teams, the actor references the caller
// found v's organization (or an ancestor) to be a member of, as
// Viewer.Membership would say ("CareTeam/blue"); and each role as
// "label:<role>". A viewer without an organization holds only its role
// keys, as Permits grants nothing by organization to it. Operators are not
// described by keys: the store's Viewer.All covers them.
func ViewerKeys(v Viewer, teams []string) []string {
	var keys []string
	if v.Organization != "" {
		for _, ref := range [][]string{{v.Organization}, v.Ancestors, teams} {
			for _, s := range ref {
				if k := refKey(s); k != "" {
					keys = append(keys, k)
				}
			}
		}
	}
	for _, role := range v.Roles {
		keys = append(keys, labelPrefix+role)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// refKey returns the key of a reference: canonical, "" when it has none.
func refKey(ref string) string {
	if ref == "" {
		return ""
	}
	k := canonical(ref)
	if k == "" || strings.HasPrefix(k, labelPrefix) {
		return ""
	}
	return k
}

// WithTeams returns v with a Membership making its organization a member of
// each of teams, the actor references given to ViewerKeys, compared as keys
// are (Type/id without a version). Permits then answers as the keys do:
// a caller holding resolved teams should build its Viewer this way rather
// than compare references as written.
func (v Viewer) WithTeams(teams []string) Viewer {
	set := make(map[string]bool, len(teams))
	for _, t := range teams {
		if k := refKey(t); k != "" {
			set[k] = true
		}
	}
	org := v.Organization
	v.Membership = func(actor string) []string {
		if org != "" && set[refKey(actor)] {
			return []string{org}
		}
		return nil
	}
	return v
}
