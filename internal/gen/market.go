package gen

// A market is a health system (hospitals with departments, ambulatory
// clinics) and the independent practices around it, in one state, with the
// payer networks they contract with. It is the unit of generation: planned
// (drawing sizes within the practitioners still to write), then written
// out, then forgotten. Its size is bounded, so memory does not grow with
// the directory.

type unitKind uint8

const (
	uSystem unitKind = iota
	uHospital
	uDept
	uClinic
	uPractice
	uOffice // a practice's further office: its own Location, the practice's organization
)

// teamMax bounds a care team's participants.
const teamMax = 6

type member struct {
	role id
	kind int
}

// unit is an organization of the market (or a practice's extra office).
type unit struct {
	kind      unitKind
	svc       *service // nil for the system and hospitals
	org       id
	name      string
	parent    int // index of the parent unit, -1 for none
	loc, hcs  id
	direct    id // Direct endpoint
	fhir      id // FHIR endpoint (system and some practices)
	addr      address
	phone     phone
	domain    string
	mailbox   string // local part of the Direct address
	staff     int
	since     int // founded
	actor     id  // whom a usage restriction permits
	actorName string
	team      [teamMax]member
	nteam     int
}

// netRef is a payer network a market contracts with.
type netRef struct {
	k, payer                     int
	name, payerName, payerDomain string
}

type market struct {
	city               *city
	state              int
	units              []unit
	networks           []netRef
	systemUnits        []int // departments and clinics: where system staff work
	depts              []int
	hie                id
	hieName, hieDomain string
}

var hospitalSuffixes = [...]string{"Medical Center", "Hospital", "Regional Medical Center", "Memorial Hospital", "Community Hospital"}

var placeWords = [...]string{"Downtown", "Midtown", "Northside", "Southside", "Westside", "Eastside", "Uptown", "Riverside", "Lakeside", "Parkway", "Crossroads", "Village"}

// market plans and writes one market.
func (g *gen) market() {
	m := &g.m
	m.units, m.networks, m.systemUnits, m.depts = m.units[:0], m.networks[:0], m.systemUnits[:0], m.depts[:0]
	ci := g.weighted(cityCum)
	m.city, m.state = &cities[ci], cityState[ci]
	g.stateOrganizations(m.state)
	m.hie, m.hieName = hieID(m.state)
	m.hieDomain = slug(states[stateCodes[m.state]]) + "hie.example"
	g.chooseNetworks(m)
	budget := g.cfg.Practitioners - g.nPrac
	g.planSystem(m, &budget)
	g.planPractices(m, &budget)
	g.writeMarket(m)
}

// chooseNetworks picks the payer networks of the market: those of up to
// two payers based in the state, and of one or two others.
func (g *gen) chooseNetworks(m *market) {
	var chosen [4]int
	n := 0
	local := 0
	start := g.intn(g.payers)
	for i := 0; i < g.payers && local < 2; i++ {
		p := (start + i) % g.payers
		if cityState[g.payerCity(p)] == m.state {
			chosen[n] = p
			n++
			local++
		}
	}
	for want := n + g.between(1, 2); n < want && n < g.payers; {
		p := g.intn(g.payers)
		dup := false
		for _, c := range chosen[:n] {
			dup = dup || c == p
		}
		if !dup {
			chosen[n] = p
			n++
		}
	}
	for _, p := range chosen[:n] {
		pi := g.payerInfo(p)
		both := g.chance(0.5)
		first := g.intn(2)
		for j := range 2 {
			if j == first || both {
				m.networks = append(m.networks, netRef{k: networksPerPayer*p + j, payer: p, name: pi.networkName(j), payerName: pi.name, payerDomain: pi.domain})
			}
		}
	}
}

// otherCity returns a city of the market's state, weighted by population.
func (g *gen) otherCity(m *market) *city {
	cum := stateCityCums[m.state]
	return &cities[stateCities[m.state][g.weighted(cum)]]
}

func (g *gen) newUnit(m *market, kind unitKind, parent int) *unit {
	m.units = append(m.units, unit{kind: kind, parent: parent})
	return &m.units[len(m.units)-1]
}

// take gives a unit up to want practitioners from the budget.
func take(budget *int, want int) int {
	n := min(want, *budget)
	*budget -= n
	return n
}

// planSystem plans the health system: its hospitals with departments and
// its clinics, as long as the budget of practitioners lasts.
func (g *gen) planSystem(m *market, budget *int) {
	word := pick(g, systemWords[:])
	name := word + " " + pick(g, systemSuffixes[:])
	if g.chance(0.3) {
		name += " of " + m.city.name
	}
	sys := g.newUnit(m, uSystem, -1)
	g.nOrg++
	sys.org, sys.name = id{"org-", g.nOrg}, name
	sys.addr = g.newAddress(m.city, true)
	sys.phone = g.newPhone(m.city.area)
	sys.domain = slug(name) + ".example"
	sys.since = yearStart(1950 + g.intn(60))
	sys.actor, sys.actorName = sys.org, name
	g.nEp++
	sys.fhir = id{"ep-", g.nEp}
	domain, actor := sys.domain, sys.org

	nh := [...]int{1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5}[g.intn(11)] // hospitals
	for h := 0; h < nh && *budget > 0; h++ {
		c := m.city
		if h > 0 && g.chance(0.5) {
			c = g.otherCity(m)
		}
		hn := word + " " + hospitalSuffixes[h%len(hospitalSuffixes)]
		if c != m.city {
			hn += " " + c.name
		}
		hi := len(m.units)
		hosp := g.newUnit(m, uHospital, 0)
		g.nOrg++
		g.nLoc++
		g.nEp++
		hosp.org, hosp.name, hosp.loc, hosp.direct, hosp.fhir = id{"org-", g.nOrg}, hn, id{"loc-", g.nLoc}, id{"ep-", g.nEp}, m.units[0].fhir
		hosp.addr = g.newAddress(c, false)
		hosp.phone = g.newPhone(c.area)
		hosp.domain, hosp.mailbox = domain, "hospital"+string(appendPad(nil, h+1, 1))
		hosp.since = yearStart(1900 + g.intn(100))
		hosp.actor, hosp.actorName = actor, name

		// Departments: emergency and internal medicine, then others.
		var order [len(departments)]int
		order[0], order[1] = deptEmergency, deptInternal
		n := 2
		for i := range departments {
			if i != deptEmergency && i != deptInternal {
				order[n] = i
				n++
			}
		}
		for i := 2; i < len(order); i++ {
			j := i + g.intn(len(order)-i)
			order[i], order[j] = order[j], order[i]
		}
		hospName, hospAddr, hospSince := hn, hosp.addr, hosp.since
		nd := g.between(4, 9)
		if h > 0 {
			nd = g.between(3, 7)
		}
		for d := 0; d < nd && *budget > 0; d++ {
			svc := &departments[order[d]]
			dept := g.newUnit(m, uDept, hi)
			g.nOrg++
			g.nLoc++
			g.nEp++
			g.nHcs++
			dept.svc = svc
			dept.org, dept.name, dept.loc, dept.direct, dept.hcs = id{"org-", g.nOrg}, hospName+" "+svc.name, id{"loc-", g.nLoc}, id{"ep-", g.nEp}, id{"hcs-", g.nHcs}
			dept.addr = hospAddr
			dept.addr.suite = 100*(d+1) + g.intn(20)
			dept.phone = g.newPhone(c.area)
			dept.domain, dept.mailbox = domain, slug(svc.name)
			dept.since = max(hospSince, yearStart(1990)) + g.intn(9000)
			dept.actor, dept.actorName = actor, name
			dept.staff = take(budget, g.between(6, 30))
			m.systemUnits = append(m.systemUnits, len(m.units)-1)
			m.depts = append(m.depts, len(m.units)-1)
		}
	}
	nc := g.between(2, 8)
	for i := 0; i < nc && *budget > 0; i++ {
		svc := &clinics[pick(g, systemClinics)]
		c := m.city
		if g.chance(0.4) {
			c = g.otherCity(m)
		}
		place := pick(g, placeWords[:])
		if c != m.city {
			place = c.name
		}
		cl := g.newUnit(m, uClinic, 0)
		g.nOrg++
		g.nLoc++
		g.nEp++
		g.nHcs++
		cl.svc = svc
		cl.org, cl.name, cl.loc, cl.direct, cl.hcs, cl.fhir = id{"org-", g.nOrg}, word+" "+svc.name+" - "+place, id{"loc-", g.nLoc}, id{"ep-", g.nEp}, id{"hcs-", g.nHcs}, m.units[0].fhir
		cl.addr = g.newAddress(c, true)
		cl.phone = g.newPhone(c.area)
		cl.domain, cl.mailbox = domain, slug(svc.name+place)
		cl.since = yearStart(1980 + g.intn(44))
		cl.actor, cl.actorName = actor, name
		cl.staff = take(budget, g.between(3, 15))
		m.systemUnits = append(m.systemUnits, len(m.units)-1)
	}
}

// practiceSize draws the number of practitioners of an independent
// practice: most are small.
func (g *gen) practiceSize() int {
	switch x := g.intn(100); {
	case x < 35:
		return 1
	case x < 65:
		return g.between(2, 3)
	case x < 90:
		return g.between(4, 8)
	default:
		return g.between(9, 20)
	}
}

// planPractices plans the market's independent practices.
func (g *gen) planPractices(m *market, budget *int) {
	np := g.between(20, 60)
	for i := 0; i < np && *budget > 0; i++ {
		svc := &clinics[pick(g, practiceClinics)]
		size := take(budget, g.practiceSize())
		c := m.city
		if g.chance(0.35) {
			c = g.otherCity(m)
		}
		var name string
		if g.chance(0.5) {
			name = surnames[g.intn(len(surnames))] + " " + svc.name
			if size > 1 {
				name += " " + pick(g, practiceSuffixes[:])
			}
		} else {
			name = pick(g, practiceWords[:]) + " " + svc.name + " " + pick(g, practiceSuffixes[:])
		}
		offices := 1
		if size >= 3 {
			if x := g.intn(100); x < 8 {
				offices = 3
			} else if x < 30 {
				offices = 2
			}
		}
		pi := len(m.units)
		p := g.newUnit(m, uPractice, -1)
		g.nOrg++
		g.nLoc++
		g.nEp++
		g.nHcs++
		p.svc = svc
		p.org, p.name, p.loc, p.direct, p.hcs = id{"org-", g.nOrg}, name, id{"loc-", g.nLoc}, id{"ep-", g.nEp}, id{"hcs-", g.nHcs}
		if g.chance(0.35) {
			g.nEp++
			p.fhir = id{"ep-", g.nEp}
		}
		p.addr = g.newAddress(c, true)
		p.phone = g.newPhone(c.area)
		p.domain, p.mailbox = slug(name)+".example", "referrals"
		p.since = yearStart(1975 + g.intn(50))
		p.actor, p.actorName = m.hie, m.hieName
		share := (size + offices - 1) / offices
		p.staff = share
		left := size - share
		for o := 1; o < offices && left > 0; o++ {
			main := m.units[pi]
			off := g.newUnit(m, uOffice, pi)
			*off = main
			off.kind, off.parent = uOffice, pi
			g.nLoc++
			off.loc = id{"loc-", g.nLoc}
			oc := c
			if g.chance(0.5) {
				oc = g.otherCity(m)
			}
			off.addr = g.newAddress(oc, true)
			off.phone = g.newPhone(oc.area)
			off.staff = min(share, left)
			left -= off.staff
		}
	}
}

// writeMarket writes the market's organizations, then its practitioners,
// care teams and affiliations.
func (g *gen) writeMarket(m *market) {
	for i := range m.units {
		g.writeUnit(m, i)
	}
	for i := range m.units {
		u := &m.units[i]
		for range u.staff {
			g.writePractitioner(m, i)
		}
	}
	for _, i := range m.depts {
		if u := &m.units[i]; u.nteam >= 2 {
			g.careTeam(u)
		}
	}
	for i := range m.units {
		u := &m.units[i]
		if u.kind == uClinic && u.nteam >= 3 && g.chance(0.5) {
			g.careTeam(u)
		}
	}
	for i := range m.units {
		u := &m.units[i]
		switch u.kind {
		case uHospital, uClinic, uPractice:
		default:
			continue
		}
		if u.kind == uHospital {
			g.affiliation(m, u, nil)
		}
		for j := range m.networks {
			if g.chance(0.8) {
				g.affiliation(m, u, &m.networks[j])
			}
		}
	}
}

var businessHours = hours{days: 5, start: 8, end: 17}

// unitHours draws the opening hours of a unit.
func (g *gen) unitHours(u *unit) hours {
	switch {
	case u.kind == uHospital || u.svc != nil && u.svc.category == catEmergency:
		return hours{days: 7, allDay: true}
	case g.chance(0.2):
		return hours{days: 6, start: 8, end: 18}
	case g.chance(0.2):
		return hours{days: 5, start: 7, end: 19}
	}
	return businessHours
}

// writeUnit writes the organization, locations, endpoints and service of
// unit i.
func (g *gen) writeUnit(m *market, i int) {
	u := &m.units[i]
	var parent *unit
	if u.parent >= 0 {
		parent = &m.units[u.parent]
	}
	hrs := g.unitHours(u)
	ep := endpointSpec{x: u.direct, org: u.org, orgName: u.name, domain: u.domain, mailbox: u.mailbox,
		since: past(max(u.since, yearStart(2012)) + g.intn(2500)), area: u.addr.city.area, actor: u.actor, actorName: u.actorName}
	switch u.kind {
	case uSystem:
		g.endpoint(&endpointSpec{x: u.fhir, fhir: true, org: u.org, orgName: u.name, domain: u.domain,
			name: u.name + " FHIR API", since: yearStart(2018) + g.intn(2000), area: u.addr.city.area, actor: u.actor, actorName: u.actorName})
		g.nEIN++
		g.organization(&orgSpec{
			x: u.org, name: u.name, alias: acronym(u.name), typ: orgTypeProv, typSystem: sysOrgType, typText: "Health System",
			ein: g.nEIN, url: u.domain, addr: &u.addr, phone: u.phone, hasPhone: true, hours: &businessHours,
			contact: true, endpoints: [2]id{u.fhir}, since: u.since, actor: u.actor,
			description: "Integrated health system serving the " + m.city.name + ", " + m.city.state + " area", actorName: u.actorName,
		})
	case uHospital:
		ep.name = u.name + " Direct address"
		g.endpoint(&ep)
		g.nNPI++
		g.organization(&orgSpec{
			x: u.org, name: u.name, typ: orgTypeProv, typSystem: sysOrgType, typText: "Hospital",
			npi: g.nNPI, url: u.domain, addr: &u.addr, phone: u.phone, hasPhone: true, hours: &hrs,
			partOf: parent.org, partOfName: parent.name, contact: true, endpoints: [2]id{u.direct, u.fhir},
			accredited: true, since: u.since, actor: u.actor, actorName: u.actorName,
		})
		g.location(&locSpec{u: u, name: u.name, description: "Main campus of " + u.name, phys: physSite, hours: hrs})
	case uDept:
		ep.name = u.name + " Direct address"
		g.endpoint(&ep)
		g.organization(&orgSpec{
			x: u.org, name: u.name, typ: orgTypeDept, typSystem: sysOrgType, typText: u.svc.name + " department",
			local: u.domain, localN: u.org.n, phone: u.phone, hasPhone: true, hours: &hrs,
			partOf: parent.org, partOfName: parent.name, endpoints: [2]id{u.direct}, since: u.since,
			actor: u.actor, actorName: u.actorName,
		})
		g.location(&locSpec{u: u, name: u.name, phys: physWing, partOf: parent.loc, partOfName: parent.name, hours: hrs})
		g.healthcareService(u, u.name+" Services", []id{u.loc}, hrs, m.networks)
	case uClinic, uPractice:
		ep.name = u.name + " Direct address"
		g.endpoint(&ep)
		if u.kind == uPractice && !u.fhir.zero() {
			g.endpoint(&endpointSpec{x: u.fhir, fhir: true, org: u.org, orgName: u.name, domain: u.domain,
				name: u.name + " patient access API", since: yearStart(2020) + g.intn(1500), area: u.addr.city.area, actor: u.actor, actorName: u.actorName})
		}
		g.nNPI++
		spec := orgSpec{
			x: u.org, name: u.name, typ: orgTypeProv, typSystem: sysOrgType, typText: u.svc.name + " clinic",
			npi: g.nNPI, url: u.domain, addr: &u.addr, phone: u.phone, hasPhone: true, hours: &hrs,
			contact: u.kind == uPractice, endpoints: [2]id{u.direct, u.fhir}, since: u.since,
			actor: u.actor, actorName: u.actorName,
		}
		if u.kind == uClinic {
			spec.partOf, spec.partOfName = parent.org, parent.name
		} else {
			g.nEIN++
			spec.ein = g.nEIN
			spec.typText = "Group practice"
		}
		g.organization(&spec)
		g.location(&locSpec{u: u, name: u.name, phys: physBuilding, hours: hrs, newPatients: true, ehr: g.chance(0.3), networks: m.networks})
		var locs [3]id
		n := 0
		locs[n] = u.loc
		n++
		for j := i + 1; j < len(m.units) && m.units[j].kind == uOffice && n < len(locs); j++ {
			locs[n] = m.units[j].loc
			n++
		}
		g.healthcareService(u, u.name, locs[:n], hrs, m.networks)
	case uOffice:
		g.location(&locSpec{u: u, name: u.name + " - " + u.addr.city.name + " office", phys: physBuilding, hours: hrs, newPatients: true, networks: m.networks})
	}
}

// acronym is the initials of the capitalised words of name.
func acronym(name string) string {
	var b []byte
	for i := 0; i < len(name); i++ {
		if (i == 0 || name[i-1] == ' ') && 'A' <= name[i] && name[i] <= 'Z' {
			b = append(b, name[i])
		}
	}
	return string(b)
}
