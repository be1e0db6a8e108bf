package gen

import "slices"

// Payers, their networks and insurance plans. Payer p is Organization
// org-(p+1) with coverage area Location loc-(p+1) and directory Endpoint
// ep-(p+1); its networks and plans are net-/plan-(3p+1 .. 3p+3): a PPO, an
// HMO and a dental or vision network. Everything about a payer is derived
// from (seed, p) by hashing, so markets can refer to any payer without the
// generator keeping a list of them.

// hash mixes the seed with a and b (the splitmix64 finaliser).
func (g *gen) hash(a, b uint64) uint64 {
	z := g.seed ^ a*0x9e3779b97f4a7c15 ^ (b+1)*0xbf58476d1ce4e5b9
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

const networksPerPayer = 3

// payerCity is where payer p is based, weighted by population.
func (g *gen) payerCity(p int) int {
	x := int(g.hash(2, uint64(p)) % uint64(cityCum[len(cityCum)-1]))
	i, _ := slices.BinarySearch(cityCum, x+1)
	return i
}

type payerInfo struct {
	name, short, domain string
	city                *city
	state               int
	hios                int  // HIOS issuer id, 5 digits
	vision              bool // third network is vision, not dental
}

func (g *gen) payerInfo(p int) payerInfo {
	ci := g.payerCity(p)
	nw, ns := len(payerWords), len(payerSuffixes)
	off := int(g.hash(1, 0) % uint64(nw*ns))
	k := (p + off) % (nw * ns)
	word, suffix := payerWords[k%nw], payerSuffixes[k/nw]
	pi := payerInfo{
		short: word, name: word + " " + suffix,
		city:   &cities[ci],
		state:  cityState[ci],
		hios:   10000 + int((uint64(p)*7919+g.hash(3, 0))%90000),
		vision: g.hash(4, uint64(p))%3 == 0,
	}
	if p >= nw*ns {
		pi.name += " of " + states[pi.city.state]
	}
	pi.domain = slug(pi.name) + ".example"
	return pi
}

func payerOrg(p int) id      { return id{"org-", p + 1} }
func networkID(k int) id     { return id{"net-", k + 1} }
func planID(k int) id        { return id{"plan-", k + 1} }
func payerArea(p int) id     { return id{"loc-", p + 1} }
func payerEndpoint(p int) id { return id{"ep-", p + 1} }

var (
	netPPO    = code{"ppo", "PPO"}
	netHMO    = code{"hmo", "HMO"}
	netDental = code{"dental", "Dental"}
	netVision = code{"vision", "Vision"}
)

// networkKind is the network-type of payer p's j-th network.
func (pi *payerInfo) networkKind(j int) code {
	switch j {
	case 0:
		return netPPO
	case 1:
		return netHMO
	}
	if pi.vision {
		return netVision
	}
	return netDental
}

func (pi *payerInfo) networkName(j int) string {
	switch j {
	case 0:
		return pi.name + " PPO Network"
	case 1:
		return pi.name + " HMO Network"
	}
	if pi.vision {
		return pi.name + " Vision Network"
	}
	return pi.name + " Dental Network"
}

func (pi *payerInfo) planName(j int) string {
	switch j {
	case 0:
		return pi.short + " PPO"
	case 1:
		return pi.short + " HMO"
	}
	if pi.vision {
		return pi.short + " Vision"
	}
	return pi.short + " Dental"
}

// payer writes payer p: its endpoint, coverage area, organization,
// networks and plans.
func (g *gen) payer(p int) {
	pi := g.payerInfo(p)
	org, area, ep := payerOrg(p), payerArea(p), payerEndpoint(p)
	addr := g.newAddress(pi.city, true)
	since := yearStart(1985 + g.intn(30))
	g.endpoint(&endpointSpec{x: ep, fhir: true, payer: true, org: org, orgName: pi.name, domain: pi.domain,
		name: pi.name + " provider directory API", since: yearStart(2021), area: pi.city.area, actor: org, actorName: pi.name})
	g.coverageArea(area, org, &pi)
	var plans [3]id
	for j := range networksPerPayer {
		plans[j] = planID(networksPerPayer*p + j)
	}
	g.organization(&orgSpec{
		x: org, name: pi.name, typ: orgTypePayer, typSystem: sysOrgType, typText: "Health insurer", typ2: orgTypeIns,
		hios: pi.hios, url: pi.domain, addr: &addr, phone: g.newPhone(pi.city.area), hasPhone: true,
		hours: &hours{days: 6, start: 8, end: 20}, contact: true, endpoints: [2]id{ep},
		description: "Health insurer based in " + pi.city.name + ", " + states[pi.city.state], plans: plans,
		since: since, actor: org, actorName: pi.name,
	})
	for j := range networksPerPayer {
		k := networksPerPayer*p + j
		g.organization(&orgSpec{
			x: networkID(k), network: true, name: pi.networkName(j), typ: pi.networkKind(j),
			typSystem: sysVhdirCS + "network-type", networkID: pi.city.state + "N" + string(appendPad(nil, k%1000+1, 3)),
			addr: &addr, partOf: org, partOfName: pi.name, contact: true, endpoints: [2]id{ep},
			period: since + g.intn(3000), coverage: area, coverageName: pi.name + " service area",
			actor: org, actorName: pi.name,
		})
		g.insurancePlan(p, j, &pi)
	}
}

// coverageArea writes the Location a payer's plans cover: a square around
// its home city with a GeoJSON boundary, so that the contains search has
// something to find.
func (g *gen) coverageArea(x, org id, pi *payerInfo) {
	g.decide(org, pi.name, 0)
	e := g.begin(tLocation, x, profiles[tLocation])
	ext := lazy{key: "extension"}
	g.ext(&ext, extBoundary)
	e.obj("valueAttachment")
	e.str("contentType", "application/geo+json")
	e.str("data", boundary(pi.city.lat, pi.city.lon, 1.5))
	e.end()
	e.end()
	g.endRootExt(&ext)
	e.str("status", "active")
	e.str("name", pi.name+" service area")
	e.str("description", "Area served by "+pi.name+" around "+pi.city.name+", "+pi.city.state)
	e.obj("address")
	e.str("text", states[pi.city.state])
	e.str("state", pi.city.state)
	e.str("country", "US")
	e.end()
	e.cc("physicalType", sysPhysType, code{"area", "Area"}, "")
	e.obj("position")
	e.dec("longitude", pi.city.lon, 4)
	e.dec("latitude", pi.city.lat, 4)
	e.end()
	e.ref("managingOrganization", tOrganization, org, pi.name)
	g.finish()
}

// metal is a plan level with its costs in US dollars.
type metal struct {
	level                   code
	deductible, premium     int
	pcp, specialist, er, uc int // copays
	coinsurance             int // percent after deductible
}

var metals = [...]metal{
	{code{"gold", "Gold"}, 1500, 520, 20, 40, 250, 50, 20},
	{code{"silver", "Silver"}, 4500, 430, 35, 70, 400, 75, 30},
	{code{"bronze", "Bronze"}, 7000, 350, 60, 100, 600, 100, 40},
}

var (
	sysPayerChar = sysVhdirCS + "payercharacteristics"
	sysIPlan     = sysVhdirCS + "insuranceplan"
)

// insurancePlan writes payer p's product for its j-th network.
func (g *gen) insurancePlan(p, j int, pi *payerInfo) {
	k := networksPerPayer*p + j
	org, area, ep, net := payerOrg(p), payerArea(p), payerEndpoint(p), networkID(k)
	netName := pi.networkName(j)
	g.decide(org, pi.name, elemTelecom)
	e := g.begin(tInsurancePlan, planID(k), profiles[tInsurancePlan])
	ext := lazy{key: "extension"}
	g.endRootExt(&ext)
	e.arr("identifier")
	e.identStart("active")
	e.str("use", "official")
	e.identType(code{"NIIP", "National Insurance Payor Identifier (Payor)"}, "HIOS product ID")
	e.str("system", sysHIOS)
	e.open("value")
	e.addPad(pi.hios, 5)
	e.add(pi.city.state)
	e.addPad(j+1, 3)
	e.close()
	e.ref("assigner", tOrganization, orgCMS, nameCMS)
	e.end()
	e.endArr()
	e.str("status", "active")
	kind := code{"medical", "Medical"}
	if j == 2 {
		kind = code{"dental", "Dental"}
		if pi.vision {
			kind = code{"vision", "Vision"}
		}
	}
	e.ccList("type", sysPayerChar, kind, "")
	e.str("name", pi.planName(j))
	e.strList("alias", pi.name+" "+pi.planName(j)[len(pi.short)+1:]+" 2025")
	year := yearStart(2025)
	e.period("period", year, yearStart(2026)-1)
	e.ref("ownedBy", tOrganization, org, pi.name)
	e.ref("administeredBy", tOrganization, org, pi.name)
	e.refList("coverageArea", tLocation, area, pi.name+" service area")
	e.arr("contact")
	e.item()
	e.cc("purpose", sysContactType, code{"PATINF", "Patient"}, "Member services")
	given, family := g.personName()
	e.contactName(given, family)
	e.arr("telecom")
	ph := g.newPhone(pi.city.area)
	g.contactPoint("phone", func(e *enc) { e.addPhone(ph) }, "work", 1, &hours{days: 6, start: 8, end: 20}, g.restrictHere(elemTelecom))
	domain := pi.domain
	g.contactPoint("email", func(e *enc) { e.add("members@"); e.add(domain) }, "work", 2, nil, false)
	e.endArr()
	e.end()
	e.endArr()
	e.refList("endpoint", tEndpoint, ep, "")
	e.refList("network", tOrganization, net, netName)

	e.arr("coverage")
	e.item()
	e.cc("type", sysPayerChar, kind, "")
	e.refList("network", tOrganization, net, netName)
	e.arr("benefit")
	switch kind.code {
	case "medical":
		benefit(e, code{"prev", "Preventive Care/Screening/Immunization"}, "No referral required", 1, code{"visitsperyr", "Visits per year"})
		benefit(e, code{"pcpov", "Primary Care Visit to Treat an Injury or Illness"}, "", 0, code{})
		benefit(e, code{"specialistov", "Specialist Office Visit"}, referral(j), 0, code{})
		benefit(e, code{"rehaboutp", "Outpatient Rehabilitation Services"}, "Prior authorization after 10 visits", 30, code{"visitsperyr", "Visits per year"})
		benefit(e, code{"erservice", "Emergency Room Services"}, "", 0, code{})
	case "dental":
		benefit(e, code{"routinedental", "Routine Dental Services (Adult)"}, "", 2, code{"visitsperyr", "Visits per year"})
		benefit(e, code{"dntlbasadlt", "Basic Dental Care – Adult"}, "", 0, code{})
		benefit(e, code{"orthochld", "Orthodontia – Child"}, "Prior authorization required", 1, code{"lifetimevisits", "Lifetime visits"})
	default:
		benefit(e, code{"routineeye", "Routine Eye Exam (Adult)"}, "", 1, code{"visitsperyr", "Visits per year"})
		benefit(e, code{"glasseschld", "Eye Glasses for Children"}, "", 1, code{"visitsperyr", "Visits per year"})
	}
	e.endArr()
	e.end()
	e.endArr()

	e.arr("plan")
	if kind.code == "medical" {
		for i, m := range metals[j : j+2] {
			g.medicalPlan(pi, j, i, &m, area, net, netName)
		}
	} else {
		g.ancillaryPlan(pi, j, kind, area, net, netName)
	}
	e.endArr()
	g.finish()
}

func referral(j int) string {
	if j == 1 {
		return "Referral from primary care provider required"
	}
	return "No referral required"
}

// benefit writes a coverage.benefit item, with a limit when n > 0.
func benefit(e *enc, c code, requirement string, n int, unit code) {
	e.item()
	e.cc("type", sysPayerChar, c, "")
	if requirement != "" {
		e.str("requirement", requirement)
	}
	if n > 0 {
		e.arr("limit")
		e.item()
		e.obj("value")
		e.int("value", n)
		e.str("unit", unit.display)
		e.str("system", sysPayerChar)
		e.str("code", unit.code)
		e.end()
		e.obj("code")
		e.open("text")
		e.addInt(n)
		e.add(" ")
		e.add(unit.display)
		e.close()
		e.end()
		e.end()
		e.endArr()
	}
	e.end()
}

// planIdent writes a plan.identifier: the HIOS plan id (product id and a
// four-digit variant).
func (g *gen) planIdent(pi *payerInfo, j, variant int) {
	e := &g.e
	e.arr("identifier")
	e.identStart("active")
	e.str("use", "official")
	e.identType(code{"NIIP", "National Insurance Payor Identifier (Payor)"}, "HIOS plan ID")
	e.str("system", sysHIOS)
	e.open("value")
	e.addPad(pi.hios, 5)
	e.add(pi.city.state)
	e.addPad(j+1, 3)
	e.addPad(variant+1, 4)
	e.close()
	e.end()
	e.endArr()
}

func (g *gen) medicalPlan(pi *payerInfo, j, i int, m *metal, area, net id, netName string) {
	e := &g.e
	e.item()
	g.planIdent(pi, j, i)
	e.cc("type", sysPayerChar, m.level, m.level.display)
	e.refList("coverageArea", tLocation, area, "")
	e.refList("network", tOrganization, net, netName)
	e.arr("generalCost")
	generalCost(e, code{"deductible", "Deductible"}, 1, m.deductible, "Per calendar year, in network")
	generalCost(e, code{"deductible", "Deductible"}, 3, 2*m.deductible, "Family, per calendar year, in network")
	generalCost(e, code{"premium", "Premium"}, 1, m.premium+g.intn(60), "Monthly, age 40, before subsidies")
	generalCost(e, code{"cap", "Cap"}, 1, 9200, "Out-of-pocket maximum")
	e.endArr()
	e.arr("specificCost")
	e.item()
	e.cc("category", sysIPlan, code{"medical", "Medical"}, "")
	e.arr("benefit")
	specificCost(e, code{"primarycareov", "Primary care office visit"}, code{"copay", "Copay"}, m.pcp, false)
	specificCost(e, code{"specialityov", "Speciality care office visit"}, code{"copay", "Copay"}, m.specialist, false)
	specificCost(e, code{"urgentcare", "Urgent care"}, code{"copay", "Copay"}, m.uc, false)
	specificCost(e, code{"emergencyroom", "Emergency room"}, code{"copay", "Copay"}, m.er, false)
	specificCost(e, code{"hospitalization", "Hospitalization"}, code{"coinsurance", "Coinsurance"}, m.coinsurance, true)
	specificCost(e, code{"preventative", "Preventative"}, code{"copay", "Copay"}, 0, false)
	e.endArr()
	e.end()
	e.endArr()
	e.end()
}

func (g *gen) ancillaryPlan(pi *payerInfo, j int, kind code, area, net id, netName string) {
	e := &g.e
	e.item()
	g.planIdent(pi, j, 0)
	e.cc("type", "", code{}, "Standard")
	e.refList("coverageArea", tLocation, area, "")
	e.refList("network", tOrganization, net, netName)
	e.arr("generalCost")
	if kind.code == "dental" {
		generalCost(e, code{"deductible", "Deductible"}, 1, 50, "Waived for preventive care")
		generalCost(e, code{"cap", "Cap"}, 1, 1500, "Annual benefit maximum")
		generalCost(e, code{"premium", "Premium"}, 1, 28+g.intn(15), "Monthly")
	} else {
		generalCost(e, code{"premium", "Premium"}, 1, 9+g.intn(8), "Monthly")
		generalCost(e, code{"cap", "Cap"}, 1, 150, "Frame allowance every 24 months")
	}
	e.endArr()
	e.arr("specificCost")
	e.item()
	e.cc("category", sysIPlan, kind, "")
	e.arr("benefit")
	if kind.code == "dental" {
		specificCost(e, code{"preventative", "Preventative"}, code{"coinsurance", "Coinsurance"}, 0, true)
		specificCost(e, code{"other", "Other"}, code{"coinsurance", "Coinsurance"}, 20, true)
	} else {
		specificCost(e, code{"preventative", "Preventative"}, code{"copay", "Copay"}, 10, false)
	}
	e.endArr()
	e.end()
	e.endArr()
	e.end()
}

// generalCost writes a plan.generalCost item of dollars for groupSize.
func generalCost(e *enc, typ code, groupSize, dollars int, comment string) {
	e.item()
	e.cc("type", sysIPlan, typ, "")
	e.int("groupSize", groupSize)
	e.obj("cost")
	e.int("value", dollars)
	e.str("currency", "USD")
	e.end()
	e.str("comment", comment)
	e.end()
}

// specificCost writes a specificCost.benefit item with one in-network cost:
// dollars, or a percentage when percent.
func specificCost(e *enc, benefit, costType code, v int, percent bool) {
	e.item()
	e.cc("type", sysIPlan, benefit, "")
	e.arr("cost")
	e.item()
	e.cc("type", sysIPlan, costType, "")
	e.cc("applicability", sysApplicability, code{"in-network", "In Network"}, "")
	e.obj("value")
	e.int("value", v)
	if percent {
		e.str("unit", "%")
		e.str("system", sysUCUM)
		e.str("code", "%")
	} else {
		e.str("unit", "USD")
		e.str("system", sysISO4217)
		e.str("code", "USD")
	}
	e.end()
	e.end()
	e.endArr()
	e.end()
}
