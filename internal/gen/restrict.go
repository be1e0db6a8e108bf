package gen

import "errors"

// restriction says whether and where the resource being written carries a
// usage restriction (VhDir §Restricted Content): a contained Consent
// (profile vhdir-restriction) with id "restrict", referenced by a
// usage-restriction extension at the root or on one element, as the IG's
// loc-ws and hcs-ws examples do.
type restriction uint8

const (
	restrictNone restriction = iota
	restrictRoot
	restrictElement
)

// restrictRate is the share of directory resources that are restricted.
const restrictRate = 0.01

// Elements a restriction can be put on instead of the root (a bit set).
type elem uint8

const (
	elemTelecom elem = 1 << iota
	elemAddress
)

// decide draws whether the next resource is restricted; actor is the
// organization the restriction permits to see it. elems are the elements
// the resource has that could carry the restriction instead of the root.
func (g *gen) decide(actor id, actorName string, elems elem) {
	g.restr = restrictNone
	if g.r.Float64() >= restrictRate {
		return
	}
	g.restr = restrictRoot
	if elems != 0 && g.r.IntN(2) == 0 {
		g.restr = restrictElement
		g.restrAt = elems
		if elems == elemTelecom|elemAddress {
			g.restrAt = elemTelecom << g.r.IntN(2)
		}
	}
	g.actor, g.actorName = actor, actorName
}

// restrictRootHere reports whether the root extension list must carry the
// usage-restriction extension.
func (g *gen) restrictRootHere() bool { return g.restr == restrictRoot }

// restrictHere reports, once per resource, whether the element of kind k
// being written carries the usage-restriction extension.
func (g *gen) restrictHere(k elem) bool {
	if g.restr != restrictElement || g.restrDone || g.restrAt != k {
		return false
	}
	g.restrDone = true
	return true
}

// restrictionExt writes the usage-restriction extension item.
func (g *gen) restrictionExt() {
	e := &g.e
	e.extOpen("usage-restriction")
	e.obj("valueReference")
	e.str("reference", "#restrict")
	e.end()
	e.end()
}

// checkRestriction records a generator bug: an element-level restriction
// whose resource had no element to put it on (the Consent would be
// unreferenced, breaking dom-3).
func (g *gen) checkRestriction() {
	if g.restr == restrictElement && !g.restrDone && g.err == nil {
		g.err = errors.New("internal error: " + typeNames[g.cur] + " restriction not placed")
	}
}

// consent writes "contained":[Consent] for the current restriction.
func (g *gen) consent() {
	e := &g.e
	why := &restrictionReasons[g.r.IntN(len(restrictionReasons))]
	e.arr("contained")
	e.item()
	e.str("resourceType", "Consent")
	e.str("id", "restrict")
	e.obj("meta")
	e.strList("profile", vhdirSD+"vhdir-restriction")
	e.end()
	e.str("status", "active")
	e.cc("scope", sysVhdirCS+"consent", code{"protect", "Protect"}, "Direct referral use only")
	e.arr("category")
	e.ccItem(sysLOINC, code{"57016-8", "Privacy policy acknowledgment Document"}, "conditional release (per DUA)")
	e.endArr()
	e.date("dateTime", asOf-g.intn(900))
	e.arr("policy")
	e.item()
	e.open("uri")
	e.add("http://example.org/federal/policy#")
	e.add(why.policy)
	e.close()
	e.end()
	e.endArr()
	e.obj("provision")
	e.str("type", "permit")
	e.arr("actor")
	e.item()
	e.cc("role", "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", code{"IRCP", "information recipient"}, "")
	e.ref("reference", tOrganization, g.actor, g.actorName)
	e.end()
	e.endArr()
	e.arr("securityLabel")
	e.item()
	e.str("display", why.label)
	e.end()
	e.endArr()
	e.arr("purpose")
	e.item()
	e.str("display", why.purpose)
	e.end()
	e.endArr()
	e.end()
	e.end()
	e.endArr()
}

// lazy is an array member opened by its first item, so that optional
// items need no counting in advance.
type lazy struct {
	key  string
	open bool
}

func (g *gen) lazyItem(l *lazy) {
	if !l.open {
		g.e.arr(l.key)
		l.open = true
	}
}

func (g *gen) lazyEnd(l *lazy) {
	if l.open {
		g.e.endArr()
	}
}

// ext opens an extension item in the lazily opened extension list l.
func (g *gen) ext(l *lazy, url string) {
	g.lazyItem(l)
	g.e.extOpen(url)
}

// endRootExt adds the root usage-restriction, if any, and closes the
// resource's extension list.
func (g *gen) endRootExt(l *lazy) {
	if g.restrictRootHere() {
		g.lazyItem(l)
		g.restrictionExt()
	}
	g.lazyEnd(l)
}
