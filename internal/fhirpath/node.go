package fhirpath

import "github.com/vhdir/vhdir/internal/jsontree"

// Node is one item of a result collection.
type Node struct {
	// Value is the jsontree value: string, jsontree.Number or bool for a
	// primitive, *jsontree.Object for a complex value or a resource; nil for
	// a primitive that has only an extension. For a resolve() placeholder it
	// is the Reference object.
	Value any
	// Ext is the `_name` companion of a primitive (its id and extensions).
	Ext *jsontree.Object
	// Type is the FHIR type code ("HumanName", "Reference", "code",
	// "Practitioner", "BackboneElement") or, for literals and computed values,
	// "System.String", "System.Boolean", "System.Integer", "System.Decimal",
	// "System.Date", "System.DateTime" or "System.Time".
	Type string

	info *typeInfo // nil for System values
	// at, pos and item say where the node sits in the resource (holding
	// object, member index, array index or -1) so that | can drop the same
	// node reached twice. at is nil for the root and for computed values.
	at   *jsontree.Object
	pos  int32
	item int32
}

// members returns the object holding the node's members: the value itself
// for complex values and resources, the _name companion for primitives
// (whose members are only id and extension).
func (n *Node) members() *jsontree.Object {
	if o, ok := n.Value.(*jsontree.Object); ok {
		return o
	}
	return n.Ext
}

// same reports whether a and b are the same node of the resource, or equal
// computed values. The type takes part so that a Reference and its resolve()
// placeholder stay distinct.
func same(a, b *Node) bool {
	if a.Type != b.Type {
		return false
	}
	if a.at != nil || b.at != nil {
		return a.at == b.at && a.pos == b.pos && a.item == b.item
	}
	switch av := a.Value.(type) {
	case *jsontree.Object:
		bv, ok := b.Value.(*jsontree.Object)
		return ok && av == bv
	case string:
		bv, ok := b.Value.(string)
		return ok && av == bv
	case jsontree.Number:
		bv, ok := b.Value.(jsontree.Number)
		return ok && av == bv
	case bool:
		bv, ok := b.Value.(bool)
		return ok && av == bv
	}
	return false
}

func boolNode(b bool) Node { return Node{Value: b, Type: "System.Boolean"} }

// isPlaceholder reports whether n is a resolve() placeholder: typed as a
// resource but holding the Reference it came from.
func (n *Node) isPlaceholder() bool { return n.info != nil && n.info.opaque }
