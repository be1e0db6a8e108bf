package gen

// Writers for Endpoint, Location, HealthcareService,
// OrganizationAffiliation and CareTeam.

// endpointSpec describes an Endpoint: a FHIR REST base or a Direct
// (secure e-mail) address.
type endpointSpec struct {
	x               id
	fhir, payer     bool
	org             id
	orgName, domain string
	mailbox         string  // Direct local part of a unit's address
	person          *person // or a practitioner's own Direct address
	name            string
	since           int
	area            string
	actor           id
	actorName       string
}

func (g *gen) endpoint(s *endpointSpec) {
	g.decide(s.actor, s.actorName, elemTelecom)
	e := g.begin(tEndpoint, s.x, profiles[tEndpoint])
	ext := lazy{key: "extension"}
	g.ext(&ext, "endpoint-usecase")
	e.arr("extension")
	e.subExt("type")
	use := code{"treatment", "treatment"}
	if s.payer {
		use = code{"payment", "payment"}
	}
	e.cc("valueCodeableConcept", sysVhdirCS+"usecase", use, "")
	e.end()
	e.subExt("standard")
	if s.fhir {
		e.str("valueUri", "http://hl7.org/fhir/R4")
	} else {
		e.str("valueUri", "http://wiki.directproject.org/Applicability+Statement+for+Secure+Health+Transport")
	}
	e.end()
	e.endArr()
	e.end()
	g.ext(&ext, "endpoint-rank")
	if s.fhir {
		e.int("valuePositiveInt", 2)
	} else {
		e.int("valuePositiveInt", 1)
	}
	e.end()
	if !s.fhir {
		g.digitalCertificate(&ext, s.person != nil)
	}
	g.endRootExt(&ext)

	e.arr("identifier")
	e.identStart("active")
	e.str("use", "secondary")
	e.open("system")
	e.add("https://")
	e.add(s.domain)
	e.add("/endpoint-id")
	e.close()
	e.key("value")
	e.b = append(e.b, '"')
	e.b = s.x.append(e.b)
	e.b = append(e.b, '"')
	e.more = true
	e.ref("assigner", tOrganization, s.org, s.orgName)
	e.end()
	e.endArr()
	e.str("status", "active")
	if s.fhir {
		e.obj("connectionType")
		e.str("system", sysConnType)
		e.str("code", "hl7-fhir-rest")
		e.str("display", "HL7 FHIR")
		e.end()
	} else {
		e.obj("connectionType")
		e.str("system", sysConnType)
		e.str("code", "direct-project")
		e.str("display", "Direct Project")
		e.end()
	}
	if s.person != nil {
		e.open("name")
		e.add("Direct address of ")
		e.addName(s.person)
		e.close()
	} else {
		e.str("name", s.name)
	}
	e.ref("managingOrganization", tOrganization, s.org, s.orgName)
	e.arr("contact")
	domain := s.domain
	g.contactPoint("email", func(e *enc) { e.add("interop@"); e.add(domain) }, "work", 0, nil, g.restrictHere(elemTelecom))
	e.endArr()
	e.period("period", s.since, 0)
	e.arr("payloadType")
	if s.fhir {
		e.ccItem(sysPayloadType, code{"any", "Any"}, "")
		e.endArr()
		e.arr("payloadMimeType")
		e.strItem("application/fhir+json")
		e.strItem("application/fhir+xml")
		e.endArr()
		e.open("address")
		e.add("https://fhir.")
		e.add(s.domain)
		if s.payer {
			e.add("/directory")
		}
		e.add("/r4")
		e.close()
	} else {
		e.ccItem(sysFormatCode, code{"urn:ihe:pcc:xphr:2007", "Personal Health Records. Also known as HL7 CCD and HITSP C32"}, "HL7 CCD Document")
		e.ccItem(sysFormatCode, code{"urn:hl7-org:sdwg:ccda-structuredBody:2.1", "For documents following C-CDA 2.1 constraints using a structured body."}, "C-CDA document")
		e.endArr()
		e.arr("payloadMimeType")
		e.strItem("application/hl7-v3+xml")
		e.strItem("application/pdf")
		e.endArr()
		e.open("address")
		e.add("mailto:")
		if p := s.person; p != nil {
			e.addLower(p.given[:1])
			e.addLower(p.family)
			e.addInt(p.n)
		} else {
			e.add(s.mailbox)
		}
		e.add("@direct.")
		e.add(s.domain)
		e.close()
	}
	g.finish()
}

// digitalCertificate writes the digitalcertificate extension of a Direct
// address: an X.509 certificate for signing and encryption under the
// DirectTrust framework.
func (g *gen) digitalCertificate(ext *lazy, individual bool) {
	e := &g.e
	sys := sysVhdirCS + "digitalcertificate"
	g.ext(ext, "digitalcertificate")
	e.arr("extension")
	e.subExt("type")
	e.obj("valueCoding")
	e.str("system", sys)
	if individual {
		e.str("code", "ind")
		e.str("display", "Individual")
	} else {
		e.str("code", "grp")
		e.str("display", "Group")
	}
	e.end()
	e.end()
	for _, u := range [...]code{{"signing", "Signing"}, {"encrypt", "Encryption"}} {
		e.subExt("use")
		e.obj("valueCoding")
		e.str("system", sys)
		e.str("code", u.code)
		e.str("display", u.display)
		e.end()
		e.end()
	}
	e.subExt("certificateStandard")
	e.obj("valueCoding")
	e.str("system", sys)
	e.str("code", "x.509v3")
	e.str("display", "x.509v3")
	e.end()
	e.end()
	e.subExt("certificate")
	e.str("valueString", g.certificate())
	e.end()
	e.subExt("expirationDate")
	e.date("valueDate", asOf+g.between(30, 3*365))
	e.end()
	e.subExt("trustFramework")
	e.cc("valueCodeableConcept", sys, code{"direct", "DirectTrust"}, "")
	e.end()
	e.endArr()
	e.end()
}

// locSpec describes a Location of a unit.
type locSpec struct {
	u           *unit
	name        string
	description string
	phys        code
	partOf      id
	partOfName  string
	hours       hours
	newPatients bool
	ehr         bool
	networks    []netRef
}

var (
	physSite     = code{"si", "Site"}
	physBuilding = code{"bu", "Building"}
	physWing     = code{"wi", "Wing"}
	typeHospital = code{"HOSP", "Hospital"}
)

func (g *gen) location(s *locSpec) {
	u := s.u
	g.decide(u.actor, u.actorName, elemTelecom|elemAddress)
	e := g.begin(tLocation, u.loc, profiles[tLocation])
	ext := lazy{key: "extension"}
	if g.chance(0.6) {
		n := g.between(1, 3)
		first := g.intn(3) // handiaccess, adacomp or pubtrans first
		for i := range n {
			c := accessibilityCodes[(first+i)%len(accessibilityCodes)]
			g.ext(&ext, "accessibility")
			e.cc("valueCodeableConcept", sysVhdirCS+"accessibility", c, "")
			e.end()
		}
	}
	if s.newPatients && len(s.networks) > 0 {
		g.newPatients(&ext, g.chance(0.85), &s.networks[g.intn(len(s.networks))])
	}
	if s.ehr {
		p := &ehrProducts[g.intn(len(ehrProducts))]
		g.ext(&ext, "ehr")
		e.arr("extension")
		e.subExt("developer")
		e.str("valueString", p.developer)
		e.end()
		e.subExt("product")
		e.str("valueString", p.product)
		e.end()
		e.subExt("version")
		e.str("valueString", p.version)
		e.end()
		e.subExt("certificationEdition")
		e.obj("valueCoding")
		e.str("system", sysVhdirCS+"ehrcharacteristics")
		e.str("code", p.edition)
		e.str("display", "ONC "+p.edition+" Certification")
		e.end()
		e.end()
		e.subExt("patientAccess")
		e.cc("valueCodeableConcept", sysVhdirCS+"ehrcharacteristics", code{"portal", "patient portal"}, "")
		e.end()
		e.endArr()
		e.end()
	}
	g.endRootExt(&ext)

	e.arr("identifier")
	e.identStart("active")
	e.str("use", "secondary")
	e.localID(u.domain, "location", "L", u.loc.n, 6, u.org, u.name)
	e.endArr()
	e.str("status", "active")
	e.str("name", s.name)
	if s.description != "" {
		e.str("description", s.description)
	}
	switch {
	case u.kind == uHospital:
		e.ccList("type", sysRoleCode, typeHospital, "")
	case u.svc != nil && u.svc.locType.code != "":
		e.ccList("type", sysRoleCode, u.svc.locType, "")
	case u.svc != nil:
		e.ccList("type", "", code{}, u.svc.locType.display)
	}
	e.arr("telecom")
	p := u.phone
	g.contactPoint("phone", func(e *enc) { e.addPhone(p) }, "work", 1, &s.hours, g.restrictHere(elemTelecom))
	e.endArr()
	g.addressObj("address", &u.addr, "work", false, g.restrictHere(elemAddress))
	e.cc("physicalType", sysPhysType, s.phys, "")
	e.obj("position")
	e.dec("longitude", u.addr.lon, 6)
	e.dec("latitude", u.addr.lat, 6)
	e.end()
	e.ref("managingOrganization", tOrganization, u.org, u.name)
	if !s.partOf.zero() {
		e.ref("partOf", tLocation, s.partOf, s.partOfName)
	}
	e.availableTime("hoursOfOperation", s.hours, "openingTime", "closingTime")
	if !s.hours.allDay {
		e.str("availabilityExceptions", "Closed on federal holidays")
	}
	if !u.direct.zero() {
		e.refList("endpoint", tEndpoint, u.direct, "")
	}
	g.finish()
}

// newPatients writes the newpatients extension.
func (g *gen) newPatients(ext *lazy, accepting bool, n *netRef) {
	e := &g.e
	g.ext(ext, "newpatients")
	e.arr("extension")
	e.subExt("acceptingPatients")
	e.bool("valueBoolean", accepting)
	e.end()
	e.subExt("network")
	e.ref("valueReference", tOrganization, networkID(n.k), n.name)
	e.end()
	e.endArr()
	e.end()
}

// healthcareService writes the HealthcareService of unit u, offered at
// locations locs.
func (g *gen) healthcareService(u *unit, name string, locs []id, hrs hours, networks []netRef) {
	svc := u.svc
	g.decide(u.actor, u.actorName, elemTelecom)
	e := g.begin(tHealthcareService, u.hcs, profiles[tHealthcareService])
	ext := lazy{key: "extension"}
	if len(networks) > 0 {
		g.newPatients(&ext, g.chance(0.8), &networks[g.intn(len(networks))])
	}
	g.endRootExt(&ext)
	e.arr("identifier")
	e.identStart("active")
	e.str("use", "secondary")
	e.localID(u.domain, "service", "S", u.hcs.n, 6, u.org, u.name)
	e.endArr()
	e.bool("active", true)
	e.ref("providedBy", tOrganization, u.org, u.name)
	e.ccList("category", sysServiceCat, svc.category, "")
	e.ccList("type", sysServiceType, svc.typ, "")
	e.ccList("specialty", sysSNOMED, svc.spec, "")
	e.arr("location")
	for _, l := range locs {
		e.refItem(tLocation, l, "")
	}
	e.endArr()
	e.str("name", name)
	e.open("comment")
	e.add(svc.name)
	e.add(": consultations, diagnostics, treatment and follow-up care")
	e.close()
	e.arr("telecom")
	p := u.phone
	g.contactPoint("phone", func(e *enc) { e.addPhone(p) }, "work", 1, &hrs, g.restrictHere(elemTelecom))
	if g.chance(0.5) {
		fax := g.newPhone(u.addr.city.area)
		g.contactPoint("fax", func(e *enc) { e.addPhone(fax) }, "work", 0, nil, false)
	}
	e.endArr()
	e.arr("serviceProvisionCode")
	e.ccItem(sysProvisionCond, code{"cost", "Fees apply"}, "")
	e.endArr()
	if g.chance(0.3) {
		e.arr("eligibility")
		e.item()
		e.cc("code", sysVhdirCS+"healthcareservice-eligibility", code{"adult", "Adult"}, "")
		e.str("comment", "Adults 18 and older")
		e.end()
		e.endArr()
	}
	if !hrs.allDay && hrs.days == 5 && g.chance(0.2) {
		e.ccList("characteristic", sysVhdirCS+"healthcareservice-characteristic", code{"limitedhrs", "Limited Hours"}, "")
	}
	e.arr("communication")
	e.ccItem(sysLang, code{"en", "English"}, "")
	if g.chance(0.4) {
		e.ccItem(sysLang, code{"es", "Spanish"}, "")
	}
	e.endArr()
	e.arr("referralMethod")
	e.ccItem(sysReferral, code{"phone", "Phone"}, "")
	e.ccItem(sysReferral, code{"fax", "Fax"}, "")
	e.ccItem(sysReferral, code{"elec", "Secure Messaging"}, "")
	e.endArr()
	e.bool("appointmentRequired", svc.category != catEmergency)
	e.availableTime("availableTime", hrs, "availableStartTime", "availableEndTime")
	if !u.direct.zero() {
		e.refList("endpoint", tEndpoint, u.direct, "")
	}
	g.finish()
}

// affiliation writes an OrganizationAffiliation: facility u participates
// in a payer's network, or is a member of the state's HIE (n == nil).
func (g *gen) affiliation(m *market, u *unit, n *netRef) {
	org, orgName, domain := m.hie, m.hieName, m.hieDomain
	if n != nil {
		org, orgName, domain = payerOrg(n.payer), n.payerName, n.payerDomain
	}
	g.nAff++
	x := id{"aff-", g.nAff}
	g.decide(u.actor, u.actorName, elemTelecom)
	e := g.begin(tOrganizationAffiliation, x, profiles[tOrganizationAffiliation])
	ext := lazy{key: "extension"}
	if n != nil && g.chance(0.5) {
		g.ext(&ext, "network-reference")
		e.ref("valueReference", tOrganization, networkID(n.k), n.name)
		e.end()
	}
	g.endRootExt(&ext)
	e.arr("identifier")
	e.identStart("active")
	e.str("use", "secondary")
	e.localID(domain, "participation", "PAR", g.nAff, 7, org, orgName)
	e.endArr()
	e.bool("active", true)
	e.period("period", past(max(u.since, yearStart(2010))+g.intn(4000)), 0)
	e.ref("organization", tOrganization, org, orgName)
	e.ref("participatingOrganization", tOrganization, u.org, u.name)
	if n != nil {
		e.refList("network", tOrganization, networkID(n.k), n.name)
		e.ccList("code", sysOrgRole, code{"provider", "Provider"}, "In-network provider")
	} else {
		e.ccList("code", sysOrgRole, code{"member", "Member"}, "HIE member")
	}
	if u.svc != nil {
		e.ccList("specialty", sysSNOMED, u.svc.spec, "")
	}
	e.refList("location", tLocation, u.loc, "")
	if !u.hcs.zero() {
		e.refList("healthcareService", tHealthcareService, u.hcs, "")
	}
	e.arr("telecom")
	p := u.phone
	g.contactPoint("phone", func(e *enc) { e.addPhone(p) }, "work", 0, nil, g.restrictHere(elemTelecom))
	e.endArr()
	if !u.direct.zero() {
		e.refList("endpoint", tEndpoint, u.direct, "")
	}
	g.finish()
}

// careTeam writes the care team of unit u: the first practitioner roles
// that work there.
func (g *gen) careTeam(u *unit) {
	g.nTeam++
	x := id{"team-", g.nTeam}
	g.decide(u.actor, u.actorName, elemTelecom)
	e := g.begin(tCareTeam, x, profiles[tCareTeam])
	ext := lazy{key: "extension"}
	g.ext(&ext, "careteam-alias")
	e.str("valueString", u.svc.name+" Team")
	e.end()
	g.ext(&ext, "location-reference")
	e.ref("valueReference", tLocation, u.loc, "")
	e.end()
	g.ext(&ext, "healthcareservice-reference")
	e.ref("valueReference", tHealthcareService, u.hcs, "")
	e.end()
	if !u.direct.zero() {
		g.ext(&ext, "endpoint-reference")
		e.ref("valueReference", tEndpoint, u.direct, "")
		e.end()
	}
	g.endRootExt(&ext)
	e.arr("identifier")
	e.identStart("active")
	e.str("use", "secondary")
	e.localID(u.domain, "careteam", "CT", g.nTeam, 6, u.org, u.name)
	e.endArr()
	e.str("status", "active")
	e.arr("category")
	e.ccItem(sysLOINC, careTeamCategories[g.intn(len(careTeamCategories))], "")
	e.endArr()
	e.str("name", u.name+" Care Team")
	start := past(max(u.since, asOf-8*365) + g.intn(1500))
	e.period("period", start, 0)
	e.arr("participant")
	for _, mb := range u.team[:u.nteam] {
		k := &kinds[mb.kind]
		e.item()
		e.ccList("role", sysNUCC, k.nucc, "")
		e.ref("member", tPractitionerRole, mb.role, "")
		e.period("period", past(start+g.intn(400)), 0)
		e.end()
	}
	e.endArr()
	e.refList("managingOrganization", tOrganization, u.org, u.name)
	e.arr("telecom")
	domain, mailbox := u.domain, u.mailbox
	g.contactPoint("email", func(e *enc) { e.add(mailbox); e.add("-team@"); e.add(domain) }, "work", 0, nil, g.restrictHere(elemTelecom))
	e.endArr()
	e.arr("note")
	e.item()
	e.str("authorString", u.name)
	e.str("text", "Coordinates "+u.svc.name+" care across inpatient and outpatient settings")
	e.end()
	e.endArr()
	g.finish()
}
