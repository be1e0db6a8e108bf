package audit

import (
	"encoding/base64"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// Code systems of the AuditEvent elements (FHIR R4, DICOM, IHE BALP).
const (
	sysEventType   = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	sysRestful     = "http://hl7.org/fhir/restful-interaction"
	sysDCM         = "http://dicom.nema.org/resources/ontology/DCM"
	sysEntityType  = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	sysObjectRole  = "http://terminology.hl7.org/CodeSystem/object-role"
	sysSourceType  = "http://terminology.hl7.org/CodeSystem/security-source-type"
	sysBALPEntity  = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
	sysBALPAgent   = "https://profiles.ihe.net/ITI/BALP/CodeSystem/UserAgentTypes"
	sysIHEEvent    = "urn:ihe:event-type-code"
	sysRoleClass   = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
	sysVhdirEvent  = "https://github.com/vhdir/vhdir/CodeSystem/audit-subtype"
	balpProfile    = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/"
	extTimeSource  = "https://github.com/vhdir/vhdir/StructureDefinition/time-source"
	clientIDSystem = "urn:vhdir:client-id"
)

// Outcome codes of AuditEvent.outcome.
const (
	Success        = "0"
	MinorFailure   = "4" // the request was refused or invalid (4xx)
	SeriousFailure = "8" // the server failed (5xx)
)

// Coding is a FHIR Coding.
type Coding struct {
	System, Code, Display string
}

// Kinds of event, with their BALP type, subtype and action.
var (
	typeRest  = Coding{sysEventType, "rest", "RESTful Operation"}
	typeLogin = Coding{sysDCM, "110114", "User Authentication"}
	typeAdmin = Coding{sysDCM, "110137", "User Security Attributes Changed"}
	roleDest  = Coding{sysDCM, "110152", "Destination Role ID"}
	roleSrc   = Coding{sysDCM, "110153", "Source Role ID"}
	roleApp   = Coding{sysDCM, "110150", "Application"}
	roleAuthz = Coding{sysBALPAgent, "AuthzOauthService", "OAuth Authorization Server"}
	roleOrg   = Coding{sysRoleClass, "PROV", "healthcare provider"}
)

// Event is one audited happening, before it becomes an AuditEvent.
type Event struct {
	Type    Coding
	Subtype Coding
	Action  string // C R U D E
	Outcome string // Success, MinorFailure, SeriousFailure
	// OutcomeDesc says why a failure failed (never a secret).
	OutcomeDesc string
	// Profile names the BALP profile the event follows ("" for none).
	Profile string
	// Client is the authenticated client (nil: none, e.g. a refused token);
	// ClaimedClient is a client id the request claimed but did not prove.
	Client        *interaction.Caller
	ClaimedClient string
	// Address is the source network address (IP).
	Address string
	// RequestID is the X-Request-Id.
	RequestID string
	// clientRole and serverRole are the agents' BALP roles (who received
	// and who sent data).
	clientRole, serverRole Coding
	Entities               []Entity
}

// Entity is one AuditEvent.entity.
type Entity struct {
	// What is a reference (Type/id/_history/n) or "" for a query.
	What        string
	Type, Role  Coding
	Name        string
	Description string
	// Query is the request in raw form (base64-encoded in the record).
	Query  []byte
	Detail []Detail
}

// Detail is an entity.detail with a string value.
type Detail struct {
	Type, Value string
}

// Source describes this server in every record (source, the server agent).
type Source struct {
	// Site names the installation (--audit-site); FHIRBase is its address.
	Site, FHIRBase string
	// TimeSource names the clock that stamped the records.
	TimeSource string
}

// resource builds e as an AuditEvent recorded at t, as a JSON tree in
// R4's element order (built directly: encoding and parsing it again cost
// more than the rest of a record).
func (e *Event) resource(src Source, recorded time.Time) *jsontree.Object {
	ae := obj("resourceType", "AuditEvent")
	if e.Profile != "" {
		ae.Set("meta", obj("profile", []any{balpProfile + e.Profile}))
	}
	if src.TimeSource != "" {
		ae.Set("extension", []any{obj("url", extTimeSource, "valueString", src.TimeSource)})
	}
	// Codings that are searched carry no display: the codes are standard,
	// and a display would add a text index row to every record.
	ae.Set("type", e.Type.code())
	if e.Subtype.Code != "" {
		ae.Set("subtype", []any{e.Subtype.code()})
	}
	if e.Action != "" {
		ae.Set("action", e.Action)
	}
	ae.Set("recorded", recorded.UTC().Format("2006-01-02T15:04:05.000Z"))
	ae.Set("outcome", e.Outcome)
	if e.OutcomeDesc != "" {
		ae.Set("outcomeDesc", text(e.OutcomeDesc))
	}
	ae.Set("agent", e.agents(src))
	ae.Set("source", obj("site", src.Site,
		"observer", obj("identifier", obj("system", "urn:ietf:rfc:3986", "value", src.FHIRBase), "display", "vhdir "+src.Site),
		"type", []any{Coding{sysSourceType, "4", "Application Server"}.tree()}))
	if ents := e.entities(); len(ents) > 0 {
		ae.Set("entity", ents)
	}
	return ae
}

// obj builds an object from key, value pairs, leaving out empty strings.
func obj(kv ...any) *jsontree.Object {
	o := &jsontree.Object{Members: make([]jsontree.Member, 0, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		if s, ok := kv[i+1].(string); ok && s == "" {
			continue
		}
		o.Members = append(o.Members, jsontree.Member{Key: kv[i].(string), Value: kv[i+1]})
	}
	return o
}

func (c Coding) tree() *jsontree.Object {
	return obj("system", c.System, "code", c.Code, "display", c.Display)
}

// code is the coding without its display.
func (c Coding) code() *jsontree.Object { return obj("system", c.System, "code", c.Code) }

func codeable(c Coding) *jsontree.Object { return obj("coding", []any{c.tree()}) }

func identifier(system, value string) *jsontree.Object {
	return obj("system", system, "value", value)
}

func (e *Event) agents(src Source) []any {
	role := e.clientRole
	if role.Code == "" {
		role = roleApp
	}
	client := obj("type", codeable(role))
	switch {
	case e.Client != nil:
		client.Set("who", obj("identifier", identifier(clientIDSystem, text(e.Client.ClientID)), "display", text(e.Client.ClientName)))
	case e.ClaimedClient != "":
		client.Set("who", obj("identifier", identifier(clientIDSystem, text(e.ClaimedClient)), "display", "unverified client id"))
	default:
		client.Set("who", obj("display", "unauthenticated client"))
	}
	client.Set("requestor", true)
	// BALP puts a token identifier in agent.policy, never the token.
	if e.Client != nil && e.Client.TokenID != "" {
		client.Set("policy", []any{"urn:vhdir:access-token:" + e.Client.TokenID})
	}
	if e.Address != "" {
		client.Set("network", obj("address", e.Address, "type", "2"))
	}
	serverRole := e.serverRole
	if serverRole.Code == "" {
		serverRole = roleSrc
	}
	server := obj("type", codeable(serverRole),
		"who", obj("identifier", identifier("urn:ietf:rfc:3986", src.FHIRBase), "display", "vhdir "+src.Site),
		"requestor", false,
		"network", obj("address", src.FHIRBase, "type", "5"))
	agents := []any{client, server}
	if e.Client != nil && e.Client.Organization != "" {
		agents = append(agents, obj("type", codeable(roleOrg),
			"who", obj("reference", e.Client.Organization, "display", text(e.Client.OrganizationName)), "requestor", false))
	}
	return agents
}

func (e *Event) entities() []any {
	var out []any
	if e.RequestID != "" {
		out = append(out, obj("what", obj("identifier", obj("value", e.RequestID)),
			"type", Coding{sysBALPEntity, "XrequestId", ""}.code()))
	}
	for _, en := range e.Entities {
		m := &jsontree.Object{}
		if en.What != "" {
			m.Set("what", obj("reference", en.What))
		}
		m.Set("type", en.Type.code())
		if en.Role.Code != "" {
			m.Set("role", en.Role.code())
		}
		// sev-1: name or query, not both.
		switch {
		case en.Query != nil:
			if en.Description != "" {
				m.Set("description", text(en.Description))
			}
			m.Set("query", base64.StdEncoding.EncodeToString(en.Query))
		case en.Name != "":
			m.Set("name", text(en.Name))
			if en.Description != "" {
				m.Set("description", text(en.Description))
			}
		case en.Description != "":
			m.Set("description", text(en.Description))
		}
		if len(en.Detail) > 0 {
			ds := make([]any, 0, len(en.Detail))
			for _, d := range en.Detail {
				ds = append(ds, obj("type", text(d.Type), "valueString", text(d.Value)))
			}
			m.Set("detail", ds)
		}
		out = append(out, m)
	}
	return out
}

// dataEntity is a resource the request touched (BALP "data" entity).
func dataEntity(ref string) Entity {
	return Entity{What: ref, Type: Coding{sysEntityType, "2", "System Object"}, Role: Coding{sysObjectRole, "4", "Domain Resource"}}
}

// queryEntity is a request in raw form (BALP "query" entity).
func queryEntity(raw, description string) Entity {
	return Entity{Type: Coding{sysEntityType, "2", "System Object"}, Role: Coding{sysObjectRole, "24", "Query"},
		Query: []byte(raw), Description: description}
}

// maxText bounds a text of a record, in bytes: an error that quotes a
// large request stays readable without making the record as large.
const maxText = 4096

// text makes s fit a record's free-text strings, whatever the request put
// in it: control characters other than tab, CR and LF (a form feed no
// FHIR string may hold, a NUL no database stores) and invalid UTF-8
// become U+FFFD, and text past maxText is cut, so that every request can
// be recorded. Text that fits, the usual case, is returned as it is.
func text(s string) string {
	if len(s) <= maxText && utf8.ValidString(s) && !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if b.Len() >= maxText {
			b.WriteString("…")
			break
		}
		if isControl(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isControl reports the C0 controls but tab, CR and LF, which FHIR
// strings should not hold (https://hl7.org/fhir/R4/datatypes.html#string).
func isControl(r rune) bool {
	return r < 0x20 && r != '\t' && r != '\n' && r != '\r'
}
