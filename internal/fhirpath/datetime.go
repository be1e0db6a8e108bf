package fhirpath

import (
	"time"
)

// Dates, date-times and times keep their text too; comparison parses them
// into components (without allocating) and follows FHIRPath N1 "Comparison"
// and "Equality": values are normalised to UTC, then compared one
// precision at a time from the year (or hour), seconds and fractions of a
// second being one precision; when one value stops before the other has
// decided, the result is empty. A value without a timezone offset is taken
// as UTC, the evaluation's default offset.

// The precisions of a date/time, in order.
const (
	precYear = iota
	precMonth
	precDay
	precHour
	precMinute
	precSecond
)

// dateTime is a parsed date, date-time or time.
type dateTime struct {
	isTime bool
	prec   int // last precision present, precYear…precSecond
	// comp holds year, month, day, hour, minute and nanoseconds within the
	// minute; a time uses only the last three.
	comp [6]int
	tz   bool
	off  int // offset east of UTC, in minutes
}

// parseDateTime reads a FHIR date, dateTime or instant, or the body of a
// FHIRPath date/time literal (2020-01-02T10:00Z, 2020T). Malformed text, or
// components out of range, give false.
func parseDateTime(s string) (dateTime, bool) {
	var d dateTime
	y, ok := fixedDigits(s, 4)
	if !ok {
		return d, false
	}
	d.comp[0], d.prec, s = y, precYear, s[4:]
	for _, p := range []int{precMonth, precDay} {
		if len(s) < 3 || s[0] != '-' {
			break
		}
		v, ok := fixedDigits(s[1:], 2)
		if !ok {
			return d, false
		}
		d.comp[p], d.prec, s = v, p, s[3:]
	}
	if d.prec >= precMonth && (d.comp[1] < 1 || d.comp[1] > 12) ||
		d.prec == precDay && (d.comp[2] < 1 || d.comp[2] > daysIn(d.comp[0], d.comp[1])) {
		return d, false
	}
	if s == "" {
		return d, true
	}
	if s[0] != 'T' {
		return d, false
	}
	s = s[1:]
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		if d.prec != precDay {
			return d, false
		}
		var t dateTime
		rest, ok := parseClock(&t, s)
		if !ok {
			return d, false
		}
		d.prec = precHour + t.prec
		copy(d.comp[3:], t.comp[:3])
		s = rest
	}
	return d, parseZone(&d, s)
}

// parseTime reads a FHIR time (10:30:00) or the body of a FHIRPath time
// literal (T10:30).
func parseTime(s string) (dateTime, bool) {
	if len(s) > 0 && s[0] == 'T' {
		s = s[1:]
	}
	d := dateTime{isTime: true}
	rest, ok := parseClock(&d, s)
	return d, ok && rest == ""
}

// parseClock reads hh(:mm(:ss(.fff)?)?)? into comp[0:3] with prec 0…2 and
// returns what follows.
func parseClock(d *dateTime, s string) (string, bool) {
	h, ok := fixedDigits(s, 2)
	if !ok || h > 23 {
		return s, false
	}
	d.comp[0], d.prec, s = h, 0, s[2:]
	if len(s) < 3 || s[0] != ':' {
		return s, true
	}
	m, ok := fixedDigits(s[1:], 2)
	if !ok || m > 59 {
		return s, false
	}
	d.comp[1], d.prec, s = m, 1, s[3:]
	if len(s) < 3 || s[0] != ':' {
		return s, true
	}
	sec, ok := fixedDigits(s[1:], 2)
	if !ok || sec > 60 {
		return s, false
	}
	sec = min(sec, 59) // a leap second compares as :59, as in FHIRPath.js
	d.prec, s = 2, s[3:]
	ns := sec * int(time.Second)
	if len(s) > 1 && s[0] == '.' {
		n := digits(s[1:])
		if n == 0 {
			return s, false
		}
		scale := int(time.Second) / 10
		for i := 1; i <= n; i++ {
			if scale > 0 {
				ns += int(s[i]-'0') * scale
				scale /= 10
			}
		}
		s = s[1+n:]
	}
	d.comp[2] = ns
	return s, true
}

// parseZone reads an optional Z or ±hh:mm ending the text.
func parseZone(d *dateTime, s string) bool {
	switch {
	case s == "":
		return true
	case s == "Z":
		d.tz = true
		return true
	case len(s) == 6 && (s[0] == '+' || s[0] == '-') && s[3] == ':':
		h, ok1 := fixedDigits(s[1:], 2)
		m, ok2 := fixedDigits(s[4:], 2)
		if !ok1 || !ok2 || h > 14 || m > 59 {
			return false
		}
		d.tz, d.off = true, h*60+m
		if s[0] == '-' {
			d.off = -d.off
		}
		return true
	}
	return false
}

func fixedDigits(s string, n int) (int, bool) {
	if len(s) < n {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// utc returns the components normalised to UTC. Only values with a time of
// day move: a date has no offset to apply.
func (d *dateTime) utc() [6]int {
	if d.isTime || d.prec < precHour || !d.tz || d.off == 0 {
		return d.comp
	}
	t := time.Date(d.comp[0], time.Month(d.comp[1]), d.comp[2], d.comp[3], d.comp[4], 0, d.comp[5], time.UTC)
	t = t.Add(-time.Duration(d.off) * time.Minute)
	c := d.comp
	c[0], c[1], c[2], c[3], c[4] = t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute()
	c[5] = t.Second()*int(time.Second) + t.Nanosecond()
	return c
}

// cmpDateTime compares two dates/date-times (or two times). known is false
// when they agree up to the shorter precision and their precisions differ.
func cmpDateTime(a, b *dateTime) (c int, known bool) {
	x, y := a.utc(), b.utc()
	for i := 0; i <= min(a.prec, b.prec); i++ {
		if x[i] != y[i] {
			if x[i] < y[i] {
				return -1, true
			}
			return 1, true
		}
	}
	return 0, a.prec == b.prec
}
