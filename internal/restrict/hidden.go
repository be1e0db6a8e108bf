package restrict

import (
	"slices"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// Hidden is the set of elements of one resource hidden from one viewer
// (Restrictions.Hidden). The search indexer needs it because FHIRPath results
// do not say where they came from; two ways are offered:
//
//   - Index what the viewer would see: the rows everyone may match are those
//     of View(obj, rs, Viewer{}), whose hidden values are gone. This is the
//     simple, complete way and works for primitives too.
//   - Index the whole resource once and ask, per result, whether it lies in
//     a hidden element: Nodes gives the objects at or under hidden elements
//     (and the companions of hidden primitives), so a fhirpath.Node is
//     hidden when its Value or its Ext is in the set. A primitive result
//     read out of a hidden object (Location.address.city) carries no
//     identity and cannot be told apart; use the first way for those.
type Hidden struct {
	// Type is the resource type, for CoversLocation.
	Type  string
	paths []Path // outermost only, sorted
}

// Paths returns the hidden elements' paths, outermost only: an element
// under another hidden one is not listed.
func (h Hidden) Paths() []Path { return h.paths }

// Empty reports whether nothing is hidden.
func (h Hidden) Empty() bool { return len(h.paths) == 0 }

// Covers reports whether the value at p lies at or under a hidden element.
// A companion counts as its primitive: _birthDate is covered when birthDate
// is hidden.
func (h Hidden) Covers(p Path) bool {
	for _, q := range h.paths {
		if p.under(q) {
			return true
		}
	}
	return false
}

// NodeSet holds JSON objects by identity.
type NodeSet map[*jsontree.Object]struct{}

// Has reports whether o is in the set. A nil o never is.
func (s NodeSet) Has(o *jsontree.Object) bool {
	if o == nil {
		return false
	}
	_, ok := s[o]
	return ok
}

// Nodes returns every object of obj, the resource h was computed for, at or
// under a hidden element, companions included.
func (h Hidden) Nodes(obj *jsontree.Object) NodeSet {
	set := NodeSet{}
	var walk func(v any, path Path)
	walk = func(v any, path Path) {
		if h.Covers(path) {
			collect(v, set)
			return
		}
		switch v := v.(type) {
		case *jsontree.Object:
			for _, m := range v.Members {
				walk(m.Value, append(path[:len(path):len(path)], Member(m.Key)))
			}
		case []any:
			for i, item := range v {
				walk(item, append(path[:len(path):len(path)], Item(i)))
			}
		}
	}
	if !h.Empty() {
		walk(obj, nil)
	}
	return set
}

func collect(v any, set NodeSet) {
	switch v := v.(type) {
	case *jsontree.Object:
		set[v] = struct{}{}
		for _, m := range v.Members {
			collect(m.Value, set)
		}
	case []any:
		for _, item := range v {
			collect(item, set)
		}
	}
}

// CoversLocation reports whether the element a VerificationResult's
// targetLocation names overlaps a hidden element: lies under one, or holds
// one. loc is a simple FHIRPath path, "Practitioner.qualification[0]" or
// "Practitioner.qualification.code"; a name without an index covers all
// items. An expression that is anything more, or names another type, is
// taken as covered whenever anything is hidden: failing closed.
func (h Hidden) CoversLocation(loc string) bool {
	if h.Empty() {
		return false
	}
	segs, ok := parseLocation(h.Type, loc)
	if !ok {
		return true
	}
	for _, p := range h.paths {
		hs, ok := segments(p)
		if !ok || overlaps(segs, hs) {
			return true
		}
	}
	return false
}

// Covering returns the rules a viewer must be permitted by to see the
// element at loc whole: those of the restrictions that apply (in force or
// broken) on that element, on an element inside it, or on an element
// containing it, each rule once, in document order. loc is read as
// CoversLocation reads a VerificationResult's targetLocation ("Location.address",
// "Location.telecom[0]"); one that is anything more, or names another type,
// is covered by every rule that applies to an element: failing closed.
// Rules on the root are not included: whoever sees the resource at all has
// passed them, and a caller that needs them adds them.
func (rs *Restrictions) Covering(loc string) []*Rule {
	segs, parsed := parseLocation(rs.Type, loc)
	var out []*Rule
	for _, r := range rs.All {
		if r.Root() || !r.Rule.Applies() || slices.Contains(out, r.Rule) {
			continue
		}
		if parsed {
			hs, ok := segments(r.Path)
			if ok && !overlaps(segs, hs) {
				continue
			}
		}
		out = append(out, r.Rule)
	}
	return out
}

// segment is one name of a path with its index, -1 for all items.
type segment struct {
	name  string
	index int
}

func parseLocation(typ, loc string) ([]segment, bool) {
	parts := strings.Split(loc, ".")
	if len(parts) == 0 || parts[0] != typ {
		return nil, false
	}
	var out []segment
	for _, part := range parts[1:] {
		name, idx, hasIdx := strings.Cut(part, "[")
		s := segment{name: name, index: -1}
		if hasIdx {
			n, ok := strings.CutSuffix(idx, "]")
			i, err := strconv.Atoi(n)
			if !ok || err != nil || i < 0 || n != strconv.Itoa(i) {
				return nil, false
			}
			s.index = i
		}
		if !isName(name) {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// segments writes p as names with indexes; false when p has two indexes in
// a row, which no FHIRPath location names.
func segments(p Path) ([]segment, bool) {
	var out []segment
	for _, s := range p {
		if s.IsItem() {
			if len(out) == 0 || out[len(out)-1].index >= 0 {
				return nil, false
			}
			out[len(out)-1].index = s.Index
			continue
		}
		out = append(out, segment{name: elementKey(s.Key), index: -1})
	}
	return out, true
}

// overlaps reports whether one of a and b is a prefix of the other, an
// index of -1 matching any.
func overlaps(a, b []segment) bool {
	for i := range min(len(a), len(b)) {
		if a[i].name != b[i].name {
			return false
		}
		if a[i].index >= 0 && b[i].index >= 0 && a[i].index != b[i].index {
			return false
		}
	}
	return true
}

// TargetOf returns what VerificationResult vr validates: its
// target[].reference values and its targetLocation expressions, as written.
// The caller shows vr only to a viewer who sees every target, and for whom
// no targetLocation is covered (Hidden.CoversLocation) in its target. A
// targetLocation applies to the targets together; with several targets the
// caller checks it against each.
func TargetOf(vr *jsontree.Object) (targets, locations []string) {
	for _, t := range objects(vr, "target") {
		if s, _ := t.String("reference"); s != "" {
			targets = append(targets, s)
		}
	}
	v, _ := vr.Get("targetLocation")
	items, _ := v.([]any)
	for _, item := range items {
		if s, ok := item.(string); ok && s != "" {
			locations = append(locations, s)
		}
	}
	return targets, locations
}
