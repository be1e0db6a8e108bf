package main

import (
	"log"
	"slices"
	"strings"
	"unicode"
)

// reference is HL7's own per-element definitions of R4: dataelements.json,
// one StructureDefinition per element, published with 4.0.1 and shipped by
// Medplum unchanged. Medplum's snapshots differ from it on a few elements
// (AuditEvent.source.observer targets Bot and ClientApplication,
// DetectedIssue.status is bound to an R5 value set, the members of
// EvidenceVariable.characteristic are R5's); where it defines an element, its
// definition is R4's. It has no entry for a definition's root, its backbone
// elements or a data type's inherited id and extension; those stay as the
// snapshot has them.
type reference struct {
	elems map[string]element
	order []string // paths in file order, which is definition order
}

func loadReference(path string) (*reference, error) {
	sds, err := readSDs(path)
	if err != nil {
		return nil, err
	}
	r := &reference{elems: map[string]element{}}
	ambiguous := map[string]bool{}
	for _, s := range sds {
		for _, e := range s.Snapshot.Element {
			if _, dup := r.elems[e.Path]; dup {
				// Quantity's elements are defined again by its profiles
				// (SimpleQuantity, MoneyQuantity) under the same paths.
				ambiguous[e.Path] = true
				continue
			}
			r.elems[e.Path] = e
			r.order = append(r.order, e.Path)
		}
	}
	for p := range ambiguous {
		delete(r.elems, p)
	}
	r.order = slices.DeleteFunc(r.order, func(p string) bool { return ambiguous[p] })
	return r, nil
}

// correct replaces what s says of an element with what the reference says
// where the two differ, adds the elements of s's type that the reference
// defines, the FHIRPath.js model knows and s lacks, and drops the elements
// whose JSON names an added choice element takes.
func (r *reference) correct(s sd, o *official) sd {
	els := slices.Clone(s.Snapshot.Element)
	for i := range els {
		e := &els[i]
		d, ok := r.elems[e.Path]
		if !ok || i == 0 {
			continue
		}
		if !sameTypes(e.Type, d.Type) {
			log.Printf("corrected the types of %s from dataelements.json", e.Path)
			e.Type = d.Type
		}
		if e.Min != d.Min || e.Max != d.Max || e.IsSummary != d.IsSummary || e.IsModifier != d.IsModifier {
			log.Printf("corrected the cardinality or flags of %s from dataelements.json", e.Path)
			e.Min, e.Max, e.IsSummary, e.IsModifier = d.Min, d.Max, d.IsSummary, d.IsModifier
		}
		if !sameBinding(e.Binding, d.Binding) {
			log.Printf("corrected the binding of %s from dataelements.json", e.Path)
			e.Binding = d.Binding
		}
		if own := unsourced(e.Constraint); !slices.Equal(own, unsourced(d.Constraint)) {
			log.Printf("corrected the constraints of %s from dataelements.json", e.Path)
			e.Constraint = append(slices.DeleteFunc(slices.Clone(e.Constraint), func(c constraint) bool { return c.Source == "" }), d.Constraint...)
		}
	}
	for _, p := range r.order {
		parent, _ := cut(p)
		if !strings.HasPrefix(p, s.ID+".") || has(els, p) || !has(els, parent) || !o.paths[strings.TrimSuffix(p, "[x]")] {
			continue
		}
		log.Printf("added element %s from dataelements.json", p)
		els = slices.Insert(els, r.insertAt(els, p), r.elems[p])
		name, isChoice := strings.CutSuffix(p, "[x]")
		if !isChoice {
			continue
		}
		for _, t := range r.elems[p].Type {
			taken := name + upperFirst(t.Code)
			els = slices.DeleteFunc(els, func(e element) bool {
				if e.Path == taken || strings.HasPrefix(e.Path, taken+".") {
					log.Printf("dropped element %s: %s takes its JSON name", e.Path, p)
					return true
				}
				return false
			})
		}
	}
	s.Snapshot.Element = els
	return s
}

// insertAt is where p goes in els: after the subtree of the sibling that
// precedes it in the reference, or right after its parent.
func (r *reference) insertAt(els []element, p string) int {
	parent, _ := cut(p)
	after := parent
	for _, q := range r.order[:slices.Index(r.order, p)] {
		if qp, _ := cut(q); qp == parent && has(els, q) {
			after = q
		}
	}
	i := slices.IndexFunc(els, func(e element) bool { return e.Path == after })
	for i+1 < len(els) && strings.HasPrefix(els[i+1].Path, after+".") {
		i++
	}
	return i + 1
}

func cut(path string) (parent, name string) {
	i := strings.LastIndex(path, ".")
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

func has(els []element, path string) bool {
	return slices.ContainsFunc(els, func(e element) bool { return e.Path == path })
}

func sameTypes(a, b []elementType) bool {
	return slices.EqualFunc(a, b, func(x, y elementType) bool {
		return x.Code == y.Code && slices.Equal(x.TargetProfile, y.TargetProfile)
	})
}

func sameBinding(a, b *binding) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// unsourced lists the invariants an element declares itself, as comparable
// values.
func unsourced(cs []constraint) []constraint {
	var out []constraint
	for _, c := range cs {
		if c.Source == "" {
			out = append(out, c)
		}
	}
	return out
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
