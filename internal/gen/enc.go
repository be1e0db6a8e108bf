package gen

import (
	"strconv"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// enc appends compact JSON to b. A generator that never goes back needs to
// know only whether the object or array it is in already holds a member to
// place commas, so that is all enc tracks; the caller keeps the nesting
// balanced. Nothing here allocates once b has grown to a resource's size.
type enc struct {
	b    []byte
	more bool // the current object or array has a member: the next needs a comma
}

func (e *enc) comma() {
	if e.more {
		e.b = append(e.b, ',')
	}
}

// key writes "k": (k is a FHIR element name, never escaped).
func (e *enc) key(k string) {
	e.comma()
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

// str writes "k":"v".
func (e *enc) str(k, v string) {
	e.key(k)
	e.b = jsontree.AppendString(e.b, v)
	e.more = true
}

// int writes "k":v.
func (e *enc) int(k string, v int) {
	e.key(k)
	e.b = strconv.AppendInt(e.b, int64(v), 10)
	e.more = true
}

// bool writes "k":true or "k":false.
func (e *enc) bool(k string, v bool) {
	e.key(k)
	e.b = strconv.AppendBool(e.b, v)
	e.more = true
}

// dec writes "k":v as a FHIR decimal with prec fraction digits.
func (e *enc) dec(k string, v float64, prec int) {
	e.key(k)
	e.b = strconv.AppendFloat(e.b, v, 'f', prec, 64)
	e.more = true
}

// obj opens "k":{.
func (e *enc) obj(k string) {
	e.key(k)
	e.b = append(e.b, '{')
	e.more = false
}

// arr opens "k":[.
func (e *enc) arr(k string) {
	e.key(k)
	e.b = append(e.b, '[')
	e.more = false
}

// item opens an object inside an array.
func (e *enc) item() {
	e.comma()
	e.b = append(e.b, '{')
	e.more = false
}

// end closes an object.
func (e *enc) end() {
	e.b = append(e.b, '}')
	e.more = true
}

// endArr closes an array.
func (e *enc) endArr() {
	e.b = append(e.b, ']')
	e.more = true
}

// strItem writes a string inside an array.
func (e *enc) strItem(v string) {
	e.comma()
	e.b = jsontree.AppendString(e.b, v)
	e.more = true
}

// strList writes "k":["v"].
func (e *enc) strList(k, v string) {
	e.arr(k)
	e.strItem(v)
	e.endArr()
}

// open starts "k":" for a string built from pieces with add; close ends it.
// The pieces come from the generator's own tables and never need escaping.
func (e *enc) open(k string) {
	e.key(k)
	e.b = append(e.b, '"')
}

// openItem starts a string built from pieces inside an array.
func (e *enc) openItem() {
	e.comma()
	e.b = append(e.b, '"')
}

func (e *enc) add(s string) { e.b = append(e.b, s...) }

func (e *enc) addInt(n int) { e.b = strconv.AppendInt(e.b, int64(n), 10) }

// addPad writes n zero-padded to width digits.
func (e *enc) addPad(n, width int) { e.b = appendPad(e.b, n, width) }

func (e *enc) close() {
	e.b = append(e.b, '"')
	e.more = true
}

// appendPad appends n in decimal, zero-padded on the left to width digits.
func appendPad(b []byte, n, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(n), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
