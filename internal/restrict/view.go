package restrict

import (
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// View returns resource obj as v may see it, with rs = Parse(obj).
//
// visible is false, and out nil, when a restriction on the root does not
// permit v: the resource does not exist for v. Otherwise the hidden elements
// are removed (see the package documentation) and subsetted reports whether
// anything was; out is then a new tree sharing nothing with obj, tagged
// SUBSETTED, which the caller owns. When nothing is hidden out is obj
// itself. obj is never modified.
func View(obj *jsontree.Object, rs *Restrictions, v Viewer) (out *jsontree.Object, visible, subsetted bool) {
	return ViewBy(obj, rs, v.permits)
}

// ViewBy is View with the decision per rule given by permits instead of a
// Viewer: the store's reduced form of a viewer (permit keys), or the search
// indexer's "what would a viewer permitted by these rules see". permits is
// asked about rules in force and broken ones (Rule.Applies) only; a broken
// rule is whatever it answers, so a caller describing anyone but an
// operator answers false for it.
func ViewBy(obj *jsontree.Object, rs *Restrictions, permits func(*Rule) bool) (out *jsontree.Object, visible, subsetted bool) {
	if rs.None() {
		return obj, true, false
	}
	if !rs.PermitsBy(permits) {
		return nil, false, false
	}
	h := rs.HiddenBy(permits)
	if h.Empty() {
		return obj, true, false
	}
	out = jsontree.Clone(obj).(*jsontree.Object)

	// Find, before anything moves, the Consents that may be left unreferenced
	// and the nested resources that lose something.
	type orphan struct {
		scope, consent *jsontree.Object
	}
	var orphans []orphan
	seen := map[*Rule]bool{}
	for _, r := range rs.All {
		at, ok := rs.consents[r.Rule]
		if r.Root() || seen[r.Rule] || !ok || !h.Covers(r.Path) {
			continue
		}
		seen[r.Rule] = true
		sc, _ := resolve(out, at.scope).(*jsontree.Object)
		if sc == nil {
			continue
		}
		c, _ := sc.Get("contained")
		items, _ := c.([]any)
		if at.index < len(items) {
			if consent, ok := items[at.index].(*jsontree.Object); ok {
				orphans = append(orphans, orphan{sc, consent})
			}
		}
	}
	marks := []*jsontree.Object{out}
	for _, p := range h.paths {
		if s := nestedResource(out, p); s != nil {
			marks = append(marks, s)
		}
	}

	prune(out, buildTrie(h.paths), false)

	for _, o := range orphans {
		if !orphaned(o.scope, o.consent) {
			continue
		}
		items, _ := o.scope.Get("contained")
		kept := dropItem(items.([]any), o.consent)
		if len(kept) == 0 {
			o.scope.Delete("contained")
		} else {
			o.scope.Set("contained", kept)
		}
	}
	for _, m := range marks {
		if reachable(out, m) {
			fhir.MarkSubsetted(m)
		}
	}
	return out, true, true
}

// resolve returns the value at p in v, or nil.
func resolve(v any, p Path) any {
	for _, s := range p {
		switch x := v.(type) {
		case *jsontree.Object:
			if s.IsItem() {
				return nil
			}
			v, _ = x.Get(s.Key)
		case []any:
			if !s.IsItem() || s.Index >= len(x) {
				return nil
			}
			v = x[s.Index]
		default:
			return nil
		}
	}
	return v
}

// nestedResource returns the innermost resource other than root on the way
// to p that is not a contained one (a Bundle entry's resource), or nil.
func nestedResource(root *jsontree.Object, p Path) *jsontree.Object {
	var found *jsontree.Object
	var v any = root
	for i, s := range p[:len(p)-1] {
		v = resolve(v, Path{s})
		o, ok := v.(*jsontree.Object)
		if !ok {
			continue
		}
		if _, ok := o.String("resourceType"); ok && !(i >= 1 && p[i-1] == Member("contained") && s.IsItem()) {
			found = o
		}
	}
	return found
}

// reachable reports whether o is still in the tree v.
func reachable(v any, o *jsontree.Object) bool {
	switch x := v.(type) {
	case *jsontree.Object:
		if x == o {
			return true
		}
		for _, m := range x.Members {
			if reachable(m.Value, o) {
				return true
			}
		}
	case []any:
		for _, item := range x {
			if reachable(item, o) {
				return true
			}
		}
	}
	return false
}

// orphaned reports whether consent is still in sc's contained list and
// nothing in sc other than consent itself refers to it by "#id".
func orphaned(sc, consent *jsontree.Object) bool {
	items, _ := sc.Get("contained")
	list, _ := items.([]any)
	in := false
	for _, c := range list {
		in = in || c == consent
	}
	if !in {
		return false
	}
	id, _ := consent.String("id")
	return !refersTo(sc, "#"+id, consent, sc)
}

// refersTo reports whether v holds a reference member equal to ref, not
// counting what is inside skip or inside a nested resource that is not
// one of sc's contained (it has its own).
func refersTo(v any, ref string, skip, sc *jsontree.Object) bool {
	switch x := v.(type) {
	case *jsontree.Object:
		if x == skip {
			return false
		}
		if _, ok := x.String("resourceType"); ok && x != sc && !containedIn(sc, x) {
			return false
		}
		for _, m := range x.Members {
			if s, ok := m.Value.(string); ok && m.Key == "reference" && s == ref {
				return true
			}
			if refersTo(m.Value, ref, skip, sc) {
				return true
			}
		}
	case []any:
		for _, item := range x {
			if refersTo(item, ref, skip, sc) {
				return true
			}
		}
	}
	return false
}

func containedIn(sc, o *jsontree.Object) bool {
	items, _ := sc.Get("contained")
	list, _ := items.([]any)
	for _, c := range list {
		if c == o {
			return true
		}
	}
	return false
}

func dropItem(items []any, o *jsontree.Object) []any {
	out := make([]any, 0, len(items))
	for _, item := range items {
		if item != o {
			out = append(out, item)
		}
	}
	return out
}

// trie holds the paths to remove, by step.
type trie struct {
	drop  bool
	keys  map[string]*trie
	items map[int]*trie
}

func (t *trie) child(s Step) *trie {
	if s.IsItem() {
		if t.items == nil {
			t.items = map[int]*trie{}
		}
		if t.items[s.Index] == nil {
			t.items[s.Index] = &trie{}
		}
		return t.items[s.Index]
	}
	if t.keys == nil {
		t.keys = map[string]*trie{}
	}
	if t.keys[s.Key] == nil {
		t.keys[s.Key] = &trie{}
	}
	return t.keys[s.Key]
}

func (t *trie) add(p Path) {
	n := t
	for _, s := range p {
		n = n.child(s)
	}
	n.drop = true
}

// buildTrie returns the trie of paths, each with its companion: _x for a
// member x, _x[i] for an item x[i].
func buildTrie(paths []Path) *trie {
	t := &trie{}
	for _, p := range paths {
		t.add(p)
		n := len(p)
		last := p[n-1]
		switch {
		case !last.IsItem() && last.Key != "resourceType":
			t.add(append(append(Path{}, p[:n-1]...), Member("_"+last.Key)))
		case n >= 2 && !p[n-2].IsItem() && p[n-2].Key != "resourceType":
			t.add(append(append(Path{}, p[:n-2]...), Member("_"+p[n-2].Key), last))
		}
	}
	return t
}

// prune removes from v what t marks, in place, and reports whether v is
// left empty by it (an object or array that had something removed and has
// nothing left). In a companion array (under _x) an emptied item becomes
// null, to keep it aligned with x, and the array counts as empty when only
// nulls are left.
func prune(v any, t *trie, companion bool) (any, bool) {
	switch x := v.(type) {
	case *jsontree.Object:
		if t.keys == nil {
			return x, false
		}
		kept := x.Members[:0]
		for _, m := range x.Members {
			c := t.keys[m.Key]
			if c == nil {
				kept = append(kept, m)
				continue
			}
			if c.drop {
				continue
			}
			nv, empty := prune(m.Value, c, isCompanion(Member(m.Key)))
			if !empty {
				kept = append(kept, jsontree.Member{Key: m.Key, Value: nv})
			}
		}
		clear(x.Members[len(kept):])
		x.Members = kept
		return x, len(kept) == 0
	case []any:
		if t.items == nil {
			return x, false
		}
		kept := make([]any, 0, len(x))
		for i, item := range x {
			c := t.items[i]
			switch {
			case c == nil:
				kept = append(kept, item)
			case c.drop:
			default:
				nv, empty := prune(item, c, false)
				switch {
				case !empty:
					kept = append(kept, nv)
				case companion:
					kept = append(kept, nil)
				}
			}
		}
		if companion && allNull(kept) {
			return nil, true
		}
		return kept, len(kept) == 0
	}
	return v, false
}

func allNull(items []any) bool {
	for _, item := range items {
		if item != nil {
			return false
		}
	}
	return true
}
