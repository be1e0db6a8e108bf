package jsontree

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds nesting of objects and arrays. FHIR resources nest far less
// deeply (Questionnaire items are the deepest in practice); the bound stops a
// crafted body from exhausting the stack.
const MaxDepth = 200

// Number is a JSON number kept in its lexical form.
type Number string

// Float64 returns the number as a float64.
func (n Number) Float64() (float64, error) { return strconv.ParseFloat(string(n), 64) }

// Int64 returns the number as an int64 when it is written as an integer.
func (n Number) Int64() (int64, error) { return strconv.ParseInt(string(n), 10, 64) }

// Object is a JSON object with its members in document order.
type Object struct {
	Members []Member
}

// Member is one name/value pair of an Object.
type Member struct {
	Key   string
	Value any
}

// Get returns the value of member key.
func (o *Object) Get(key string) (any, bool) {
	for i := range o.Members {
		if o.Members[i].Key == key {
			return o.Members[i].Value, true
		}
	}
	return nil, false
}

// String returns the member key when it is a string.
func (o *Object) String(key string) (string, bool) {
	v, _ := o.Get(key)
	s, ok := v.(string)
	return s, ok
}

// Object returns the member key when it is an object.
func (o *Object) Object(key string) (*Object, bool) {
	v, _ := o.Get(key)
	m, ok := v.(*Object)
	return m, ok
}

// Set replaces the value of member key, or appends the member.
func (o *Object) Set(key string, v any) {
	for i := range o.Members {
		if o.Members[i].Key == key {
			o.Members[i].Value = v
			return
		}
	}
	o.Members = append(o.Members, Member{Key: key, Value: v})
}

// Insert sets member key at position pos (clamped), removing any earlier
// member of that name.
func (o *Object) Insert(pos int, key string, v any) {
	o.Delete(key)
	if pos < 0 {
		pos = 0
	}
	if pos > len(o.Members) {
		pos = len(o.Members)
	}
	o.Members = append(o.Members, Member{})
	copy(o.Members[pos+1:], o.Members[pos:])
	o.Members[pos] = Member{Key: key, Value: v}
}

// Delete removes member key; it reports whether it was present.
func (o *Object) Delete(key string) bool {
	for i := range o.Members {
		if o.Members[i].Key == key {
			o.Members = append(o.Members[:i], o.Members[i+1:]...)
			return true
		}
	}
	return false
}

// Len returns the number of members.
func (o *Object) Len() int { return len(o.Members) }

// SyntaxError describes malformed JSON.
type SyntaxError struct {
	Msg    string
	Offset int // byte offset of the problem
	Line   int // 1-based
	Column int // 1-based, in bytes
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at line %d column %d: %s", e.Line, e.Column, e.Msg)
}

// ErrTrailingData is wrapped by the error for input with data after the value.
var ErrTrailingData = errors.New("data after the JSON value")

// LimitError reports input holding more values than Limits.MaxNodes
// allows. The parse stops at the first value over the limit, so the tree
// is never built.
type LimitError struct {
	MaxNodes int
	Offset   int // byte offset of the first value over the limit
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("more than %d JSON values (objects, arrays, strings, numbers, true, false and null, each counted)", e.MaxNodes)
}

// Limits bound what one parse may build. The zero value bounds only the
// nesting (MaxDepth).
//
// A tree costs memory per value far beyond the bytes of its text: `"a",`
// is 4 bytes of input but a 16-byte slot in its array, a 16-byte string
// header and its bytes (BenchmarkNodeCost: about 36 bytes kept per short
// string or number, 50 per member of small objects), and what the caller
// then does per value (validation, index rows, FHIRPath collections) costs
// more again. The body size alone therefore does not bound the memory a
// request takes; the number of values does.
type Limits struct {
	// MaxNodes bounds the number of JSON values: every object, array,
	// string, number, true, false and null counts one (member names do
	// not: each belongs to its value). 0 means no bound.
	MaxNodes int
}

// Parse parses one JSON value filling the whole input (surrounding
// whitespace allowed) within l. Strings must be valid UTF-8.
func (l Limits) Parse(data []byte) (any, error) {
	p := parser{data: data, maxNodes: l.MaxNodes}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return nil, p.errorf("%v", ErrTrailingData)
	}
	return v, nil
}

// ParseObject parses data that must hold a JSON object, within l.
func (l Limits) ParseObject(data []byte) (*Object, error) {
	v, err := l.Parse(data)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*Object)
	if !ok {
		return nil, &SyntaxError{Msg: "expected a JSON object", Line: 1, Column: 1}
	}
	return o, nil
}

// Parse parses one JSON value filling the whole input (surrounding
// whitespace allowed), bounded only in depth. Strings must be valid UTF-8.
func Parse(data []byte) (any, error) { return Limits{}.Parse(data) }

// ParseObject parses data that must hold a JSON object, bounded only in
// depth.
func ParseObject(data []byte) (*Object, error) { return Limits{}.ParseObject(data) }

// Count returns the number of values in v as Limits.MaxNodes counts them.
func Count(v any) int {
	n := 1
	switch x := v.(type) {
	case *Object:
		for i := range x.Members {
			n += Count(x.Members[i].Value)
		}
	case []any:
		for _, e := range x {
			n += Count(e)
		}
	}
	return n
}

type parser struct {
	data []byte
	pos  int
	// nodes counts the values begun; past maxNodes (when positive) the
	// parse stops before the value is built.
	nodes, maxNodes int
	buf             []byte // scratch for strings with escapes
	// members and items are stacks of an object's members and an array's
	// items while they are parsed; each finished container is copied out
	// at its exact size, one allocation instead of repeated growth.
	members []Member
	items   []any
}

// keyCache holds recently seen member names. FHIR documents reuse a small
// vocabulary ("extension", "url", "valueString", …), so most keys are
// found here instead of being allocated again. Slots are atomic pointers:
// parsers on many goroutines share the cache, and a slot overwritten by
// another goroutine only costs a miss.
var keyCache [4096]atomic.Pointer[string]

func internKey(b []byte) string {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	slot := &keyCache[h%uint32(len(keyCache))]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	slot.Store(&s)
	return s
}

func (p *parser) errorf(format string, args ...any) error {
	line, col := 1, 1
	for i := 0; i < p.pos && i < len(p.data); i++ {
		if p.data[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &SyntaxError{Msg: fmt.Sprintf(format, args...), Offset: p.pos, Line: line, Column: col}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (any, error) {
	if p.pos >= len(p.data) {
		return nil, p.errorf("unexpected end of input")
	}
	if p.nodes++; p.maxNodes > 0 && p.nodes > p.maxNodes {
		return nil, &LimitError{MaxNodes: p.maxNodes, Offset: p.pos}
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.string()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	default:
		return nil, p.errorf("unexpected character %q", c)
	}
}

func (p *parser) literal(word string) error {
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		return p.errorf("invalid literal, expected %s", word)
	}
	p.pos += len(word)
	return nil
}

func (p *parser) object(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, p.errorf("nesting deeper than %d", MaxDepth)
	}
	p.pos++ // {
	base := len(p.members)
	defer func() { p.members = p.members[:base] }()
	var seen map[string]struct{} // only for large objects, where a linear scan would be quadratic
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return &Object{}, nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errorf("expected a member name in double quotes")
		}
		keyPos := p.pos
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		if p.isDuplicate(p.members[base:], &seen, key) {
			p.pos = keyPos
			return nil, p.errorf("duplicate member %q", key)
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errorf("expected ':' after member name")
		}
		p.pos++
		p.skipSpace()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		p.members = append(p.members, Member{Key: key, Value: v})
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.errorf("unexpected end of input in object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return &Object{Members: append([]Member(nil), p.members[base:]...)}, nil
		default:
			return nil, p.errorf("expected ',' or '}' in object")
		}
	}
}

func (p *parser) isDuplicate(members []Member, seen *map[string]struct{}, key string) bool {
	const linearLimit = 16
	if len(members) < linearLimit {
		for i := range members {
			if members[i].Key == key {
				return true
			}
		}
		return false
	}
	if *seen == nil {
		*seen = make(map[string]struct{}, 2*linearLimit)
		for _, m := range members {
			(*seen)[m.Key] = struct{}{}
		}
	}
	if _, dup := (*seen)[key]; dup {
		return true
	}
	(*seen)[key] = struct{}{}
	return false
}

func (p *parser) array(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, p.errorf("nesting deeper than %d", MaxDepth)
	}
	p.pos++ // [
	base := len(p.items)
	defer func() { p.items = p.items[:base] }()
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return []any{}, nil
	}
	for {
		p.skipSpace()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		p.items = append(p.items, v)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.errorf("unexpected end of input in array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return append([]any(nil), p.items[base:]...), nil
		default:
			return nil, p.errorf("expected ',' or ']' in array")
		}
	}
}

func (p *parser) number() (any, error) {
	start := p.pos
	d := p.data
	if p.pos < len(d) && d[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(d) && d[p.pos] == '0':
		p.pos++
	case p.pos < len(d) && d[p.pos] >= '1' && d[p.pos] <= '9':
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	default:
		return nil, p.errorf("invalid number")
	}
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		if p.pos >= len(d) || d[p.pos] < '0' || d[p.pos] > '9' {
			return nil, p.errorf("invalid number: digit expected after '.'")
		}
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if p.pos >= len(d) || d[p.pos] < '0' || d[p.pos] > '9' {
			return nil, p.errorf("invalid number: digit expected in exponent")
		}
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	}
	return Number(d[start:p.pos]), nil
}

// key parses a member name, interned when it has no escapes.
func (p *parser) key() (string, error) {
	start := p.pos + 1
	for i := start; i < len(p.data); i++ {
		c := p.data[i]
		if c == '"' {
			if !utf8.Valid(p.data[start:i]) {
				break // let string report it
			}
			p.pos = i + 1
			return internKey(p.data[start:i]), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	return p.string()
}

// string parses a JSON string starting at the opening quote.
func (p *parser) string() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	d := p.data
	// Fast path: no escapes, ASCII or valid UTF-8.
	for p.pos < len(d) {
		c := d[p.pos]
		if c == '"' {
			s := d[start:p.pos]
			p.pos++
			if !utf8.Valid(s) {
				p.pos = start
				return "", p.errorf("string is not valid UTF-8")
			}
			return string(s), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.errorf("control character in string")
		}
		p.pos++
	}
	if p.pos >= len(d) {
		return "", p.errorf("unterminated string")
	}
	buf := append(p.buf[:0], d[start:p.pos]...)
	for p.pos < len(d) {
		c := d[p.pos]
		switch {
		case c == '"':
			p.pos++
			p.buf = buf
			if !utf8.Valid(buf) {
				return "", p.errorf("string is not valid UTF-8")
			}
			return string(buf), nil
		case c < 0x20:
			return "", p.errorf("control character in string")
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		p.pos++ // backslash
		if p.pos >= len(d) {
			break
		}
		e := d[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate must be followed by an escaped low one.
				if p.pos+1 < len(d) && d[p.pos] == '\\' && d[p.pos+1] == 'u' {
					p.pos += 2
					r2, ok := p.hex4()
					if !ok {
						return "", p.errorf("invalid \\u escape")
					}
					r = utf16.DecodeRune(r, r2)
				} else {
					r = utf8.RuneError
				}
				if r == utf8.RuneError {
					return "", p.errorf("invalid UTF-16 surrogate pair in \\u escape")
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", p.errorf("invalid escape '\\%c'", e)
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if len(p.data)-p.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}
