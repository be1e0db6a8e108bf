package gen

// Practitioners, their roles and the verification of their licences and
// addresses: the bulk of a directory. This is the hot path, written to
// allocate nothing per practitioner.

// person is the practitioner being written.
type person struct {
	n                  int
	x                  id
	female             bool
	given, family      string
	middle             byte // middle initial, 0 for none
	ki                 int
	k                  *kind
	degree, degreeText string
	birth              int
	licStart, licEnd   int
	licNum             int
	certStart          int // board certification, 0 for none
	state              int // licence state
	personal           id  // the practitioner's own Direct endpoint, if any
	langs              [2]int8
	nlangs             int
	nets               [2]int // indexes into the market's networks
	nnets              int
}

// licence identifier types (v2-0203).
var (
	idMedLicence = code{"MD", "Medical License number"}
	idLicence    = code{"LN", "License number"}
)

// writePractitioner draws a practitioner working at unit home and writes
// the Practitioner, its roles and its verification results.
func (g *gen) writePractitioner(m *market, home int) {
	u := &m.units[home]
	g.nPrac++
	p := &g.p
	*p = person{n: g.nPrac, x: id{"prac-", g.nPrac}, state: m.state}
	p.ki = u.svc.mix[g.intn(len(u.svc.mix))]
	p.k = &kinds[p.ki]
	femaleShare := 0.5
	if p.k.lic == licNursing {
		femaleShare = 0.85
	}
	p.female = g.chance(femaleShare)
	if p.female {
		p.given = femaleNames[g.intn(len(femaleNames))]
	} else {
		p.given = maleNames[g.intn(len(maleNames))]
	}
	p.family = surnames[g.intn(len(surnames))]
	if g.chance(0.6) {
		p.middle = middleInitials[g.intn(len(middleInitials))]
	}
	p.degree, p.degreeText = p.k.degree, p.k.degreeText
	if p.degree == "MD" && g.chance(0.11) {
		p.degree, p.degreeText = "DO", "DO"
	}
	age := g.between(29, 70)
	p.birth = asOf - age*365 - g.intn(365)
	// First licensed after medical, nursing or graduate school.
	p.licStart = min(p.birth+g.between(25*365, 32*365), asOf-g.between(60, 400))
	p.licEnd = asOf + g.between(30, 730)
	p.licNum = 10000 + int(g.hash(5, uint64(p.n))%990000)
	if p.k.board != "" && g.chance(0.85) {
		p.certStart = p.licStart + g.between(700, 2000)
		if p.certStart > asOf-30 {
			p.certStart = 0
		}
	}
	for i := range languages {
		if p.nlangs < len(p.langs) && g.intn(1000) < languages[i].permille {
			p.langs[p.nlangs] = int8(i)
			p.nlangs++
		}
	}
	if n := len(m.networks); n > 0 {
		p.nets[0] = g.intn(n)
		p.nnets = 1
		if n > 1 && g.chance(0.5) {
			p.nets[1] = (p.nets[0] + 1 + g.intn(n-1)) % n
			p.nnets = 2
		}
	}
	if g.chance(0.25) {
		g.nEp++
		p.personal = id{"ep-", g.nEp}
		since := past(max(p.licStart, yearStart(2012)) + g.intn(1000))
		g.endpoint(&endpointSpec{x: p.personal, person: p, org: u.org, orgName: u.name, domain: u.domain,
			since: since, area: u.addr.city.area, actor: u.actor, actorName: u.actorName})
	}

	// Roles: 55 % one, 40 % two, 5 % three (1.5 on average). A further
	// role is elsewhere in the market where the practitioner's kind works
	// (another hospital's department or a clinic of the system; another
	// office of a practice, or privileges at a hospital department), or
	// else a teaching or research role at the same place.
	var roles [3]int
	roles[0] = home
	nroles := 1
	switch x := g.intn(100); {
	case x >= 95:
		nroles = 3
	case x >= 55:
		nroles = 2
	}
	for r := 1; r < nroles; r++ {
		roles[r] = g.otherUnit(m, home, p.ki)
	}

	g.practitionerResource(m, u)
	g.role(m, home, true, code{})
	for r := 1; r < nroles; r++ {
		if roles[r] >= 0 {
			g.role(m, roles[r], false, code{})
		} else {
			g.role(m, home, false, pick(g, academicRoles[:]))
		}
	}
	g.licenceVerification()
	if g.chance(0.4) {
		g.addressVerification(u)
	}
}

var academicRoles = [...]code{{"teacher", "Teacher/educator"}, {"researcher", "Researcher"}}

// otherUnit picks a unit other than home where kind ki works, or returns
// -1 when there is none. The pick is uniform over the candidates
// (reservoir sampling, so nothing is collected).
func (g *gen) otherUnit(m *market, home, ki int) int {
	u := &m.units[home]
	if u.kind == uPractice || u.kind == uOffice {
		main := home
		if u.kind == uOffice {
			main = u.parent
		}
		if g.chance(0.5) {
			seen, choice := 0, -1
			for j := main; j < len(m.units) && (j == main || m.units[j].kind == uOffice); j++ {
				if j != home {
					seen++
					if g.intn(seen) == 0 {
						choice = j
					}
				}
			}
			if choice >= 0 {
				return choice
			}
		}
		return g.pickUnit(m, m.depts, home, ki)
	}
	return g.pickUnit(m, m.systemUnits, home, ki)
}

// pickUnit picks one of units (other than home) whose staff mix includes
// kind ki, or -1.
func (g *gen) pickUnit(m *market, units []int, home, ki int) int {
	seen, choice := 0, -1
	for _, j := range units {
		if j == home {
			continue
		}
		for _, k := range m.units[j].svc.mix {
			if k == ki {
				seen++
				if g.intn(seen) == 0 {
					choice = j
				}
				break
			}
		}
	}
	return choice
}

// addName writes the person's display name: "Dr. Maria L. Garcia, MD".
func (e *enc) addName(p *person) {
	if p.k.title != "" {
		e.add(p.k.title)
		e.add(" ")
	}
	e.add(p.given)
	if p.middle != 0 {
		e.b = append(e.b, ' ', p.middle, '.')
	}
	e.add(" ")
	e.add(p.family)
	e.add(", ")
	e.add(p.degreeText)
}

func (e *enc) addEmail(p *person, domain string) {
	e.addLower(p.given)
	e.add(".")
	e.addLower(p.family)
	e.add("@")
	e.add(domain)
}

// practitionerResource writes the Practitioner.
func (g *gen) practitionerResource(m *market, u *unit) {
	p := &g.p
	k := p.k
	g.decide(u.actor, u.actorName, elemTelecom|elemAddress)
	e := g.begin(tPractitioner, p.x, profiles[tPractitioner])
	ext := lazy{key: "extension"}
	if !p.personal.zero() {
		g.ext(&ext, "endpoint-reference")
		e.ref("valueReference", tEndpoint, p.personal, "")
		e.end()
	}
	if g.chance(0.08) {
		g.ext(&ext, "accessibility")
		e.obj("valueCodeableConcept")
		e.arr("coding")
		e.coding(sysVhdirCS+"accessibility", code{"cultcomp", "Cultural competence"})
		e.endArr()
		e.str("text", "Completed cultural competency training")
		e.end()
		e.end()
	}
	g.endRootExt(&ext)

	e.arr("identifier")
	g.npiIdent(1, p.n, max(p.licStart, yearStart(2007))+g.intn(200))
	e.endArr()
	e.bool("active", true)

	e.arr("name")
	e.item()
	e.str("use", "official")
	e.open("text")
	e.addName(p)
	e.close()
	e.str("family", p.family)
	e.arr("given")
	e.strItem(p.given)
	if p.middle != 0 {
		e.openItem()
		e.b = append(e.b, p.middle, '.')
		e.close()
	}
	e.endArr()
	if k.title != "" {
		e.strList("prefix", k.title)
	}
	e.strList("suffix", p.degreeText)
	e.end()
	e.endArr()

	e.arr("telecom")
	ph := u.phone
	g.contactPoint("phone", func(e *enc) { e.addPhone(ph) }, "work", 1, &businessHours, g.restrictHere(elemTelecom))
	domain := u.domain
	g.contactPoint("email", func(e *enc) { e.addEmail(p, domain) }, "work", 2, nil, false)
	e.endArr()
	g.addressList("address", &u.addr, "work", true, g.restrictHere(elemAddress))
	if p.female {
		e.str("gender", "female")
	} else {
		e.str("gender", "male")
	}
	e.date("birthDate", p.birth)

	e.arr("qualification")
	g.licenceQualification()
	if p.certStart > 0 {
		g.boardQualification()
	}
	e.endArr()

	e.arr("communication")
	e.ccItem(sysLang, code{"en", "English"}, "English")
	for _, li := range p.langs[:p.nlangs] {
		l := &languages[li]
		e.item()
		e.arr("extension")
		e.extOpen("communication-proficiency")
		e.cc("valueCodeableConcept", sysVhdirCS+"languageproficiency", proficiency[g.intn(len(proficiency))], "")
		e.end()
		e.endArr()
		e.arr("coding")
		e.coding(sysLang, code{l.code, l.display})
		e.endArr()
		e.str("text", l.display)
		e.end()
	}
	e.endArr()
	g.finish()
}

// licenceQualification writes qualification[0]: the state licence.
func (g *gen) licenceQualification() {
	e, p, k := &g.e, &g.p, g.p.k
	st := stateCodes[p.state]
	e.item()
	e.arr("extension")
	e.extOpen("practitioner-qualification")
	e.arr("extension")
	e.subExt("status")
	e.obj("valueCoding")
	e.str("system", sysResStatus)
	e.str("code", "active")
	e.str("display", "active")
	e.end()
	e.end()
	e.subExt("whereValid")
	e.cc("valueCodeableConcept", sysUSPS, code{st, states[st]}, "")
	e.end()
	e.endArr()
	e.end()
	e.endArr()
	e.arr("identifier")
	e.identStart("active")
	e.str("use", "official")
	if k.lic == licMedical && k.role == roleDoctor {
		e.identType(idMedLicence, "")
	} else {
		e.identType(idLicence, "")
	}
	e.open("system")
	e.add("https://")
	e.add(boardHosts[p.state][k.lic])
	e.add("/license")
	e.close()
	e.open("value")
	e.add(k.licPrefix)
	e.addPad(p.licNum, 6)
	e.close()
	e.period("period", p.licStart, p.licEnd)
	e.ref("assigner", tOrganization, boardIDs[p.state][k.lic], boardNms[p.state][k.lic])
	e.end()
	e.endArr()
	if p.degree != "" {
		e.cc("code", sysV2Degree, code{p.degree, degrees[p.degree]}, p.degreeText)
	} else {
		e.cc("code", "", code{}, p.degreeText)
	}
	e.period("period", p.licStart, p.licEnd)
	e.ref("issuer", tOrganization, boardIDs[p.state][k.lic], boardNms[p.state][k.lic])
	e.end()
}

// boardQualification writes qualification[1]: the specialty board
// certification (ten years).
func (g *gen) boardQualification() {
	e, p, k := &g.e, &g.p, g.p.k
	e.item()
	e.arr("identifier")
	e.identStart("active")
	e.str("use", "official")
	e.str("system", kindBoardSystems[p.ki])
	e.open("value")
	e.addPad(int(g.hash(6, uint64(p.n))%1000000), 6)
	e.close()
	e.end()
	e.endArr()
	e.obj("code")
	e.arr("coding")
	e.coding(sysNUCC, k.nucc)
	e.endArr()
	e.open("text")
	e.add("Board certified: ")
	e.add(k.nucc.display)
	e.close()
	e.end()
	e.period("period", p.certStart, p.certStart+10*365)
	e.obj("issuer")
	e.str("display", k.board)
	e.end()
	e.end()
}

// kindBoardSystems are identifier systems of the certifying boards.
var kindBoardSystems = func() (s [len(kinds)]string) {
	for i, k := range kinds {
		if k.board != "" {
			s[i] = "https://www." + slug(k.board) + ".example/certification"
		}
	}
	return s
}()

// role writes a PractitionerRole of the current practitioner at unit ui;
// alt, when set, is an academic role code replacing the clinical one.
func (g *gen) role(m *market, ui int, primary bool, alt code) {
	p, k := &g.p, g.p.k
	u := &m.units[ui]
	g.nRole++
	x := id{"role-", g.nRole}
	if primary && u.nteam < teamMax {
		u.team[u.nteam] = member{role: x, kind: p.ki}
		u.nteam++
	}
	g.decide(u.actor, u.actorName, elemTelecom)
	e := g.begin(tPractitionerRole, x, profiles[tPractitionerRole])
	ext := lazy{key: "extension"}
	for _, ni := range p.nets[:p.nnets] {
		n := &m.networks[ni]
		g.ext(&ext, "network-reference")
		e.ref("valueReference", tOrganization, networkID(n.k), n.name)
		e.end()
	}
	if p.nnets > 0 {
		g.newPatients(&ext, g.chance(0.75), &m.networks[p.nets[0]])
		if g.chance(0.1) {
			g.ext(&ext, "newpatientprofile")
			e.str("valueString", "New patients accepted by referral from an in-network primary care provider")
			e.end()
		}
	}
	if primary && k.prescriber {
		g.deaQualification(&ext)
	}
	g.endRootExt(&ext)

	e.arr("identifier")
	e.identStart("active")
	e.str("use", "secondary")
	e.identType(code{"PRN", "Provider number"}, "Provider ID")
	e.localID(u.domain, "provider", "P", g.nRole, 7, u.org, u.name)
	e.endArr()
	e.bool("active", g.chance(0.97))
	e.period("period", past(max(p.licStart, u.since)+g.intn(1500)), 0)
	e.obj("practitioner")
	e.refBody(tPractitioner, p.x, "")
	e.open("display")
	e.addName(p)
	e.close()
	e.end()
	e.ref("organization", tOrganization, u.org, u.name)
	e.arr("code")
	e.item()
	e.arr("coding")
	switch {
	case alt.code != "":
		e.coding(sysPracRole, alt)
	case k.role.code != "":
		e.coding(sysPracRole, k.role)
	}
	e.coding(sysNUCC, k.nucc)
	e.endArr()
	if alt.code != "" {
		e.str("text", alt.display)
	} else {
		e.str("text", k.nucc.display)
	}
	e.end()
	e.endArr()
	e.arr("specialty")
	e.ccItem(sysSNOMED, k.snomed, "")
	e.endArr()
	e.refList("location", tLocation, u.loc, "")
	if !u.hcs.zero() {
		e.refList("healthcareService", tHealthcareService, u.hcs, "")
	}
	e.arr("telecom")
	hrs := businessHours
	if u.kind == uHospital || u.svc.category == catEmergency {
		hrs = hours{days: 7, allDay: true}
	}
	ph := u.phone
	g.contactPoint("phone", func(e *enc) { e.addPhone(ph) }, "work", 1, &hrs, g.restrictHere(elemTelecom))
	e.endArr()
	if !primary {
		hrs = hours{days: g.between(1, 3), start: 8, end: 12 + g.intn(6)}
	}
	e.availableTime("availableTime", hrs, "availableStartTime", "availableEndTime")
	if g.chance(0.2) {
		e.str("availabilityExceptions", "Not available on federal holidays")
	}
	e.arr("endpoint")
	e.refItem(tEndpoint, u.direct, "")
	if !p.personal.zero() {
		e.refItem(tEndpoint, p.personal, "")
	}
	e.endArr()
	g.finish()
}

// deaQualification writes the qualification extension holding the
// practitioner's DEA registration: two letters (B for practitioners, M
// for mid-levels, then the surname's initial) and seven digits, the last
// a check digit.
func (g *gen) deaQualification(ext *lazy) {
	e, p := &g.e, &g.p
	var dea [9]byte
	dea[0] = 'B'
	if p.k.role != roleDoctor {
		dea[0] = 'M'
	}
	dea[1] = p.family[0]
	v := g.hash(7, uint64(p.n)) % 1_000_000
	for i := 7; i >= 2; i-- {
		dea[i] = byte('0' + v%10)
		v /= 10
	}
	d := func(i int) int { return int(dea[i+1] - '0') } // digits 1..6
	dea[8] = byte('0' + (d(1)+d(3)+d(5)+2*(d(2)+d(4)+d(6)))%10)
	start := asOf - g.between(30, 1000)
	g.ext(ext, "qualification")
	e.arr("extension")
	e.subExt("identifier")
	e.obj("valueIdentifier")
	e.arr("extension")
	e.extOpen("identifier-status")
	e.str("valueCode", "active")
	e.end()
	e.endArr()
	e.str("use", "official")
	e.identType(code{"DEA", "Drug Enforcement Administration registration number"}, "DEA Registration Number")
	e.str("system", sysDEA)
	e.key("value")
	e.b = append(e.b, '"')
	e.b = append(e.b, dea[:]...)
	e.b = append(e.b, '"')
	e.more = true
	e.period("period", start, start+3*365)
	e.end()
	e.end()
	e.qualificationCode("DEA Registration Number", "US Drug Enforcement Administration (DEA)")
	e.subExt("period")
	e.period("valuePeriod", start, start+3*365)
	e.end()
	e.subExt("whereValid")
	st := stateCodes[p.state]
	e.cc("valueCodeableConcept", sysUSPS, code{st, states[st]}, "")
	e.end()
	e.endArr()
	e.end()
}

const (
	sysNeed       = "http://terminology.hl7.org/CodeSystem/need"
	sysVRStatus   = "http://terminology.hl7.org/CodeSystem/validation-status"
	sysValType    = "http://terminology.hl7.org/CodeSystem/validation-type"
	sysValProcess = "http://terminology.hl7.org/CodeSystem/validation-process"
	sysFailure    = "http://terminology.hl7.org/CodeSystem/failure-action"
	sysPSType     = "http://terminology.hl7.org/CodeSystem/primary-source-type"
	sysCommMethod = "http://terminology.hl7.org/CodeSystem/verificationresult-communication-method"
	sysPush       = "http://terminology.hl7.org/CodeSystem/can-push-updates"
	sysPushType   = "http://terminology.hl7.org/CodeSystem/push-type-available"
)

// licenceVerification writes the VerificationResult of the current
// practitioner's licence (qualification[0]), checked yearly with the
// state board.
func (g *gen) licenceVerification() {
	p := &g.p
	board, boardName := boardIDs[p.state][p.k.lic], boardNms[p.state][p.k.lic]
	status, outcome := "validated", code{"successful", "Successful"}
	switch x := g.intn(100); {
	case x == 0:
		status, outcome = "val-fail", code{"failed", "Failed"}
	case x < 3:
		status, outcome = "in-process", code{"unknown", "Unknown"}
	}
	last := asOf - g.intn(330)
	g.verification("Practitioner.qualification[0]", code{"periodic", "Periodic"}, status, last, true,
		code{"fatal", "Fatal"}, board, boardName, code{"lic-board", "License Board"}, outcome,
		tPractitioner, p.x)
}

// addressVerification writes the VerificationResult of the practitioner's
// address, checked once against USPS and attested by the organization.
func (g *gen) addressVerification(u *unit) {
	g.verification("Practitioner.address[0]", code{"initial", "Initial"}, "validated", asOf-g.intn(700), false,
		code{"warn", "Warning"}, orgUSPS, nameUSPS, code{"post-serv", "Postal Service"}, code{"successful", "Successful"},
		tOrganization, u.org)
}

// verification writes a VerificationResult of the current practitioner.
func (g *gen) verification(where string, need code, status string, last int, periodic bool, failure code,
	source id, sourceName string, sourceType, outcome code, whoType rtype, who id) {
	p := &g.p
	g.nVR++
	g.restr = restrictNone // vhdir-validation has no restriction slice
	e := g.begin(tVerificationResult, id{"vr-", g.nVR}, profiles[tVerificationResult])
	e.arr("target")
	e.item()
	e.refBody(tPractitioner, p.x, "")
	e.open("display")
	e.addName(p)
	e.close()
	e.end()
	e.endArr()
	e.strList("targetLocation", where)
	e.cc("need", sysNeed, need, "")
	e.str("status", status)
	hour, minute := 9+g.intn(8), g.intn(60)
	e.dateTime("statusDate", last, hour, minute)
	e.cc("validationType", sysValType, code{"primary", "Primary Source"}, "")
	e.ccList("validationProcess", sysValProcess, code{"primary", "Primary Source"}, "")
	if periodic {
		e.obj("frequency")
		e.obj("repeat")
		e.int("frequency", 1)
		e.int("period", 1)
		e.str("periodUnit", "a")
		e.end()
		e.end()
	}
	e.dateTime("lastPerformed", last, hour, minute)
	if periodic {
		e.date("nextScheduled", last+365)
	}
	e.cc("failureAction", sysFailure, failure, "")
	e.arr("primarySource")
	e.item()
	e.ref("who", tOrganization, source, sourceName)
	e.ccList("type", sysPSType, sourceType, "")
	e.ccList("communicationMethod", sysCommMethod, code{"pull", "Pull"}, "")
	e.cc("validationStatus", sysVRStatus, outcome, "")
	e.dateTime("validationDate", last, hour, minute)
	e.cc("canPushUpdates", sysPush, code{"no", "No"}, "")
	e.end()
	e.endArr()
	e.obj("attestation")
	if whoType == tPractitioner {
		e.obj("who")
		e.refBody(tPractitioner, p.x, "")
		e.open("display")
		e.addName(p)
		e.close()
		e.end()
	} else {
		e.ref("who", whoType, who, "")
	}
	e.cc("communicationMethod", sysCommMethod, code{"portal", "Portal"}, "")
	e.date("date", last-g.between(10, 120))
	e.end()
	e.arr("validator")
	e.item()
	e.ref("organization", tOrganization, orgValidator, nameValidator)
	e.end()
	e.endArr()
	g.finish()
}
