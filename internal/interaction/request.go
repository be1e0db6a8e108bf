package interaction

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/fhir"
)

// Request is one FHIR interaction, parsed once from HTTP (or from a Bundle
// entry) and then run through the same pipeline either way.
type Request struct {
	Kind      Kind
	Type      string
	ID        string
	VersionID int64
	// Query holds search parameters and, for conditional update and
	// delete, the condition.
	Query url.Values
	// Resource is the body of create and update (nil otherwise).
	Resource *fhir.Resource
	// Bundle is the body of batch and transaction.
	Bundle *fhir.Resource
	// Provenance is the client's X-Provenance header of a create, update
	// or delete, parsed and validated (nil when absent). A batch or
	// transaction Bundle's header applies to every one of its entries, and
	// their Requests carry it too: one header describes the one
	// submission. The write pipeline records it with each write.
	Provenance *fhir.Resource

	// IfMatch is an update's or delete's If-Match (Bundle entries:
	// request.ifMatch): it succeeds only when the current version is one
	// listed, or for * exists. The write engine checks it in the write's
	// transaction, against the locked current version.
	IfMatch     fhir.ETags
	IfNoneExist url.Values // conditional create
	// IfNoneMatch is a read's or vread's If-None-Match (request.ifNoneMatch):
	// 304 when the version read is one listed, or for * exists.
	IfNoneMatch     fhir.ETags
	IfModifiedSince time.Time   // read: 304 when not modified since (unless IfNoneMatch)
	Prefer          Prefer      // the Prefer header
	Entry           int         // Bundle entry index, -1 for a plain HTTP request
	Method          string      // HTTP method (or Bundle entry request.method)
	Header          http.Header // the HTTP request's headers (nil for entries)
	// Operation is what an Operation request invokes, with its parameters.
	Operation *Invocation
}

// Invocation is a FHIR operation invoked on a type or an instance.
type Invocation struct {
	Name string // "validate"
	// Mode is $validate's mode: create, update or delete ("" for none).
	Mode string
	// Profile is $validate's profile parameter: a profile to check the
	// resource against, as if it claimed it in meta.profile.
	Profile string
	// Structure are the R4 structural issues of Resource found while it was
	// parsed: $validate reports them rather than refusing the request.
	Structure []fhir.Issue
}

// Conditional reports whether an update or delete is by condition.
func (r *Request) Conditional() bool { return r.ID == "" && r.Query != nil }

// Needs is the SMART permission the interaction takes on its type: r for
// read, vread and instance history; s for search and type history; c, u
// and d for create, update and delete, with s as well when they are
// conditional (they search); an operation what it says. 0 for
// interactions checked otherwise:
// capabilities, system-level search and history (narrowed to the types
// the caller may search), and Bundles (checked entry by entry).
func (r *Request) Needs() Perm {
	switch r.Kind {
	case Read, VRead, HistoryInstance:
		return PermRead
	case SearchType, HistoryType:
		return PermSearch
	case Create:
		if r.IfNoneExist != nil {
			return PermCreate | PermSearch
		}
		return PermCreate
	case Update:
		if r.Conditional() {
			return PermUpdate | PermSearch
		}
		return PermUpdate
	case Delete:
		if r.Conditional() {
			return PermDelete | PermSearch
		}
		return PermDelete
	case Operation:
		return r.Operation.Needs(r.ID != "")
	}
	return 0
}

// Needs is the permission an operation takes: $validate takes the
// permission of the write it checks (create at type level, update on an
// instance, or delete).
func (o *Invocation) Needs(instance bool) Perm {
	switch {
	case o == nil:
		return PermAll
	case o.Mode == "delete":
		return PermDelete
	case o.Mode == "update", o.Mode == "" && instance:
		return PermUpdate
	}
	return PermCreate
}

// Prefer holds the parts of the Prefer header vhdir honours (RFC 7240,
// FHIR http.html#prefer).
type Prefer struct {
	Return   string // minimal, representation, OperationOutcome
	Handling string // strict, lenient
	Async    bool   // respond-async
}

// Lenient reports handling=lenient: unknown parameters are ignored.
func (p Prefer) Lenient() bool { return p.Handling == "lenient" }

// ParsePrefer reads the Prefer header's values.
func ParsePrefer(values []string) Prefer {
	var p Prefer
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			val = strings.Trim(strings.TrimSpace(val), `"`)
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "return":
				p.Return = val
			case "handling":
				p.Handling = val
			case "respond-async":
				p.Async = true
			}
		}
	}
	return p
}
