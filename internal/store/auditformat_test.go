package store_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/store"
)

// formatDoc is the audit chain's byte format, which outside verifiers
// are written from.
const formatDoc = "../../docs/format/audit-chain.md"

// vectorLink is one link of the doc's test vector.
type vectorLink struct {
	seq               int64
	id                string
	body              []byte
	prev, input, hash []byte
}

// readVector returns the links of the doc's ```audit-chain-vector block:
// "key=value" lines, value the rest of the line, a blank line between
// links.
func readVector(t *testing.T) []vectorLink {
	t.Helper()
	text, err := os.ReadFile(formatDoc)
	if err != nil {
		t.Fatal(err)
	}
	var links []vectorLink
	var cur map[string]string
	in := false
	flush := func() {
		if cur == nil {
			return
		}
		var l vectorLink
		var err error
		if l.seq, err = strconv.ParseInt(cur["seq"], 10, 64); err != nil {
			t.Fatalf("%s: seq %q: %v", formatDoc, cur["seq"], err)
		}
		l.id, l.body = cur["id"], []byte(cur["body"])
		for key, dst := range map[string]*[]byte{"prev": &l.prev, "input": &l.input, "hash": &l.hash} {
			v, ok := cur[key]
			if !ok {
				t.Fatalf("%s: link %d has no %s line", formatDoc, l.seq, key)
			}
			if *dst, err = hex.DecodeString(v); err != nil {
				t.Fatalf("%s: link %d: %s: %v", formatDoc, l.seq, key, err)
			}
		}
		links = append(links, l)
		cur = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "```audit-chain-vector":
			in = true
		case in && line == "```":
			flush()
			in = false
		case in && strings.TrimSpace(line) == "":
			flush()
		case in:
			key, value, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: vector line %q is not key=value", formatDoc, line)
			}
			if cur == nil {
				cur = map[string]string{}
			}
			cur[key] = value
		}
	}
	if len(links) < 2 {
		t.Fatalf("%s: want a test vector of at least 2 links, found %d", formatDoc, len(links))
	}
	return links
}

// docHashInput builds the hash input from the doc's byte table alone,
// without store.AuditHash: each field an unsigned 64-bit big-endian
// length followed by its bytes, except seq, which is its 8 bytes alone.
func docHashInput(prev []byte, seq int64, id string, body []byte) []byte {
	var b []byte
	field := func(p []byte) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
		b = append(b, p...)
	}
	field([]byte("vhdir-audit-chain-v1"))
	field(prev)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	field([]byte(id))
	field(body)
	return b
}

// TestAuditFormatVector checks the test vector of docs/format/audit-chain.md
// against store.AuditHash and against an implementation of the doc's byte
// table, so that the doc, the code and an outside verifier agree.
func TestAuditFormatVector(t *testing.T) {
	links := readVector(t)
	var prev []byte
	for i, l := range links {
		if l.seq != int64(i+1) {
			t.Errorf("link %d: seq = %d, want %d (from 1, without gaps)", i, l.seq, i+1)
		}
		if !bytes.Equal(l.prev, prev) {
			t.Errorf("link %d: prev = %x, want the hash of the link before (%x; empty for the first)", l.seq, l.prev, prev)
		}
		if got := store.AuditHash(l.prev, l.seq, l.id, l.body); !bytes.Equal(got, l.hash) {
			t.Errorf("link %d: store.AuditHash = %x, the doc says %x", l.seq, got, l.hash)
		}
		input := docHashInput(l.prev, l.seq, l.id, l.body)
		if !bytes.Equal(input, l.input) {
			t.Errorf("link %d: hash input from the byte table =\n%x\nthe doc says\n%x", l.seq, input, l.input)
		}
		if sum := sha256.Sum256(l.input); !bytes.Equal(sum[:], l.hash) {
			t.Errorf("link %d: SHA-256 of the doc's input = %x, the doc's hash is %x", l.seq, sum, l.hash)
		}
		prev = l.hash
	}
}

// TestParseAuditRef: a Type/id (or Type/id/_history/n) reference is a local
// one; anything else, a URL.
func TestParseAuditRef(t *testing.T) {
	for _, tt := range []struct {
		ref     string
		typ, id string // empty: a URL
	}{
		{"Practitioner/p1", "Practitioner", "p1"},
		{"Practitioner/p1/_history/3", "Practitioner", "p1"},
		{"Practitioner/p1/_history/", "Practitioner", "p1"},
		{"Practitioner/p1/_history", "", ""},
		{"Practitioner/p1/_history/3/x", "", ""},
		{"Practitioner/p1/x", "", ""},
		{"Practitioner", "", ""},
		{"/p1", "", ""},
		{"Practitioner/", "", ""},
		{"urn:uuid:1/x", "", ""},
		{"https://other.example/fhir/Practitioner/p1", "", ""},
		{"", "", ""},
	} {
		got := store.ParseAuditRef(tt.ref, true)
		want := store.AuditRef{Entity: true, URL: tt.ref}
		if tt.typ != "" {
			want = store.AuditRef{Entity: true, Type: tt.typ, ID: tt.id}
		}
		if got != want {
			t.Errorf("ParseAuditRef(%q) = %+v; want %+v", tt.ref, got, want)
		}
	}
}
