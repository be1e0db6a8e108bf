package jsontree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParseRoundTrip(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"order kept", `{"resourceType":"Practitioner","id":"a","active":true}`, `{"resourceType":"Practitioner","id":"a","active":true}`},
		{"decimal lexeme kept", `{"latitude": -77.036560, "n": 1.50e3}`, `{"latitude":-77.036560,"n":1.50e3}`},
		{"whitespace dropped", " [ 1 , 2 ,\n null ] ", `[1,2,null]`},
		{"escapes normalised", `"a\/b\u0041\n\u00e9\ud83d\ude00"`, `"a/bA\né😀"`},
		{"html not escaped", `"<a href='x'>&</a>"`, `"<a href='x'>&</a>"`},
		{"control escaped", "\"\\u0001\"", `"\u0001"`},
		{"empty containers", `{"a":{},"b":[]}`, `{"a":{},"b":[]}`},
		{"line separator escaped", "\"\u2028\"", `"\u2028"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			if got := string(Marshal(v)); got != tt.want {
				t.Errorf("Marshal(Parse(%q)) = %s; want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, wantMsg string
		line, col         int
	}{
		{"duplicate key", `{"a":1,"a":2}`, `duplicate member "a"`, 1, 8},
		{"trailing comma", `{"a":1,}`, "member name", 1, 8},
		{"trailing data", `{} {}`, "data after", 1, 4},
		{"bad literal", `{"a":tru}`, "expected true", 1, 6},
		{"leading zero", `01`, "data after", 1, 2},
		{"bare dot", `1.`, "digit expected", 1, 3},
		{"unterminated", `"abc`, "unterminated", 1, 5},
		{"invalid utf8", "\"\xff\"", "UTF-8", 1, 2},
		{"lone surrogate", `"\ud800"`, "surrogate", 1, 8},
		{"bad escape", `"\x"`, "invalid escape", 1, 4},
		{"newline in string", "\"a\nb\"", "control character", 1, 3},
		{"second line", "{\n\"a\" 1}", "expected ':'", 2, 5},
		{"empty", ``, "end of input", 1, 1},
		{"too deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), "nesting", 1, MaxDepth + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %v; want a *SyntaxError", tt.in, err)
			}
			if !strings.Contains(se.Msg, tt.wantMsg) || se.Line != tt.line || se.Column != tt.col {
				t.Errorf("Parse(%q) = %q at %d:%d; want %q at %d:%d", tt.in, se.Msg, se.Line, se.Column, tt.wantMsg, tt.line, tt.col)
			}
		})
	}
}

// TestLimits: MaxNodes counts every value (member names not), accepts
// input at the limit and stops at the first value beyond it, naming its
// offset, before the value is built.
func TestLimits(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		offset   int // of the first value over the limit; -1: accepted
	}{
		{"unbounded", `[1,2,3]`, 0, -1},
		{"array at the limit", `[1,2,3]`, 4, -1},
		{"array over", `[1,2,3]`, 3, 5},
		{"scalar", `"x"`, 1, -1},
		{"members count their values only", `{"a":{"b":null},"c":[]}`, 4, -1},
		{"member over", `{"a":{"b":null},"c":[]}`, 3, 20},
		{"every kind counts", `[{},[],"",0,true,false,null]`, 7, 23},
		{"nested", `{"alias":["a","b","c","d"]}`, 5, 22},
		{"large array", "[" + strings.Repeat("0,", 999) + "0]", 1000, 1999},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Limits{MaxNodes: tt.max}.Parse([]byte(tt.in))
			if tt.offset < 0 {
				if err != nil {
					t.Fatalf("Limits{%d}.Parse(%q) = %v; want it accepted", tt.max, tt.in, err)
				}
				if n := Count(v); tt.max > 0 && n > tt.max {
					t.Errorf("Count(Parse(%q)) = %d; over the limit %d it passed", tt.in, n, tt.max)
				}
				return
			}
			var le *LimitError
			if !errors.As(err, &le) || le.MaxNodes != tt.max || le.Offset != tt.offset || v != nil {
				t.Fatalf("Limits{%d}.Parse(%q) = %v, %v; want a *LimitError at offset %d", tt.max, tt.in, v, err, tt.offset)
			}
			if !strings.Contains(le.Error(), fmt.Sprintf("more than %d JSON values", tt.max)) {
				t.Errorf("LimitError says %q; want it to name the limit", le.Error())
			}
		})
	}
	if _, err := (Limits{MaxNodes: 2}).ParseObject([]byte(`{"a":[1]}`)); !errors.As(err, new(*LimitError)) {
		t.Errorf("Limits{2}.ParseObject = %v; want a *LimitError", err)
	}
}

func TestLargeObjectDuplicate(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 1000 {
		b.WriteString(`"k`)
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(`":1,`)
	}
	b.WriteString(`"end":1}`)
	if _, err := Parse([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Fatalf("Parse(large object with repeated keys) = %v; want duplicate error", err)
	}
}

// writes records the size of each Write.
type writes struct {
	bytes.Buffer
	sizes []int
}

func (w *writes) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.Buffer.Write(p)
}

// TestEncode: Encode writes what Marshal returns, in pieces of about
// encodeChunk (a stored body of its own beyond that), and Marshal keeps no
// spare capacity.
func TestEncode(t *testing.T) {
	entries := make([]any, 3000)
	for i := range entries {
		o := &Object{}
		o.Set("fullUrl", "urn:uuid:"+strings.Repeat("0", 36))
		o.Set("resource", Raw(`{"resourceType":"Practitioner","id":"p","active":true}`))
		entries[i] = o
	}
	big := Raw(`"` + strings.Repeat("x", 3*encodeChunk) + `"`)
	bundle := &Object{}
	bundle.Set("resourceType", "Bundle")
	bundle.Set("entry", append(entries, big))
	var w writes
	if err := Encode(&w, bundle); err != nil {
		t.Fatal(err)
	}
	want := Marshal(bundle)
	if !bytes.Equal(w.Bytes(), want) {
		t.Fatalf("Encode wrote %d bytes unlike Marshal's %d", w.Len(), len(want))
	}
	if cap(want) > len(want)+len(want)/8 {
		t.Errorf("Marshal returned %d bytes in a slice of %d", len(want), cap(want))
	}
	if len(w.sizes) < 5 {
		t.Errorf("Encode wrote %d times; want the %d bytes in pieces", len(w.sizes), w.Len())
	}
	for i, n := range w.sizes {
		if n > 2*encodeChunk && n != len(big) {
			t.Errorf("write %d of %d bytes; want at most %d but for the large stored value", i, n, 2*encodeChunk)
		}
	}
}

func TestObjectEdits(t *testing.T) {
	o, err := ParseObject([]byte(`{"resourceType":"X","a":1,"b":2}`))
	if err != nil {
		t.Fatal(err)
	}
	o.Insert(1, "id", "n")
	o.Set("b", "two")
	o.Delete("a")
	o.Set("c", []any{true})
	if got, want := string(Marshal(o)), `{"resourceType":"X","id":"n","b":"two","c":[true]}`; got != want {
		t.Errorf("edited object = %s; want %s", got, want)
	}
}

func TestEqual(t *testing.T) {
	a, _ := Parse([]byte(`{"a":[1.0,"x"],"b":{"c":null}}`))
	b, _ := Parse([]byte(`{"b":{"c":null},"a":[1,"x"]}`))
	c, _ := Parse([]byte(`{"b":{"c":null},"a":["x",1]}`))
	if !Equal(a, b) {
		t.Errorf("Equal(reordered members, 1.0 vs 1) = false; want true")
	}
	if Equal(a, c) {
		t.Errorf("Equal(reordered array) = true; want false")
	}
	if !Equal(a, Clone(a)) {
		t.Errorf("Equal(v, Clone(v)) = false")
	}
}

func TestIndent(t *testing.T) {
	v, _ := Parse([]byte(`{"a":[1,{"b":2}],"c":{}}`))
	got := string(AppendIndent(nil, v))
	want := "{\n  \"a\": [\n    1,\n    {\n      \"b\": 2\n    }\n  ],\n  \"c\": {}\n}"
	if got != want {
		t.Errorf("AppendIndent = %q; want %q", got, want)
	}
}

// TestFixturesRoundTrip checks every IG example survives parse and encode
// with the same meaning as encoding/json sees it.
func TestFixturesRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../ig/examples/*.json")
	conf, _ := filepath.Glob("../ig/conformance/*.json")
	files = append(files, conf...)
	if len(files) == 0 {
		t.Skip("fixtures not found next to the repository")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := Parse(data)
		if err != nil {
			t.Errorf("Parse(%s): %v", f, err)
			continue
		}
		var want, got any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(Marshal(v), &got); err != nil {
			t.Fatalf("%s: re-encoded JSON does not parse: %v", f, err)
		}
		if !jsonEqual(want, got) {
			t.Errorf("%s: round trip changed the document", f)
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,"x\u00e9",true,null]}`, `"\ud83d\ude00"`, `[{"a":{"b":[]}}]`, `-0.0`} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("../ig/examples/*.json")
	for _, p := range files[:min(len(files), 5)] {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		stdValid := json.Valid(data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse error %v is not a *SyntaxError", err)
			}
			return
		}
		if !stdValid {
			t.Fatalf("Parse accepted %q that encoding/json rejects", data)
		}
		out := Marshal(v)
		var enc bytes.Buffer
		if err := Encode(&enc, v); err != nil || !bytes.Equal(enc.Bytes(), out) {
			t.Fatalf("Encode(%q) = %q, %v; want Marshal's %q", data, enc.Bytes(), err, out)
		}
		v2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse of %q failed: %v", out, err)
		}
		if !Equal(v, v2) {
			t.Fatalf("round trip changed %q into %q", data, out)
		}
	})
}

// FuzzParseLimits: a parse within a node limit accepts exactly the input
// whose tree holds at most that many values, builds the same tree as an
// unbounded parse, and refuses the rest with a *LimitError (or, where the
// input is malformed before the limit is reached, the syntax error).
func FuzzParseLimits(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,"x\u00e9",true,null]}`, `[[[]]]`, `{"alias":["a","b"]}`, `1`, `[1,}`} {
		for _, max := range []uint16{0, 1, 3, 7} {
			f.Add([]byte(s), max)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, max uint16) {
		lim := Limits{MaxNodes: int(max)}
		got, err := lim.Parse(data)
		want, werr := Parse(data)
		var le *LimitError
		switch {
		case errors.As(err, &le):
			if le.MaxNodes != lim.MaxNodes || lim.MaxNodes == 0 {
				t.Fatalf("Limits{%d}.Parse(%q) = %v; a LimitError for another limit", max, data, err)
			}
			if werr == nil && Count(want) <= lim.MaxNodes {
				t.Fatalf("Limits{%d}.Parse(%q) = %v; but it holds %d values", max, data, err, Count(want))
			}
		case err != nil:
			var se *SyntaxError
			if !errors.As(err, &se) || werr == nil {
				t.Fatalf("Limits{%d}.Parse(%q) = %v; the unbounded parse says %v", max, data, err, werr)
			}
		default:
			if werr != nil || !Equal(got, want) {
				t.Fatalf("Limits{%d}.Parse(%q) = %v; the unbounded parse gives %v, %v", max, data, Marshal(got), want, werr)
			}
			if n := Count(got); lim.MaxNodes > 0 && n > lim.MaxNodes {
				t.Fatalf("Limits{%d}.Parse(%q) accepted %d values", max, data, n)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("../ig/examples/practitioner-example-washington.json")
	if err != nil {
		b.Skip(err)
	}
	compact := Marshal(mustParse(b, data))
	for _, tt := range []struct {
		name string
		data []byte
	}{{"pretty", data}, {"compact", compact}} {
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(int64(len(tt.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(tt.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func mustParse(b *testing.B, data []byte) any {
	v, err := Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// nodeShapes are bodies of one shape each, n values long, for the cost of
// a node: arrays of short strings, of numbers, and of small objects.
func nodeShapes(n int) []struct {
	name  string
	data  []byte
	nodes int
} {
	var str, num, obj bytes.Buffer
	str.WriteString(`{"a":[`)
	num.WriteString(`{"a":[`)
	obj.WriteString(`{"a":[`)
	for i := range n {
		if i > 0 {
			str.WriteByte(',')
			num.WriteByte(',')
			obj.WriteByte(',')
		}
		fmt.Fprintf(&str, `"s%d"`, i%1000)
		fmt.Fprintf(&num, `%d.5`, i%1000)
		fmt.Fprintf(&obj, `{"system":"phone","value":"555-%04d"}`, i%10000)
	}
	for _, b := range []*bytes.Buffer{&str, &num, &obj} {
		b.WriteString(`]}`)
	}
	return []struct {
		name  string
		data  []byte
		nodes int
	}{
		{"strings", str.Bytes(), n + 2},
		{"numbers", num.Bytes(), n + 2},
		{"objects", obj.Bytes(), 3*n + 2},
	}
}

// BenchmarkNodeCost reports what one parsed value costs: allocated
// (B/node, garbage of the parse included) and kept by the tree
// (kept-B/node, the heap the tree holds after a collection).
func BenchmarkNodeCost(b *testing.B) {
	for _, tt := range nodeShapes(100_000) {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			var kept uint64
			var before, after runtime.MemStats
			var allocated uint64
			for b.Loop() {
				runtime.GC()
				runtime.ReadMemStats(&before)
				v, err := Parse(tt.data)
				if err != nil {
					b.Fatal(err)
				}
				runtime.ReadMemStats(&after)
				allocated += after.TotalAlloc - before.TotalAlloc
				runtime.GC()
				runtime.ReadMemStats(&after)
				kept += after.HeapAlloc - before.HeapAlloc
				runtime.KeepAlive(v)
			}
			b.ReportMetric(float64(allocated)/float64(b.N)/float64(tt.nodes), "B/node")
			b.ReportMetric(float64(kept)/float64(b.N)/float64(tt.nodes), "kept-B/node")
			b.ReportMetric(float64(len(tt.data))/float64(tt.nodes), "body-B/node")
		})
	}
}
