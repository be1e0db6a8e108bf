package main

import (
	"context"

	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/provenance"
	"github.com/vhdir/vhdir/internal/rest"
)

// loaderAgent names the writer when no client is authenticated: the FHIR
// API requires a token, so only `vhdir load` (and serve --seed-examples,
// which uses it) writes without one, through batch and transaction
// Bundles (other loaded files go through directory.Writer.PutAll and get
// no Provenance).
const loaderAgent = "vhdir load"

// recordWrite runs in rest's OnWrite hook: inside the write transaction it
// adds the records every write leaves, so that they commit with it or not
// at all: one Provenance per stored version, naming the authenticated
// client and its organization (and the request's X-Provenance, if any).
func recordWrite(ctx context.Context, w *directory.Writer, req *rest.Request, changes []*directory.Change) error {
	return provenance.Record(ctx, w, changes, writer(ctx), req.Provenance)
}

// writer is the agent of a write: the authenticated client, or the loader.
func writer(ctx context.Context) provenance.Agent {
	p := auth.PrincipalFrom(ctx)
	if p == nil {
		return provenance.Agent{ClientName: loaderAgent}
	}
	return provenance.Agent{ClientID: p.ClientID, ClientName: p.ClientName, Organization: p.Organization, OrganizationName: p.OrganizationName}
}
