package fhir

import (
	"strconv"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// Bundle builds a Bundle resource. Entries may carry stored resources as
// jsontree.Raw, written out without re-encoding.
type Bundle struct {
	obj     *jsontree.Object
	links   []any
	entries []any
}

// NewBundle starts a Bundle of the given type (searchset, history,
// batch-response, transaction-response, …).
func NewBundle(typ, id string, timestamp string) *Bundle {
	b := &Bundle{obj: &jsontree.Object{}}
	b.obj.Set("resourceType", "Bundle")
	if id != "" {
		b.obj.Set("id", id)
	}
	b.obj.Set("type", typ)
	if timestamp != "" {
		b.obj.Set("timestamp", timestamp)
	}
	return b
}

// SetTotal sets Bundle.total.
func (b *Bundle) SetTotal(n int64) { b.obj.Set("total", jsontree.Number(strconv.FormatInt(n, 10))) }

// Link adds a Bundle.link.
func (b *Bundle) Link(relation, url string) {
	l := &jsontree.Object{}
	l.Set("relation", relation)
	l.Set("url", url)
	b.links = append(b.links, l)
}

// Entry adds a Bundle.entry built by the caller.
func (b *Bundle) Entry(e *jsontree.Object) { b.entries = append(b.entries, e) }

// Len returns the number of entries.
func (b *Bundle) Len() int { return len(b.entries) }

// Object returns the Bundle as a JSON tree.
func (b *Bundle) Object() *jsontree.Object {
	out := &jsontree.Object{Members: append([]jsontree.Member(nil), b.obj.Members...)}
	if len(b.links) > 0 {
		out.Set("link", b.links)
	}
	if len(b.entries) > 0 {
		out.Set("entry", b.entries)
	}
	return out
}
