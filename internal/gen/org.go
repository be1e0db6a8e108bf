package gen

import "time"

// Organizations: the shared ones (CMS, USPS, the directory's validator),
// state licensing boards and HIEs, and the writer every Organization goes
// through.

var (
	orgCMS       = id{p: "org-cms"}
	orgUSPS      = id{p: "org-usps"}
	orgValidator = id{p: "org-validator"}
)

const (
	nameCMS       = "Centers for Medicare & Medicaid Services"
	nameUSPS      = "United States Postal Service"
	nameValidator = "National Directory Validation Services"
)

var (
	orgTypeProv  = code{"prov", "Healthcare Provider"}
	orgTypeDept  = code{"dept", "Hospital Department"}
	orgTypeGovt  = code{"govt", "Government"}
	orgTypePayer = code{"pay", "Payer"}
	orgTypeIns   = code{"ins", "Insurance Company"}
	orgTypeOther = code{"other", "Other"}
)

// orgSpec describes an Organization to write.
type orgSpec struct {
	x                  id
	network            bool // vhdir-network profile: no telecom, partOf required
	name, alias        string
	typ                code
	typSystem, typText string
	typ2               code // a second type (organization-type), when set
	description        string
	npi                int // NPI sequence number (entity 2); 0 for none
	ein                int // EIN sequence number; 0 for none
	local              string
	localN             int // local identifier (with local) assigned by partOf
	hios               int // HIOS issuer id; 0 for none
	networkID          string
	phone              phone
	hasPhone           bool
	hours              *hours
	url                string // web site host, "" for none
	addr               *address
	partOf             id
	partOfName         string
	contact            bool
	endpoints          [2]id
	plans              [3]id // insuranceplan-reference extensions
	accredited         bool  // a hospital's Joint Commission accreditation
	period             int   // network: organization-period start
	coverage           id    // network: coverage area Location
	coverageName       string
	since              int // day the identifiers were issued
	actor              id  // whom a restriction permits
	actorName          string
}

// organization writes one Organization.
func (g *gen) organization(o *orgSpec) {
	profile := profiles[tOrganization]
	if o.network {
		profile = profileNetwork
	}
	var elems elem
	if o.hasPhone && !o.network {
		elems |= elemTelecom
	}
	if o.addr != nil {
		elems |= elemAddress
	}
	g.decide(o.actor, o.actorName, elems)
	e := g.begin(tOrganization, o.x, profile)
	ext := lazy{key: "extension"}
	if o.description != "" {
		g.ext(&ext, "org-description")
		e.str("valueString", o.description)
		e.end()
	}
	if o.period > 0 {
		g.ext(&ext, extOrgPeriod)
		e.period("valuePeriod", o.period, 0)
		e.end()
	}
	if !o.coverage.zero() {
		g.ext(&ext, "location-reference")
		e.ref("valueReference", tLocation, o.coverage, o.coverageName)
		e.end()
	}
	for _, p := range o.plans {
		if !p.zero() {
			g.ext(&ext, "insuranceplan-reference")
			e.ref("valueReference", tInsurancePlan, p, "")
			e.end()
		}
	}
	if o.accredited {
		g.accreditation(&ext)
	}
	g.endRootExt(&ext)

	idents := lazy{key: "identifier"}
	if o.npi > 0 {
		g.lazyItem(&idents)
		g.npiIdent(2, o.npi, o.since)
	}
	if o.ein > 0 {
		g.lazyItem(&idents)
		g.einIdent(o.ein)
	}
	if o.hios > 0 {
		g.lazyItem(&idents)
		e.identStart("active")
		e.str("use", "official")
		e.identType(code{"NIIP", "National Insurance Payor Identifier (Payor)"}, "HIOS issuer ID")
		e.str("system", sysHIOS)
		e.key("value")
		e.b = append(e.b, '"')
		e.b = appendPad(e.b, o.hios, 5)
		e.b = append(e.b, '"')
		e.more = true
		e.ref("assigner", tOrganization, orgCMS, nameCMS)
		e.end()
	}
	if o.networkID != "" {
		g.lazyItem(&idents)
		e.identStart("active")
		e.str("use", "secondary")
		e.identType(code{"NIIP", "National Insurance Payor Identifier (Payor)"}, "Healthcare.gov Network ID")
		e.str("system", "https://www.qhpcertification.cms.gov/s/QHP")
		e.str("value", o.networkID)
		e.ref("assigner", tOrganization, orgCMS, nameCMS)
		e.end()
	}
	if o.local != "" {
		g.lazyItem(&idents)
		e.identStart("active")
		e.str("use", "secondary")
		e.localID(o.local, "department", "D", o.localN, 4, o.partOf, o.partOfName)
	}
	g.lazyEnd(&idents)

	e.bool("active", true)
	e.arr("type")
	e.ccItem(o.typSystem, o.typ, o.typText)
	if o.typ2.code != "" {
		e.ccItem(sysOrgType, o.typ2, "")
	}
	e.endArr()
	e.str("name", o.name)
	if o.alias != "" {
		e.strList("alias", o.alias)
		e.arr("_alias")
		e.item()
		e.arr("extension")
		e.extOpen("org-alias-type")
		e.cc("valueCodeableConcept", sysVhdirCS+"organizationdemographics", code{"legalalternative", "legal alternative"}, "")
		e.end()
		e.endArr()
		e.end()
		e.endArr()
	}
	if !o.network && (o.hasPhone || o.url != "") {
		e.arr("telecom")
		if o.hasPhone {
			p := o.phone
			g.contactPoint("phone", func(e *enc) { e.addPhone(p) }, "work", 1, o.hours, g.restrictHere(elemTelecom))
		}
		if o.url != "" {
			url := o.url
			g.contactPoint("url", func(e *enc) { e.add("https://www."); e.add(url) }, "work", 0, nil, false)
		}
		e.endArr()
	}
	if o.addr != nil {
		g.addressList("address", o.addr, "work", true, g.restrictHere(elemAddress))
	}
	if !o.partOf.zero() {
		e.ref("partOf", tOrganization, o.partOf, o.partOfName)
	}
	if o.contact {
		area := "202"
		if o.addr != nil {
			area = o.addr.city.area
		}
		g.orgContact("ADMIN", "Administrative", area)
	}
	if !o.endpoints[0].zero() {
		e.arr("endpoint")
		for _, x := range o.endpoints {
			if !x.zero() {
				e.refItem(tEndpoint, x, "")
			}
		}
		e.endArr()
	}
	g.finish()
}

// orgContact writes "contact":[{purpose, name, telecom}] with a random
// administrator.
func (g *gen) orgContact(purpose, purposeDisplay, area string) {
	e := &g.e
	given, family := g.personName()
	e.arr("contact")
	e.item()
	e.cc("purpose", sysContactType, code{purpose, purposeDisplay}, "")
	e.contactName(given, family)
	e.arr("telecom")
	p := g.newPhone(area)
	h := hours{days: 5, start: 8, end: 17}
	g.contactPoint("phone", func(e *enc) { e.addPhone(p) }, "work", 0, &h, false)
	e.endArr()
	e.end()
	e.endArr()
}

// personName draws a given and family name.
func (g *gen) personName() (given, family string) {
	if g.r.IntN(2) == 0 {
		given = femaleNames[g.r.IntN(len(femaleNames))]
	} else {
		given = maleNames[g.r.IntN(len(maleNames))]
	}
	return given, surnames[g.r.IntN(len(surnames))]
}

// accreditation writes a hospital's qualification extension: Joint
// Commission accreditation, renewed every three years.
func (g *gen) accreditation(ext *lazy) {
	e := &g.e
	g.ext(ext, "qualification")
	e.arr("extension")
	e.subExt("identifier")
	e.obj("valueIdentifier")
	e.arr("extension")
	e.extOpen("identifier-status")
	e.str("valueCode", "active")
	e.end()
	e.endArr()
	e.str("system", "https://www.jointcommission.org/")
	e.open("value")
	e.addInt(g.between(1000, 99999))
	e.close()
	e.end()
	e.end()
	e.qualificationCode("Hospital accreditation", "The Joint Commission")
	start := asOf - g.between(30, 1000)
	e.subExt("period")
	e.period("valuePeriod", start, start+3*365)
	e.end()
	e.endArr()
	e.end()
}

var npiStart = int(time.Date(2005, 5, 23, 0, 0, 0, 0, time.UTC).Unix() / 86400)

// npiIdent writes an NPI Identifier item (entity 1 individual, 2
// organization), issued on day since.
func (g *gen) npiIdent(entity, n, since int) {
	e := &g.e
	if since < npiStart {
		since = npiStart + int(g.hash(9, uint64(n))%5000) // NPIs were first issued in May 2005
	}
	d := g.npi(entity, n)
	e.identStart("active")
	e.str("use", "official")
	e.identType(code{"NPI", "National provider identifier"}, "NPI")
	e.str("system", sysNPI)
	e.key("value")
	e.b = append(e.b, '"')
	e.b = append(e.b, d[:]...)
	e.b = append(e.b, '"')
	e.more = true
	e.period("period", since, 0)
	e.ref("assigner", tOrganization, orgCMS, nameCMS)
	e.end()
}

// einPrefixes are IRS campus prefixes of employer identification numbers.
var einPrefixes = [...]int{10, 12, 20, 23, 27, 30, 35, 38, 41, 45, 46, 51, 54, 56, 59, 61, 62, 65, 74, 76, 81, 84, 86, 88, 91, 93, 95, 98}

// einIdent writes an EIN (tax id) Identifier item.
func (g *gen) einIdent(n int) {
	e := &g.e
	e.identStart("active")
	e.str("use", "official")
	e.identType(code{"TAX", "Tax ID number"}, "EIN")
	e.str("system", sysEIN)
	e.key("value")
	e.b = append(e.b, '"')
	e.b = appendPad(e.b, einPrefixes[n%len(einPrefixes)], 2)
	e.b = append(e.b, '-')
	e.b = appendPad(e.b, int(g.hash(8, uint64(n))%10_000_000), 7)
	e.b = append(e.b, '"')
	e.more = true
	e.end()
}

// fixedOrganizations writes the organizations every directory refers to:
// CMS (assigner of NPIs and HIOS ids), USPS (primary source of addresses)
// and the directory's validator.
func (g *gen) fixedOrganizations() {
	cms := address{num: 7500, street: "Security", suffix: "Blvd", city: cityNamed("Baltimore", "MD"), lat: 39.3107, lon: -76.7437}
	g.organization(&orgSpec{
		x: orgCMS, name: nameCMS, typ: orgTypeGovt, typSystem: sysOrgType, typText: "Federal agency",
		alias: "CMS", url: "cms.gov", addr: &cms, since: yearStart(2001),
		phone: phone{area: "410", exch: 786, line: 3000}, hasPhone: true,
		actor: orgCMS, actorName: nameCMS,
	})
	usps := address{num: 475, street: "L'Enfant Plaza", suffix: "SW", city: cityNamed("Washington", "DC"), lat: 38.8844, lon: -77.0254}
	g.organization(&orgSpec{
		x: orgUSPS, name: nameUSPS, typ: orgTypeGovt, typSystem: sysOrgType, typText: "Federal agency",
		alias: "USPS", url: "usps.com", addr: &usps, since: yearStart(1971),
		actor: orgUSPS, actorName: nameUSPS,
	})
	dc := cityNamed("Washington", "DC")
	val := g.newAddress(dc, true)
	g.organization(&orgSpec{
		x: orgValidator, name: nameValidator, typ: orgTypeOther, typSystem: sysOrgType, typText: "Directory validation service",
		url: "directory-validation.example", addr: &val, phone: g.newPhone(dc.area), hasPhone: true,
		contact: true, since: yearStart(2019), actor: orgValidator,
		description: "Validates directory content against primary sources and attestations", actorName: nameValidator,
	})
}

// cityNamed finds a city of the table.
func cityNamed(name, state string) *city {
	for i := range cities {
		if cities[i].name == name && cities[i].state == state {
			return &cities[i]
		}
	}
	panic("gen: no city " + name + ", " + state)
}

// Licensing boards by state and licence: id, name and web host.
var (
	boardIDs   [numStates][numLicences]id
	boardNms   [numStates][numLicences]string
	boardHosts [numStates][numLicences]string
)

// initBoards fills the board tables (called once the state table is built).
func initBoards() {
	for s := range numStates {
		for l := range numLicences {
			boardIDs[s][l] = id{p: "org-board-" + lowerState[s] + "-" + boardNames[l].id}
			boardNms[s][l] = states[stateCodes[s]] + " " + boardNames[l].name
			boardHosts[s][l] = lowerState[s] + "-" + boardNames[l].id + "-board.gov.example"
		}
	}
}

// stateOrganizations writes state s's licensing boards and health
// information exchange the first time a market is placed in s.
func (g *gen) stateOrganizations(s int) {
	if g.boardsDone[s] {
		return
	}
	g.boardsDone[s] = true
	seat := &cities[stateCities[s][0]]
	for l := range numLicences {
		a := g.newAddress(seat, true)
		x, name := boardIDs[s][l], boardNms[s][l]
		g.organization(&orgSpec{
			x: x, name: name, typ: orgTypeGovt, typSystem: sysOrgType, typText: "State licensing board",
			url: boardHosts[s][l], addr: &a,
			phone: g.newPhone(seat.area), hasPhone: true,
			description: "Licenses and disciplines health professionals in " + states[stateCodes[s]], hours: &hours{days: 5, start: 8, end: 17},
			since: yearStart(1990), actor: x, actorName: name,
		})
	}
	hie, name := hieID(s)
	a := g.newAddress(seat, true)
	domain := slug(states[stateCodes[s]]) + "hie.example"
	ep := id{p: "ep-hie-" + lowerState[s]}
	g.endpoint(&endpointSpec{x: ep, fhir: true, org: hie, orgName: name, domain: domain, name: name + " FHIR API", since: yearStart(2016), area: seat.area, actor: hie, actorName: name})
	g.organization(&orgSpec{
		x: hie, name: name, typ: orgTypeOther, typSystem: sysOrgType, typText: "Health Information Exchange",
		url: domain, addr: &a, phone: g.newPhone(seat.area), hasPhone: true, contact: true,
		endpoints: [2]id{ep}, since: yearStart(2012), actor: hie,
		description: "Statewide health information exchange for " + states[stateCodes[s]], actorName: name,
	})
}

// hieID is the id and name of state s's health information exchange.
func hieID(s int) (id, string) {
	return id{p: "org-hie-" + lowerState[s]}, states[stateCodes[s]] + " Health Information Exchange"
}
