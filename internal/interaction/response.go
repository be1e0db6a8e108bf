package interaction

import (
	"net/http"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/store"
)

// Response is what an interaction produces; package rest writes it.
type Response struct {
	Status int
	Header http.Header
	// Body is a JSON tree (*jsontree.Object) or stored JSON
	// (jsontree.Raw); nil for no body.
	Body any
	// Version is the resource version the response is about (nil for
	// none): what a read returned, what a write stored.
	Version *store.Version
	// Restriction notes what usage restrictions removed from the body.
	Restriction RestrictionNote
	// Issues are what profile validation found in a resource written and
	// did not refuse it for; a Bundle entry's response carries them as its
	// outcome.
	Issues []fhir.Issue
}

// RestrictionNote tells the audit trail what usage restrictions did to a
// response: the resources (Type/id) served with elements removed.
type RestrictionNote struct {
	Subsetted []string
}

// Note records that v was served with elements removed.
func (n *RestrictionNote) Note(v *store.Version) {
	n.Subsetted = append(n.Subsetted, v.Type+"/"+v.ID)
}
