package jsontree

import (
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Raw is JSON that is already encoded; the encoder writes it verbatim. It
// lets a Bundle carry stored resources without decoding and re-encoding
// them. The caller guarantees it is valid JSON.
type Raw []byte

// Marshal returns the compact JSON encoding of v, in a slice no larger
// than it: what Marshal returns is often kept (a stored version, an audit
// record), and the spare capacity of a grown slice would be kept with it.
func Marshal(v any) []byte {
	b := Append(nil, v)
	if cap(b)-len(b) > len(b)/8 {
		b = append(make([]byte, 0, len(b)), b...)
	}
	return b
}

// Append appends the compact JSON encoding of v to dst. It accepts the types
// Parse produces plus the Go scalars int, int64, float64 and
// json-style strings; anything else panics, as it is a programming error.
func Append(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, x)
	case Number:
		return append(dst, x...)
	case Raw:
		return append(dst, x...)
	case string:
		return AppendString(dst, x)
	case *Object:
		dst = append(dst, '{')
		for i, m := range x.Members {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, m.Key)
			dst = append(dst, ':')
			dst = Append(dst, m.Value)
		}
		return append(dst, '}')
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = Append(dst, e)
		}
		return append(dst, ']')
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case float64:
		return strconv.AppendFloat(dst, x, 'g', -1, 64)
	default:
		panic(fmt.Sprintf("jsontree: cannot encode %T", v))
	}
}

// encodeChunk is the size at which Encode hands what it has encoded to its
// writer.
const encodeChunk = 32 << 10

// Encode writes the compact JSON encoding of v to w, as Append would
// produce it, in pieces of about 32 KiB: a large tree (a Bundle of many
// resources) goes out without its whole encoding ever being in memory.
func Encode(w io.Writer, v any) error {
	e := encoder{w: w, buf: make([]byte, 0, 2*encodeChunk)}
	e.value(v)
	e.flush()
	return e.err
}

type encoder struct {
	w   io.Writer
	buf []byte
	err error
}

func (e *encoder) flush() {
	if e.err == nil && len(e.buf) > 0 {
		_, e.err = e.w.Write(e.buf)
	}
	e.buf = e.buf[:0]
}

func (e *encoder) value(v any) {
	if e.err != nil {
		return
	}
	switch x := v.(type) {
	case *Object:
		e.buf = append(e.buf, '{')
		for i, m := range x.Members {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = AppendString(e.buf, m.Key)
			e.buf = append(e.buf, ':')
			e.value(m.Value)
		}
		e.buf = append(e.buf, '}')
	case []any:
		e.buf = append(e.buf, '[')
		for i, item := range x {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.value(item)
		}
		e.buf = append(e.buf, ']')
	case Raw:
		if len(x) < encodeChunk {
			e.buf = append(e.buf, x...)
			break
		}
		e.flush()
		if e.err == nil {
			_, e.err = e.w.Write(x)
		}
	default:
		e.buf = Append(e.buf, v)
	}
	if len(e.buf) >= encodeChunk {
		e.flush()
	}
}

// AppendIndent appends v encoded with two-space indentation.
func AppendIndent(dst []byte, v any) []byte { return appendIndent(dst, v, 0) }

func appendIndent(dst []byte, v any, level int) []byte {
	newline := func(dst []byte, level int) []byte {
		dst = append(dst, '\n')
		for range level {
			dst = append(dst, ' ', ' ')
		}
		return dst
	}
	switch x := v.(type) {
	case *Object:
		if len(x.Members) == 0 {
			return append(dst, "{}"...)
		}
		dst = append(dst, '{')
		for i, m := range x.Members {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = newline(dst, level+1)
			dst = AppendString(dst, m.Key)
			dst = append(dst, ": "...)
			dst = appendIndent(dst, m.Value, level+1)
		}
		dst = newline(dst, level)
		return append(dst, '}')
	case []any:
		if len(x) == 0 {
			return append(dst, "[]"...)
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = newline(dst, level+1)
			dst = appendIndent(dst, e, level+1)
		}
		dst = newline(dst, level)
		return append(dst, ']')
	case Raw:
		// Indent stored JSON too, so _pretty output is uniform.
		if parsed, err := Parse(x); err == nil {
			return appendIndent(dst, parsed, level)
		}
		return append(dst, x...)
	default:
		return Append(dst, v)
	}
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Unlike encoding/json it does not
// escape <, > and &: FHIR JSON is not embedded in HTML, and the stored bytes
// should stay as readable as the client sent them.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript consumers.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Clone returns a deep copy of v.
func Clone(v any) any {
	switch x := v.(type) {
	case *Object:
		c := &Object{Members: make([]Member, len(x.Members))}
		for i, m := range x.Members {
			c.Members[i] = Member{Key: m.Key, Value: Clone(m.Value)}
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = Clone(e)
		}
		return c
	default:
		return v
	}
}

// Equal reports whether a and b are the same JSON value. Object member order
// is ignored; numbers compare by numeric value, so 1.0 equals 1.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case *Object:
		y, ok := b.(*Object)
		if !ok || len(x.Members) != len(y.Members) {
			return false
		}
		for _, m := range x.Members {
			w, ok := y.Get(m.Key)
			if !ok || !Equal(m.Value, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case Number:
		y, ok := b.(Number)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		fx, err1 := x.Float64()
		fy, err2 := y.Float64()
		return err1 == nil && err2 == nil && fx == fy
	default:
		return a == b
	}
}
