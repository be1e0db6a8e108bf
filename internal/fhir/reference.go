package fhir

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/vhdir/vhdir/internal/r4"
)

// RefKind is the form of a Reference.reference string
// (https://hl7.org/fhir/R4/references.html#literal).
type RefKind uint8

// The forms of reference. The zero RefKind is no reference at all.
const (
	// RefRelative is Type/id or Type/id/_history/version, resolved
	// against this server's base.
	RefRelative RefKind = iota + 1
	// RefAbsolute is an absolute URL, usually a resource on another server.
	RefAbsolute
	// RefContained is #id, a resource contained in the same resource; # alone
	// is the containing resource.
	RefContained
	// RefURN is urn:uuid:… or urn:oid:…, which in a Bundle names another
	// entry by its fullUrl.
	RefURN
)

func (k RefKind) String() string {
	switch k {
	case RefRelative:
		return "relative"
	case RefAbsolute:
		return "absolute"
	case RefContained:
		return "contained"
	case RefURN:
		return "urn"
	}
	return fmt.Sprintf("RefKind(%d)", uint8(k))
}

// Reference is a parsed Reference.reference string.
type Reference struct {
	Kind RefKind
	// Type, ID and Version name the target when the reference is relative,
	// or absolute with a FHIR-shaped tail ([base]/Type/id(/_history/version)).
	// For RefContained ID is the contained resource's id ("" for #).
	Type, ID, Version string
	// Base is the part of an absolute reference before Type, such as
	// https://other.example/fhir.
	Base string
	Raw  string
}

// ParseReference parses a Reference.reference string. The error text quotes
// the client's own input and is safe to return to the client.
func ParseReference(s string) (Reference, error) {
	ref := Reference{Raw: s}
	switch {
	case s == "":
		return ref, fmt.Errorf("empty reference")
	case hasSpace(s):
		return ref, fmt.Errorf("reference %s contains whitespace", quoteInput(s))
	case s[0] == '#':
		ref.Kind, ref.ID = RefContained, s[1:]
		if ref.ID != "" && !ValidID(ref.ID) {
			return ref, fmt.Errorf("%s is not a valid contained resource id", quoteInput(ref.ID))
		}
		return ref, nil
	case hasPrefixFold(s, "urn:uuid:"), hasPrefixFold(s, "urn:oid:"):
		return parseURN(ref)
	case schemeLen(s) > 0:
		return parseAbsolute(ref)
	}
	return parseRelative(ref)
}

// parseURN checks the two URN forms FHIR gives a meaning to; their syntax is
// that of the uuid and oid primitive types, lower case included.
func parseURN(ref Reference) (Reference, error) {
	ref.Kind = RefURN
	s := ref.Raw
	if v, ok := strings.CutPrefix(s, "urn:uuid:"); ok && isUUID(v) {
		return ref, nil
	}
	if v, ok := strings.CutPrefix(s, "urn:oid:"); ok && isOID(v) {
		return ref, nil
	}
	if hasPrefixFold(s, "urn:uuid:") {
		return ref, fmt.Errorf("%s is not a urn:uuid: followed by a lower-case UUID", quoteInput(s))
	}
	return ref, fmt.Errorf("%s is not a urn:oid: followed by a valid OID", quoteInput(s))
}

// parseAbsolute accepts any absolute URL (references to other servers are
// allowed) and fills Type, ID and Version when the path ends the way a FHIR
// server's resource URLs do, so target types can still be checked.
func parseAbsolute(ref Reference) (Reference, error) {
	ref.Kind = RefAbsolute
	s := ref.Raw
	if len(s) == schemeLen(s) {
		return ref, fmt.Errorf("absolute reference %s has nothing after its scheme", quoteInput(s))
	}
	if strings.ContainsAny(s, "?#") {
		return ref, nil // a query or fragment is not a FHIR resource URL
	}
	typ, id, version, start, ok := fhirTail(s)
	if !ok || start < 2 || s[start-1] != '/' {
		return ref, nil
	}
	base := s[:start-1]
	if last := base[len(base)-1]; last == '/' || last == ':' {
		return ref, nil // no host: http://Patient/1
	}
	ref.Type, ref.ID, ref.Version, ref.Base = typ, id, version, base
	return ref, nil
}

// fhirTail finds a trailing Type/id or Type/id/_history/version in s and
// the offset where Type starts.
func fhirTail(s string) (typ, id, version string, start int, ok bool) {
	rest, last := cutLast(s)
	rest, prev := cutLast(rest)
	if prev == "_history" {
		version = last
		rest, last = cutLast(rest)
		rest, prev = cutLast(rest)
	}
	if !r4.IsResourceType(prev) || !ValidID(last) || (version != "" && !ValidID(version)) {
		return "", "", "", 0, false
	}
	return prev, last, version, len(rest) + 1, rest != ""
}

// cutLast splits s at its last slash; rest is "" when there is none.
func cutLast(s string) (rest, last string) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "", s
	}
	return s[:i], s[i+1:]
}

func parseRelative(ref Reference) (Reference, error) {
	s := ref.Raw
	ref.Kind = RefRelative
	typ, rest, found := strings.Cut(s, "/")
	if !found {
		return ref, fmt.Errorf("%s is not a reference of the form Type/id, #id or an absolute URL", quoteInput(s))
	}
	if !r4.IsResourceType(typ) {
		return ref, fmt.Errorf("%s is not an R4 resource type", quoteInput(typ))
	}
	id, hist, hasHist := strings.Cut(rest, "/")
	if id == "" {
		return ref, fmt.Errorf("%s has no id", quoteInput(s))
	}
	if !ValidID(id) {
		return ref, fmt.Errorf("%s is not a valid resource id", quoteInput(id))
	}
	ref.Type, ref.ID = typ, id
	if !hasHist {
		return ref, nil
	}
	version, ok := strings.CutPrefix(hist, "_history/")
	if !ok {
		return ref, fmt.Errorf("%s is not of the form Type/id or Type/id/_history/version", quoteInput(s))
	}
	if !ValidID(version) {
		return ref, fmt.Errorf("%s has no valid version after _history/", quoteInput(s))
	}
	ref.Version = version
	return ref, nil
}

// schemeLen returns the length of s's URI scheme including the colon
// (RFC 3986 §3.1), or 0 when s has none.
func schemeLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return i + 1
		default:
			return 0
		}
	}
	return 0
}

// isUUID reports whether s is a UUID in lower-case hex (the uuid type).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// isOID reports whether s matches the oid type's [0-2](\.(0|[1-9][0-9]*))+.
func isOID(s string) bool {
	if len(s) < 3 || s[0] < '0' || s[0] > '2' || s[1] != '.' {
		return false
	}
	for arc := range strings.SplitSeq(s[2:], ".") {
		if arc == "" || (arc[0] == '0' && len(arc) > 1) {
			return false
		}
		for i := 0; i < len(arc); i++ {
			if arc[i] < '0' || arc[i] > '9' {
				return false
			}
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// hasSpace reports whether s holds whitespace or a control character, which
// no URI or id may contain.
func hasSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// quote quotes client input for a diagnostic, cut short so that a huge value
// does not make a huge outcome.
func quoteInput(s string) string {
	const limit = 80
	if len(s) <= limit {
		return fmt.Sprintf("%q", s)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q…", s[:cut])
}
