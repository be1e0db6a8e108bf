package search

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/fhirpath"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/restrict"
	"github.com/vhdir/vhdir/internal/store"
)

// maxIndexedLen caps indexed strings: longer values are indexed by their
// first bytes (B-tree entries have size limits; nobody searches by the
// 513th character).
const maxIndexedLen = 512

// Index extracts the index rows of res by evaluating every search
// parameter of its type. When res carries usage restrictions in force
// (package restrict), the rows are split by who may match them and the
// Index's Restriction says how (see restrict.go); an unrestricted resource
// gets a nil Restriction. A resource with more distinct restrictions than
// the store can enforce is refused with a 422 *fhir.Error wrapping
// ErrTooManyRestrictions.
func (e *Engine) Index(res *fhir.Resource) (*store.Index, error) {
	rs := restrict.Parse(res.Obj)
	if !rs.None() {
		return e.indexRestricted(res.Type, res.Obj, rs)
	}
	return e.extract(res.Type, res.Obj)
}

// extract returns the index rows of obj, a resource of type typ.
func (e *Engine) extract(typ string, obj *jsontree.Object) (*store.Index, error) {
	m := e.reg.byType[typ]
	if m == nil {
		return &store.Index{}, nil
	}
	x := &extractor{base: e.base, idx: &store.Index{}}
	var nodes []fhirpath.Node
	for _, p := range e.reg.Params(typ) {
		var err error
		nodes, err = p.expr.EvaluateAppend(nodes[:0], obj)
		if err != nil {
			return nil, fmt.Errorf("search parameter %s: %w", p.URL, err)
		}
		for i := range nodes {
			x.node(p, &nodes[i])
		}
	}
	x.dedup()
	return x.idx, nil
}

type extractor struct {
	base string // server base URL, to recognise absolute references to itself
	idx  *store.Index
}

// dedup sorts each table's rows and drops repeats (a value reached by two
// paths, or written twice). Sorting a few dozen rows costs less than
// hashing each one into a set as it is found, and gives a stable order.
func (x *extractor) dedup() {
	ix := x.idx
	ix.Strings = sortCompact(ix.Strings, func(a, b store.StringValue) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), strings.Compare(a.Exact, b.Exact), strings.Compare(a.Norm, b.Norm))
	})
	ix.Tokens = sortCompact(ix.Tokens, func(a, b store.TokenValue) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), strings.Compare(a.Code, b.Code), strings.Compare(a.System, b.System))
	})
	ix.Refs = sortCompact(ix.Refs, func(a, b store.RefValue) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), strings.Compare(a.ID, b.ID), strings.Compare(a.Type, b.Type), strings.Compare(a.URL, b.URL))
	})
	ix.Dates = sortCompact(ix.Dates, func(a, b store.DateValue) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), cmp.Compare(a.Lo, b.Lo), cmp.Compare(a.Hi, b.Hi))
	})
	ix.Numbers = sortCompact(ix.Numbers, func(a, b store.NumberValue) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), cmp.Compare(a.Value, b.Value), cmp.Compare(a.Lo, b.Lo), cmp.Compare(a.Hi, b.Hi))
	})
	ix.Quantities = sortCompact(ix.Quantities, func(a, b store.QuantityValue) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), strings.Compare(a.Code, b.Code), strings.Compare(a.System, b.System),
			cmp.Compare(a.Value, b.Value), cmp.Compare(a.Lo, b.Lo), cmp.Compare(a.Hi, b.Hi))
	})
	ix.URIs = sortCompact(ix.URIs, func(a, b store.URIValue) int {
		return cmp.Or(cmp.Compare(a.Param, b.Param), strings.Compare(a.URI, b.URI))
	})
}

// sortCompact sorts rows and removes adjacent duplicates.
func sortCompact[T comparable](rows []T, compare func(a, b T) int) []T {
	if len(rows) < 2 {
		return rows
	}
	slices.SortFunc(rows, compare)
	return slices.Compact(rows)
}

func (x *extractor) node(p *Param, n *fhirpath.Node) {
	switch p.Type {
	case TypeString:
		x.strings(p, n)
	case TypeToken:
		x.tokens(p, n)
	case TypeReference:
		x.reference(p, n)
	case TypeDate:
		x.dates(p, n)
	case TypeNumber:
		x.number(p, n)
	case TypeQuantity:
		x.quantity(p, n)
	case TypeURI:
		if s, ok := n.Value.(string); ok {
			x.uri(p.ID, s)
		}
	case TypeSpecial:
		x.coords(p, n)
	}
}

func (x *extractor) addString(id int64, s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	s = truncate(s, maxIndexedLen)
	x.idx.Strings = append(x.idx.Strings, store.StringValue{Param: id, Norm: truncate(Normalize(s), maxIndexedLen), Exact: s})
}

func (x *extractor) strings(p *Param, n *fhirpath.Node) {
	switch v := n.Value.(type) {
	case string:
		x.addString(p.ID, v)
	case *jsontree.Object:
		switch n.Type {
		case "HumanName":
			for _, k := range []string{"text", "family", "given", "prefix", "suffix"} {
				eachString(v, k, func(s string) { x.addString(p.ID, s) })
			}
		case "Address":
			for _, k := range []string{"text", "line", "city", "district", "state", "postalCode", "country"} {
				eachString(v, k, func(s string) { x.addString(p.ID, s) })
			}
		}
	}
}

func (x *extractor) addToken(id int64, system, code string) {
	if code == "" && system == "" {
		return
	}
	system, code = truncate(system, maxIndexedLen), truncate(code, maxIndexedLen)
	x.idx.Tokens = append(x.idx.Tokens, store.TokenValue{Param: id, System: system, Code: code})
}

func (x *extractor) tokens(p *Param, n *fhirpath.Node) {
	switch v := n.Value.(type) {
	case string:
		x.addToken(p.ID, "", v)
	case bool:
		x.addToken(p.ID, "", strconv.FormatBool(v))
	case jsontree.Number:
		x.addToken(p.ID, "", string(v))
	case *jsontree.Object:
		switch n.Type {
		case "Coding":
			x.coding(p, v)
		case "CodeableConcept":
			eachObject(v, "coding", func(c *jsontree.Object) { x.coding(p, c) })
			if t, ok := v.String("text"); ok {
				x.addString(p.textID(), t)
			}
		case "Identifier":
			system, _ := v.String("system")
			value, _ := v.String("value")
			x.addToken(p.ID, system, value)
			if typ, ok := v.Object("type"); ok && value != "" {
				eachObject(typ, "coding", func(c *jsontree.Object) {
					ts, _ := c.String("system")
					tc, _ := c.String("code")
					x.addToken(p.ofTypeID(), ts, tc+"|"+value)
				})
			}
			if t, ok := v.Object("type"); ok {
				if text, ok := t.String("text"); ok {
					x.addString(p.textID(), text)
				}
			}
		case "ContactPoint":
			value, _ := v.String("value")
			x.addToken(p.ID, "", value)
		}
	}
}

func (x *extractor) coding(p *Param, c *jsontree.Object) {
	system, _ := c.String("system")
	code, _ := c.String("code")
	x.addToken(p.ID, system, code)
	if d, ok := c.String("display"); ok {
		x.addString(p.textID(), d)
	}
}

func (x *extractor) reference(p *Param, n *fhirpath.Node) {
	switch v := n.Value.(type) {
	case string: // canonical or uri holding a reference
		x.addRef(p.ID, v)
	case *jsontree.Object:
		if n.Type != "Reference" {
			return
		}
		if ref, ok := v.String("reference"); ok {
			x.addRef(p.ID, ref)
		}
		if ident, ok := v.Object("identifier"); ok {
			system, _ := ident.String("system")
			value, _ := ident.String("value")
			x.addToken(p.identifierID(), system, value)
		}
	}
}

func (x *extractor) addRef(id int64, raw string) {
	ref, err := fhir.ParseReference(raw)
	if err != nil {
		return
	}
	row := store.RefValue{Param: id}
	switch ref.Kind {
	case fhir.RefRelative:
		row.Type, row.ID = ref.Type, ref.ID
	case fhir.RefAbsolute:
		if ref.Type != "" && x.base != "" && strings.TrimSuffix(ref.Base, "/") == x.base {
			row.Type, row.ID = ref.Type, ref.ID // an absolute reference to this server
		} else {
			row.Type, row.ID, row.URL = ref.Type, ref.ID, truncate(raw, maxIndexedLen)
		}
	case fhir.RefURN:
		row.URL = raw
	default:
		return // contained references are not searchable across resources
	}
	x.idx.Refs = append(x.idx.Refs, row)
}

func (x *extractor) addDate(id int64, lo, hi int64) {
	x.idx.Dates = append(x.idx.Dates, store.DateValue{Param: id, Lo: lo, Hi: hi})
}

func (x *extractor) dates(p *Param, n *fhirpath.Node) {
	switch v := n.Value.(type) {
	case string:
		if lo, hi, err := DateRange(v); err == nil {
			x.addDate(p.ID, lo, hi)
		}
	case *jsontree.Object:
		switch n.Type {
		case "Period":
			lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
			if s, ok := v.String("start"); ok {
				if l, _, err := DateRange(s); err == nil {
					lo = l
				}
			}
			if s, ok := v.String("end"); ok {
				if _, h, err := DateRange(s); err == nil {
					hi = h
				}
			}
			if lo != math.MinInt64 || hi != math.MaxInt64 {
				x.addDate(p.ID, lo, hi)
			}
		case "Timing":
			eachString(v, "event", func(s string) {
				if lo, hi, err := DateRange(s); err == nil {
					x.addDate(p.ID, lo, hi)
				}
			})
		}
	}
}

func (x *extractor) number(p *Param, n *fhirpath.Node) {
	num, ok := n.Value.(jsontree.Number)
	if !ok {
		return
	}
	v, lo, hi, err := NumberRange(string(num))
	if err != nil {
		return
	}
	x.idx.Numbers = append(x.idx.Numbers, store.NumberValue{Param: p.ID, Value: v, Lo: lo, Hi: hi})
}

func (x *extractor) quantity(p *Param, n *fhirpath.Node) {
	o, ok := n.Value.(*jsontree.Object)
	if !ok {
		return
	}
	raw, _ := o.Get("value")
	num, ok := raw.(jsontree.Number)
	if !ok {
		return
	}
	v, lo, hi, err := NumberRange(string(num))
	if err != nil {
		return
	}
	var system, code string
	if n.Type == "Money" {
		system = "urn:iso:std:iso:4217"
		code, _ = o.String("currency")
	} else {
		system, _ = o.String("system")
		code, _ = o.String("code")
		if code == "" {
			code, _ = o.String("unit")
		}
	}
	x.idx.Quantities = append(x.idx.Quantities, store.QuantityValue{Param: p.ID, System: system, Code: code, Value: v, Lo: lo, Hi: hi})
}

func (x *extractor) uri(id int64, s string) {
	if s == "" {
		return
	}
	x.idx.URIs = append(x.idx.URIs, store.URIValue{Param: id, URI: truncate(s, maxIndexedLen)})
}

// coords indexes Location.position for near.
func (x *extractor) coords(p *Param, n *fhirpath.Node) {
	o, ok := n.Value.(*jsontree.Object)
	if !ok {
		return
	}
	lat, ok1 := numberMember(o, "latitude")
	lon, ok2 := numberMember(o, "longitude")
	if !ok1 || !ok2 || math.Abs(lat) > 90 || math.Abs(lon) > 180 {
		return
	}
	x.idx.Coords = append(x.idx.Coords, store.CoordValue{Param: p.ID, Lat: lat, Lon: lon})
}

func numberMember(o *jsontree.Object, key string) (float64, bool) {
	v, _ := o.Get(key)
	n, ok := v.(jsontree.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// eachString calls fn for the string member key of o, or for each string
// of an array member.
func eachString(o *jsontree.Object, key string, fn func(string)) {
	v, _ := o.Get(key)
	switch v := v.(type) {
	case string:
		fn(v)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				fn(s)
			}
		}
	}
}

// eachObject calls fn for the object member key of o, or for each object of
// an array member.
func eachObject(o *jsontree.Object, key string, fn func(*jsontree.Object)) {
	v, _ := o.Get(key)
	switch v := v.(type) {
	case *jsontree.Object:
		fn(v)
	case []any:
		for _, e := range v {
			if c, ok := e.(*jsontree.Object); ok {
				fn(c)
			}
		}
	}
}

// truncate cuts s to at most n bytes at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
