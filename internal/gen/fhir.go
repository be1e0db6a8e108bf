package gen

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FHIR data type writers. Each writes one element of the resource being
// built; names follow the R4 JSON element they produce.

// coding writes a Coding item.
func (e *enc) coding(system string, c code) {
	e.item()
	e.str("system", system)
	e.str("code", c.code)
	if c.display != "" {
		e.str("display", c.display)
	}
	e.end()
}

// ccBody writes the members of a CodeableConcept with one coding (none
// when c.code is "") and an optional text.
func (e *enc) ccBody(system string, c code, text string) {
	if c.code != "" {
		e.arr("coding")
		e.coding(system, c)
		e.endArr()
	}
	if text != "" {
		e.str("text", text)
	}
}

// cc writes "k": CodeableConcept.
func (e *enc) cc(k, system string, c code, text string) {
	e.obj(k)
	e.ccBody(system, c, text)
	e.end()
}

// ccItem writes a CodeableConcept item.
func (e *enc) ccItem(system string, c code, text string) {
	e.item()
	e.ccBody(system, c, text)
	e.end()
}

// ccList writes "k": [CodeableConcept].
func (e *enc) ccList(k, system string, c code, text string) {
	e.arr(k)
	e.ccItem(system, c, text)
	e.endArr()
}

// refBody writes "reference":"Type/id" and a display.
func (e *enc) refBody(t rtype, x id, display string) {
	e.key("reference")
	e.b = append(e.b, '"')
	e.b = append(e.b, typeNames[t]...)
	e.b = append(e.b, '/')
	e.b = x.append(e.b)
	e.b = append(e.b, '"')
	e.more = true
	if display != "" {
		e.str("display", display)
	}
}

// ref writes "k": Reference.
func (e *enc) ref(k string, t rtype, x id, display string) {
	e.obj(k)
	e.refBody(t, x, display)
	e.end()
}

// refItem writes a Reference item.
func (e *enc) refItem(t rtype, x id, display string) {
	e.item()
	e.refBody(t, x, display)
	e.end()
}

// refList writes "k": [Reference].
func (e *enc) refList(k string, t rtype, x id, display string) {
	e.arr(k)
	e.refItem(t, x, display)
	e.endArr()
}

// extOpen opens an extension item with the given URL (a VhDir extension
// when url has no scheme).
func (e *enc) extOpen(url string) {
	e.item()
	e.key("url")
	e.b = append(e.b, '"')
	if !strings.HasPrefix(url, "http") {
		e.b = append(e.b, vhdirSD...)
	}
	e.b = append(e.b, url...)
	e.b = append(e.b, '"')
	e.more = true
}

// subExt opens a sub-extension (relative url) of a complex extension.
func (e *enc) subExt(url string) {
	e.item()
	e.str("url", url)
}

// identStart opens an Identifier item carrying the identifier-status
// extension that every VhDir identifier needs.
func (e *enc) identStart(status string) {
	e.item()
	e.arr("extension")
	e.extOpen("identifier-status")
	e.str("valueCode", status)
	e.end()
	e.endArr()
}

// localID writes the rest of an identifier item an organization assigns
// itself — system https://<domain>/<kind>-id, value <prefix><n padded to
// width digits>, the organization as assigner — and closes the item.
func (e *enc) localID(domain, kind, prefix string, n, width int, org id, orgName string) {
	e.open("system")
	e.add("https://")
	e.add(domain)
	e.add("/")
	e.add(kind)
	e.add("-id")
	e.close()
	e.open("value")
	e.add(prefix)
	e.addPad(n, width)
	e.close()
	e.ref("assigner", tOrganization, org, orgName)
	e.end()
}

// qualificationCode writes the code, issuer and (active) status parts of a
// VhDir qualification extension.
func (e *enc) qualificationCode(text, issuer string) {
	e.subExt("code")
	e.cc("valueCodeableConcept", "", code{}, text)
	e.end()
	e.subExt("issuer")
	e.obj("valueReference")
	e.str("display", issuer)
	e.end()
	e.end()
	e.subExt("status")
	e.obj("valueCoding")
	e.str("system", sysResStatus)
	e.str("code", "active")
	e.str("display", "active")
	e.end()
	e.end()
}

// identType writes Identifier.type as a v2-0203 code with a text.
func (e *enc) identType(c code, text string) {
	e.cc("type", sysV2ID, c, text)
}

// date writes "k":"YYYY-MM-DD" for day d (days since 1970-01-01).
func (e *enc) date(k string, d int) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = appendDate(e.b, d)
	e.b = append(e.b, '"')
	e.more = true
}

// dateTime writes "k":"YYYY-MM-DDThh:mm:ss-05:00" for day d at hour h.
func (e *enc) dateTime(k string, d, h, min int) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = appendDate(e.b, d)
	e.b = append(e.b, 'T')
	e.b = appendPad(e.b, h, 2)
	e.b = append(e.b, ':')
	e.b = appendPad(e.b, min, 2)
	e.b = append(e.b, ":00-05:00"...)
	e.b = append(e.b, '"')
	e.more = true
}

// period writes "k": Period from day start, with an end when end > 0.
func (e *enc) period(k string, start, end int) {
	e.obj(k)
	e.date("start", start)
	if end > 0 {
		e.date("end", end)
	}
	e.end()
}

// appendDate appends day d (days since 1970-01-01) as YYYY-MM-DD.
func appendDate(b []byte, d int) []byte {
	y, m, day := time.Unix(int64(d)*86400, 0).UTC().Date()
	b = appendPad(b, y, 4)
	b = append(b, '-')
	b = appendPad(b, int(m), 2)
	b = append(b, '-')
	return appendPad(b, day, 2)
}

// past keeps a drawn start date at least a month before asOf.
func past(d int) int { return min(d, asOf-30) }

// asOf is the day the directory describes (2025-06-30): every date is
// relative to it, never to the clock, so output depends only on the seed.
var asOf = int(time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC).Unix() / 86400)

// yearStart is 1 January of year y in days.
func yearStart(y int) int {
	return int(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// daysOfWeek are the FHIR days-of-week codes.
var daysOfWeek = [...]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// hours is a weekly opening pattern.
type hours struct {
	days       int // 5 = mon-fri, 6 = mon-sat, 7 = every day
	allDay     bool
	start, end int // hours of the day
}

// availableTime writes "k": [{daysOfWeek, allDay | start, end}] (the shape
// of PractitionerRole, HealthcareService and Location hours).
func (e *enc) availableTime(k string, h hours, startKey, endKey string) {
	e.arr(k)
	e.item()
	e.arr("daysOfWeek")
	for _, d := range daysOfWeek[:h.days] {
		e.strItem(d)
	}
	e.endArr()
	if h.allDay {
		e.bool("allDay", true)
	} else {
		e.timeOfDay(startKey, h.start)
		e.timeOfDay(endKey, h.end)
	}
	e.end()
	e.endArr()
}

func (e *enc) timeOfDay(k string, h int) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = appendPad(e.b, h, 2)
	e.b = append(e.b, ":00:00\""...)
	e.more = true
}

// availableTimeExt writes the contactpoint-availabletime extension.
func (e *enc) availableTimeExt(h hours) {
	e.extOpen("contactpoint-availabletime")
	e.arr("extension")
	for _, d := range daysOfWeek[:h.days] {
		e.subExt("daysOfWeek")
		e.str("valueCode", d)
		e.end()
	}
	if h.allDay {
		e.subExt("allDay")
		e.bool("valueBoolean", true)
		e.end()
	} else {
		e.subExt("availableStartTime")
		e.key("valueTime")
		e.b = append(e.b, '"')
		e.b = appendPad(e.b, h.start, 2)
		e.b = append(e.b, ":00:00\""...)
		e.more = true
		e.end()
		e.subExt("availableEndTime")
		e.key("valueTime")
		e.b = append(e.b, '"')
		e.b = appendPad(e.b, h.end, 2)
		e.b = append(e.b, ":00:00\""...)
		e.more = true
		e.end()
	}
	e.endArr()
	e.end()
}

// phone is a North American number: area code, exchange and line.
type phone struct {
	area       string
	exch, line int
}

func (g *gen) newPhone(area string) phone {
	ex := g.between(201, 989)
	for ex%100 == 11 || ex == 555 {
		ex++
	}
	return phone{area: area, exch: ex, line: g.intn(10000)}
}

func (e *enc) addPhone(p phone) {
	e.add(p.area)
	e.add("-")
	e.addPad(p.exch, 3)
	e.add("-")
	e.addPad(p.line, 4)
}

// contactPoint writes a ContactPoint item: system, a value written by
// value, use, optional rank and available hours. restrict puts the
// usage-restriction extension on it.
func (g *gen) contactPoint(system string, value func(e *enc), use string, rank int, h *hours, restrict bool) {
	e := &g.e
	e.item()
	if h != nil || restrict {
		e.arr("extension")
		if h != nil {
			e.availableTimeExt(*h)
		}
		if restrict {
			g.restrictionExt()
		}
		e.endArr()
	}
	e.str("system", system)
	e.open("value")
	value(e)
	e.close()
	if use != "" {
		e.str("use", use)
	}
	if rank > 0 {
		e.int("rank", rank)
	}
	e.end()
}

// address is a street address in one of the cities.
type address struct {
	num            int
	street, suffix string
	suite          int // 0: none
	city           *city
	lat, lon       float64
}

// newAddress places a street address within about 8 km of city c's centre.
func (g *gen) newAddress(c *city, suite bool) address {
	a := address{
		num:    g.between(10, 9899),
		street: pick(g, streetNames[:]),
		suffix: pick(g, streetSuffixes[:]),
		city:   c,
		lat:    c.lat + (g.r.Float64()-0.5)*0.14,
		lon:    c.lon + (g.r.Float64()-0.5)*0.18,
	}
	if suite {
		a.suite = 100 * g.between(1, 6)
		a.suite += g.intn(40)
	}
	return a
}

func (e *enc) addLine(a *address) {
	e.addInt(a.num)
	e.add(" ")
	e.add(a.street)
	e.add(" ")
	e.add(a.suffix)
	if a.suite > 0 {
		e.add(", Suite ")
		e.addInt(a.suite)
	}
}

// addressBody writes the members of an Address; geo adds the geolocation
// extension, restrict the usage-restriction extension.
func (g *gen) addressBody(a *address, use string, geo, restrict bool) {
	e := &g.e
	if geo || restrict {
		e.arr("extension")
		if geo {
			e.extOpen(extGeolocation)
			e.arr("extension")
			e.subExt("latitude")
			e.dec("valueDecimal", a.lat, 6)
			e.end()
			e.subExt("longitude")
			e.dec("valueDecimal", a.lon, 6)
			e.end()
			e.endArr()
			e.end()
		}
		if restrict {
			g.restrictionExt()
		}
		e.endArr()
	}
	e.str("use", use)
	e.str("type", "both")
	e.open("text")
	e.addLine(a)
	e.add(", ")
	e.add(a.city.name)
	e.add(", ")
	e.add(a.city.state)
	e.add(" ")
	e.add(a.city.zip)
	e.close()
	e.arr("line")
	e.openItem()
	e.addLine(a)
	e.close()
	e.endArr()
	e.str("city", a.city.name)
	e.str("state", a.city.state)
	e.str("postalCode", a.city.zip)
	e.str("country", "US")
}

// addressObj writes "k": Address.
func (g *gen) addressObj(k string, a *address, use string, geo, restrict bool) {
	g.e.obj(k)
	g.addressBody(a, use, geo, restrict)
	g.e.end()
}

// addressList writes "k": [Address].
func (g *gen) addressList(k string, a *address, use string, geo, restrict bool) {
	g.e.arr(k)
	g.e.item()
	g.addressBody(a, use, geo, restrict)
	g.e.end()
	g.e.endArr()
}

// humanName writes a HumanName item for a contact person.
func (e *enc) contactName(given, family string) {
	e.obj("name")
	e.str("use", "official")
	e.open("text")
	e.add(given)
	e.add(" ")
	e.add(family)
	e.close()
	e.str("family", family)
	e.strList("given", given)
	e.end()
}

// npi returns the n-th NPI of an entity type (1 individual, 2 organization):
// nine digits from an affine permutation of 10^8 (distinct for distinct n)
// and the check digit of the Luhn algorithm over the ISO prefix 80840, as
// the NPI standard defines it.
func (g *gen) npi(entity, n int) [10]byte {
	const m = 100_000_000
	mult := uint64(48_271_471) // odd and not a multiple of 5: invertible mod 10^8
	off := g.seed % m
	v := (uint64(n)*mult + off) % m
	var d [10]byte
	d[0] = byte('0' + entity)
	for i := 8; i >= 1; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	d[9] = byte('0' + luhnCheck(d[:9]))
	return d
}

// luhnCheck returns the NPI check digit for the first nine digits: the
// Luhn check digit of "80840" followed by them.
func luhnCheck(nine []byte) int {
	sum := 24 // the prefix 80840 contributes 24, per the NPI standard
	for i := range 9 {
		v := int(nine[8-i] - '0')
		if i%2 == 0 { // double every other digit from the right of the payload
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return (10 - sum%10) % 10
}

// validNPI reports whether s is a 10-digit NPI with a valid check digit.
func validNPI(s string) bool {
	if len(s) != 10 {
		return false
	}
	for i := range 10 {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return int(s[9]-'0') == luhnCheck([]byte(s[:9]))
}

// boundary returns a GeoJSON square (half side r degrees) around lat, lon,
// base64 encoded for the location-boundary-geojson attachment.
func boundary(lat, lon, r float64) string {
	var b []byte
	b = append(b, `{"type":"Polygon","coordinates":[[`...)
	corners := [5][2]float64{{lon - r, lat - r}, {lon + r, lat - r}, {lon + r, lat + r}, {lon - r, lat + r}, {lon - r, lat - r}}
	for i, c := range corners {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendFloat(b, c[0])
		b = append(b, ',')
		b = appendFloat(b, c[1])
		b = append(b, ']')
	}
	b = append(b, "]]}"...)
	return base64.StdEncoding.EncodeToString(b)
}

func appendFloat(b []byte, f float64) []byte { return strconv.AppendFloat(b, f, 'f', 4, 64) }

// certificate returns a base64 blob standing in for a DER certificate: 96
// pseudo-random bytes, deterministic for the run.
func (g *gen) certificate() string {
	var raw [96]byte
	raw[0], raw[1] = 0x30, 0x82 // DER SEQUENCE, as real ones start
	for i := 2; i < len(raw); i += 8 {
		v := g.r.Uint64()
		for j := 0; j < 8 && i+j < len(raw); j++ {
			raw[i+j] = byte(v >> (8 * j))
		}
	}
	return base64.StdEncoding.EncodeToString(raw[:])
}

// slug turns a name into a host label: lower-case letters and digits.
func slug(name string) string {
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			b = append(b, c)
		case 'A' <= c && c <= 'Z':
			b = append(b, c+'a'-'A')
		}
	}
	return string(b)
}

// addLower appends s in lower case without anything but letters (for
// e-mail local parts).
func (e *enc) addLower(s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z':
			e.b = append(e.b, c)
		case 'A' <= c && c <= 'Z':
			e.b = append(e.b, c+'a'-'A')
		}
	}
}

// weighted picks an index from cumulative weights cum (ascending).
func (g *gen) weighted(cum []int) int {
	x := g.intn(cum[len(cum)-1])
	i, _ := slices.BinarySearch(cum, x+1)
	return i
}
