package search

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Normalize folds a string for matching: case-insensitive and
// accent-insensitive (FHIR string search), so "Müller" matches "muller".
// Whitespace runs collapse to one space.
func Normalize(s string) string {
	ascii, clean := true, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			ascii, clean = false, false
		case 'A' <= c && c <= 'Z', c == '\t', c == '\n', c == '\r', c == '\v', c == '\f':
			clean = false
		case c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' '):
			clean = false
		}
	}
	if clean {
		return s // already folded: nothing to allocate
	}
	if !ascii {
		t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
		if folded, _, err := transform.String(t, s); err == nil {
			s = folded
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// ErrBadDate is returned for a value that is not a FHIR date, dateTime or
// instant.
var ErrBadDate = errors.New("not a FHIR date, dateTime or instant")

// DateRange returns the range of instants a FHIR date, dateTime or instant
// denotes, in Unix microseconds, both ends inclusive: 2019 is the whole
// year, 2019-03-05T10:00:00Z the whole second. A dateTime without a time
// zone is read as UTC.
func DateRange(s string) (lo, hi int64, err error) {
	var t time.Time
	var next func(time.Time) time.Time
	switch {
	case len(s) == 4:
		t, err = time.Parse("2006", s)
		next = func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }
	case len(s) == 7:
		t, err = time.Parse("2006-01", s)
		next = func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	case len(s) == 10:
		t, err = time.Parse("2006-01-02", s)
		next = func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	case len(s) > 10 && s[10] == 'T':
		return dateTimeRange(s)
	default:
		return 0, 0, ErrBadDate
	}
	if err != nil {
		return 0, 0, ErrBadDate
	}
	return t.UnixMicro(), next(t).UnixMicro() - 1, nil
}

func dateTimeRange(s string) (lo, hi int64, err error) {
	clock, zone := s[11:], ""
	switch {
	case strings.HasSuffix(clock, "Z"):
		clock, zone = clock[:len(clock)-1], "Z07:00"
	case len(clock) > 6 && (clock[len(clock)-6] == '+' || clock[len(clock)-6] == '-'):
		clock, zone = clock[:len(clock)-6], "Z07:00"
	}
	var layout string
	var step time.Duration
	switch {
	case len(clock) == 2:
		layout, step = "15", time.Hour
	case len(clock) == 5:
		layout, step = "15:04", time.Minute
	case len(clock) == 8:
		layout, step = "15:04:05", time.Second
	case len(clock) > 9 && clock[8] == '.':
		digits := len(clock) - 9
		layout, step = "15:04:05."+strings.Repeat("9", digits), time.Duration(math.Pow10(9-min(digits, 9)))
	default:
		return 0, 0, ErrBadDate
	}
	t, err := time.Parse("2006-01-02T"+layout+zone, s)
	if err != nil {
		return 0, 0, ErrBadDate
	}
	lo = t.UnixMicro()
	return lo, max(lo, t.Add(step).UnixMicro()-1), nil
}

// ErrBadNumber is returned for a value that is not a decimal number.
var ErrBadNumber = errors.New("not a number")

// NumberRange returns a decimal's value and the range its precision
// implies: 100 is [99.5, 100.5), 1.50 is [1.495, 1.505)
// (https://hl7.org/fhir/R4/search.html#number).
func NumberRange(s string) (v, lo, hi float64, err error) {
	v, err = strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, 0, 0, ErrBadNumber
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		if exp, err = strconv.Atoi(s[i+1:]); err != nil {
			return 0, 0, 0, ErrBadNumber
		}
	}
	decimals := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		decimals = len(mant) - i - 1
	}
	half := 0.5 * math.Pow10(exp-decimals)
	return v, v - half, v + half, nil
}
