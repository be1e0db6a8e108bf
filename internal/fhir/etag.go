package fhir

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ETag returns the weak entity tag of a version: W/"3".
func ETag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// ParseETag reads a version from one ETag: W/"3", "3" or 3.
func ParseETag(s string) (int64, bool) {
	if len(s) > 2 && (s[:2] == "W/" || s[:2] == "w/") {
		s = s[2:]
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v > 0
}

// ETags is an If-Match or If-None-Match condition on a resource's versions
// (RFC 9110 §13.1.1, §13.1.2): Any ("*"), or a list of entity tags. The
// zero value is no condition. Comparison is weak, as FHIR's ETags are
// weak: W/"3" and "3" both name version 3.
type ETags struct {
	Any      bool
	Versions []int64
	// Others counts listed entity tags that name no version (another
	// cache's, or a proxy's rewrite): they match nothing. Only
	// If-None-Match accepts them.
	Others int
}

// Present reports whether there is a condition.
func (e ETags) Present() bool { return e.Any || len(e.Versions) > 0 || e.Others > 0 }

// Match reports whether the condition holds for version v: Any matches
// any version (v > 0, 0 standing for none), a list the versions it names.
func (e ETags) Match(v int64) bool {
	if e.Any {
		return v > 0
	}
	return v > 0 && slices.Contains(e.Versions, v)
}

// String writes the versions the condition names as a header would: * or
// W/"1", W/"2".
func (e ETags) String() string {
	if e.Any {
		return "*"
	}
	tags := make([]string, len(e.Versions))
	for i, v := range e.Versions {
		tags[i] = ETag(v)
	}
	return strings.Join(tags, ", ")
}

// ParseIfMatch reads an If-Match value: "*" or a comma-separated list of
// version ETags (W/"3", "3", or 3 as vhdir has always accepted). An
// entity tag that names no version is an error: a write conditioned on
// versions must name them. "" is no condition.
func ParseIfMatch(v string) (ETags, error) { return parseETags(v, true) }

// ParseIfNoneMatch reads an If-None-Match value: "*" or a comma-separated
// list of entity tags, those naming no version matching nothing. "" is no
// condition.
func ParseIfNoneMatch(v string) (ETags, error) { return parseETags(v, false) }

func parseETags(v string, versionsOnly bool) (ETags, error) {
	var e ETags
	s := strings.TrimSpace(v)
	switch s {
	case "":
		return e, nil
	case "*":
		e.Any = true
		return e, nil
	}
	for s != "" {
		tag, rest, err := nextETag(s)
		if err != nil {
			return ETags{}, err
		}
		if n, ok := ParseETag(tag); ok {
			e.Versions = append(e.Versions, n)
		} else if versionsOnly {
			return ETags{}, fmt.Errorf(`%s names no version; version ETags are W/"1", W/"2", …`, tag)
		} else {
			e.Others++
		}
		rest = strings.TrimLeft(rest, " \t")
		if rest != "" && rest[0] != ',' {
			return ETags{}, fmt.Errorf("entity tags are separated by commas; %q follows %s", rest, tag)
		}
		// Empty list elements are allowed (RFC 9110 §5.6.1).
		s = strings.TrimLeft(rest, " \t,")
	}
	return e, nil
}

// nextETag reads the entity tag s starts with ([W/]"opaque", or an
// unquoted version number) and returns it and what follows.
func nextETag(s string) (tag, rest string, err error) {
	if s[0] == '*' {
		return "", "", errors.New(`"*" stands alone, not in a list of entity tags`)
	}
	quoted := s
	if len(quoted) >= 2 && (quoted[:2] == "W/" || quoted[:2] == "w/") {
		quoted = quoted[2:]
	}
	if !strings.HasPrefix(quoted, `"`) {
		n := strings.IndexAny(s, ", \t")
		if n < 0 {
			n = len(s)
		}
		if _, ok := ParseETag(s[:n]); !ok {
			return "", "", fmt.Errorf(`%q is not an entity tag such as W/"3"`, s[:n])
		}
		return s[:n], s[n:], nil
	}
	end := strings.IndexByte(quoted[1:], '"')
	if end < 0 {
		return "", "", fmt.Errorf("entity tag %s has no closing quote", s)
	}
	for _, c := range []byte(quoted[1 : end+1]) {
		if c < 0x21 || c == 0x7f { // etagc (RFC 9110 §8.8.3): no spaces or controls
			return "", "", fmt.Errorf("entity tag %s holds a space or control character", s[:len(s)-len(quoted)+end+2])
		}
	}
	n := len(s) - len(quoted) + end + 2
	return s[:n], s[n:], nil
}
