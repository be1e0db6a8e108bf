package fhirpath

import (
	"fmt"

	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
)

// Focus is the element an invariant is evaluated on.
type Focus struct {
	// Value is the jsontree value: *jsontree.Object, string, jsontree.Number,
	// bool, or nil (a primitive with only its _name companion).
	Value any
	// Ext is a primitive's _name companion, or nil.
	Ext *jsontree.Object
	// Type is the FHIR type code of the value: "ContactPoint",
	// "Organization", "string", "BackboneElement" for inline elements.
	Type string
	// Element is its element definition when known; required for backbone
	// (inline) elements, whose members come from Element.Fields.
	Element *r4.Element
}

// Check evaluates the expression as an invariant (FHIR R4
// conformance-rules.html#constraints): $this and the initial focus are the
// focus, %resource is resource (the resource holding the element — a
// contained resource for elements inside it), %rootResource is root (the
// outermost resource; equal to resource when not contained; nil means
// resource) and %context the focus.
//
// ok is false only when the result is the single boolean false. An empty
// result, true, or any single non-boolean item passes (FHIRPath singleton
// evaluation). More than one item, or an error during evaluation, returns
// err; errors.Is(err, ErrUnsupported) for memberOf and conformsTo.
//
// Under Check, | removes duplicates by value as the specification says;
// Evaluate removes only the same node reached twice, which search wants.
// A passing invariant that builds no strings and no large sets allocates
// nothing once the pools are warm.
func (e *Expr) Check(resource, root *jsontree.Object, focus Focus) (ok bool, err error) {
	if root == nil {
		root = resource
	}
	res, err := resourceNode(resource)
	if err != nil {
		return false, err
	}
	rootRes := res
	if root != resource {
		if rootRes, err = resourceNode(root); err != nil {
			return false, err
		}
	}
	f, err := focusNode(focus)
	if err != nil {
		return false, err
	}
	c := ctxPool.Get().(*ctx)
	c.focus[0], c.held[0], c.held[1] = f, res, rootRes
	c.res, c.rootRes = &c.held[0], &c.held[1]
	c.this, c.index, c.byValue = f, -1, true
	buf, err := e.root.eval(c, c.focus[:], c.get())
	ok = true
	switch {
	case err != nil:
		ok = false
	case len(buf) > 1:
		ok, err = false, fmt.Errorf("fhirpath: invariant %q gave %d items, want one boolean", e.src, len(buf))
	case len(buf) == 1:
		if b, isBool := buf[0].Value.(bool); isBool && !b {
			ok = false
		}
	}
	c.put(buf)
	c.release()
	return ok, err
}

// focusNode types the focus for navigation.
func focusNode(f Focus) (Node, error) {
	n := Node{Value: f.Value, Ext: f.Ext, Type: f.Type}
	switch {
	case f.Element != nil && f.Element.Backbone():
		n.info = elementInfo(f.Element, f.Type)
	case f.Type == "":
		return n, fmt.Errorf("fhirpath: focus has no type")
	case f.Type == "BackboneElement":
		return n, fmt.Errorf("fhirpath: backbone element focus without its element definition")
	default:
		n.info = lookupInfo(f.Type)
		if n.info == nil {
			return n, fmt.Errorf("fhirpath: focus type %q is not an R4 type, or a backbone element without its definition", f.Type)
		}
	}
	return n, nil
}
