package audit

import (
	"encoding/base64"
	"encoding/json"
	"time"
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
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
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

// Agent is the client system a request came from, as registered.
type Agent struct {
	ClientID, ClientName           string
	Organization, OrganizationName string // Organization/…, its name
	// TokenID identifies the access token used without revealing it
	// (BALP puts a token identifier in agent.policy, never the token).
	TokenID string
}

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
	Client        *Agent
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

// resource renders e as AuditEvent JSON recorded at t.
func (e *Event) resource(src Source, recorded time.Time) ([]byte, error) {
	ae := map[string]any{"resourceType": "AuditEvent"}
	if e.Profile != "" {
		ae["meta"] = map[string]any{"profile": []string{balpProfile + e.Profile}}
	}
	if src.TimeSource != "" {
		ae["extension"] = []any{map[string]any{"url": extTimeSource, "valueString": src.TimeSource}}
	}
	ae["type"] = e.Type
	if e.Subtype.Code != "" {
		ae["subtype"] = []Coding{e.Subtype}
	}
	if e.Action != "" {
		ae["action"] = e.Action
	}
	ae["recorded"] = recorded.UTC().Format("2006-01-02T15:04:05.000Z")
	ae["outcome"] = e.Outcome
	if e.OutcomeDesc != "" {
		ae["outcomeDesc"] = e.OutcomeDesc
	}
	ae["agent"] = e.agents(src)
	observer := map[string]any{"display": "vhdir " + src.Site, "identifier": map[string]any{"system": "urn:ietf:rfc:3986", "value": src.FHIRBase}}
	ae["source"] = map[string]any{"site": src.Site, "observer": observer,
		"type": []Coding{{sysSourceType, "4", "Application Server"}}}
	if ents := e.entities(); len(ents) > 0 {
		ae["entity"] = ents
	}
	return json.Marshal(ae)
}

func (e *Event) agents(src Source) []any {
	client := map[string]any{"requestor": true}
	role := e.clientRole
	if role.Code == "" {
		role = roleApp
	}
	client["type"] = codeable(role)
	switch {
	case e.Client != nil:
		who := map[string]any{"identifier": map[string]any{"system": clientIDSystem, "value": e.Client.ClientID}}
		if e.Client.ClientName != "" {
			who["display"] = e.Client.ClientName
		}
		client["who"] = who
		if e.Client.TokenID != "" {
			client["policy"] = []string{"urn:vhdir:access-token:" + e.Client.TokenID}
		}
	case e.ClaimedClient != "":
		client["who"] = map[string]any{"identifier": map[string]any{"system": clientIDSystem, "value": e.ClaimedClient}, "display": "unverified client id"}
	default:
		client["who"] = map[string]any{"display": "unauthenticated client"}
	}
	if e.Address != "" {
		client["network"] = map[string]any{"address": e.Address, "type": "2"}
	}
	serverRole := e.serverRole
	if serverRole.Code == "" {
		serverRole = roleSrc
	}
	server := map[string]any{"type": codeable(serverRole), "requestor": false,
		"who":     map[string]any{"identifier": map[string]any{"system": "urn:ietf:rfc:3986", "value": src.FHIRBase}, "display": "vhdir " + src.Site},
		"network": map[string]any{"address": src.FHIRBase, "type": "5"}}
	agents := []any{client, server}
	if e.Client != nil && e.Client.Organization != "" {
		org := map[string]any{"reference": e.Client.Organization}
		if e.Client.OrganizationName != "" {
			org["display"] = e.Client.OrganizationName
		}
		agents = append(agents, map[string]any{"type": codeable(roleOrg), "who": org, "requestor": false})
	}
	return agents
}

func (e *Event) entities() []any {
	var out []any
	if e.RequestID != "" {
		out = append(out, map[string]any{"what": map[string]any{"identifier": map[string]any{"value": e.RequestID}},
			"type": Coding{sysBALPEntity, "XrequestId", "X-Request-Id"}})
	}
	for _, en := range e.Entities {
		m := map[string]any{"type": en.Type}
		if en.Role.Code != "" {
			m["role"] = en.Role
		}
		if en.What != "" {
			m["what"] = map[string]any{"reference": en.What}
		}
		// sev-1: name or query, not both.
		switch {
		case en.Query != nil:
			m["query"] = base64.StdEncoding.EncodeToString(en.Query)
		case en.Name != "":
			m["name"] = en.Name
		}
		if en.Description != "" {
			m["description"] = en.Description
		}
		if len(en.Detail) > 0 {
			var ds []any
			for _, d := range en.Detail {
				ds = append(ds, map[string]any{"type": d.Type, "valueString": d.Value})
			}
			m["detail"] = ds
		}
		out = append(out, m)
	}
	return out
}

func codeable(c Coding) map[string]any { return map[string]any{"coding": []Coding{c}} }

// dataEntity is a resource the request touched (BALP "data" entity).
func dataEntity(ref string) Entity {
	return Entity{What: ref, Type: Coding{sysEntityType, "2", "System Object"}, Role: Coding{sysObjectRole, "4", "Domain Resource"}}
}

// queryEntity is a request in raw form (BALP "query" entity).
func queryEntity(raw, description string) Entity {
	return Entity{Type: Coding{sysEntityType, "2", "System Object"}, Role: Coding{sysObjectRole, "24", "Query"},
		Query: []byte(raw), Description: description}
}
