package audit

import (
	"strings"
	"unicode/utf8"

	"github.com/vhdir/vhdir/internal/interaction"
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

// EventTypes are the codes of AuditEvent.type that records carry; every
// other code a record carries is a subtype's.
func EventTypes() []string {
	return []string{typeRest.Code, typeActivity.Code, typeExport.Code, typeImport.Code, typeLogin.Code, typeAdmin.Code}
}

// Kinds of event, with their BALP type, subtype and action.
var (
	typeRest  = Coding{sysEventType, "rest", "RESTful Operation"}
	typeLogin = Coding{sysDCM, "110114", "User Authentication"}
	typeAdmin = Coding{sysDCM, "110137", "User Security Attributes Changed"}
	// typeImport is a bulk load's, typeActivity a request no handler
	// described (fallback).
	typeImport   = Coding{sysDCM, "110107", "Import"}
	typeActivity = Coding{sysDCM, "110100", "Application Activity"}
	roleDest     = Coding{sysDCM, "110152", "Destination Role ID"}
	roleSrc      = Coding{sysDCM, "110153", "Source Role ID"}
	roleApp      = Coding{sysDCM, "110150", "Application"}
	roleAuthz    = Coding{sysBALPAgent, "AuthzOauthService", "OAuth Authorization Server"}
	roleOrg      = Coding{sysRoleClass, "PROV", "healthcare provider"}
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
