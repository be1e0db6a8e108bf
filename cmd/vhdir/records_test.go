package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/rest"
)

// TestRecordWrite: the OnWrite hook stores a Provenance naming the
// token's client and organization, or the loader when there is no token.
func TestRecordWrite(t *testing.T) {
	ctx := context.Background()
	a, err := newApp(ctx, appConfig{db: "sqlite:" + filepath.Join(t.TempDir(), "db"), baseURL: "https://127.0.0.1:8443", maxBody: 1 << 20}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.store.Close()
	acme := &auth.Principal{ClientID: "acme", ClientName: "Acme Health Plan", Organization: "Organization/acme-org", OrganizationName: "Acme"}
	tests := []struct {
		name                 string
		ctx                  context.Context
		id                   string
		client, display, org string
	}{
		{"client", auth.WithPrincipal(ctx, acme), "o1", "acme", "Acme Health Plan", "Organization/acme-org"},
		{"no client", ctx, "o2", "", "vhdir load", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := fhir.ParseResource([]byte(`{"resourceType":"Organization","id":"` + tt.id + `","name":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			changes, err := a.dir.Write(tt.ctx, func(w *directory.Writer) error {
				if _, err := w.Update(tt.ctx, res, tt.id, 0); err != nil {
					return err
				}
				return recordWrite(tt.ctx, w, &rest.Request{Interaction: rest.Update}, w.Changes())
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) != 2 || changes[1].Type != "Provenance" {
				t.Fatalf("changes = %v; want the Organization and its Provenance", changes)
			}
			p, err := jsontree.ParseObject(changes[1].Version.Body)
			if err != nil {
				t.Fatal(err)
			}
			agents, _ := p.Get("agent")
			agent := agents.([]any)[0].(*jsontree.Object)
			who, _ := agent.Object("who")
			ident, _ := who.Object("identifier")
			var client, org string
			if ident != nil {
				client, _ = ident.String("value")
			}
			if obo, ok := agent.Object("onBehalfOf"); ok {
				org, _ = obo.String("reference")
			}
			display, _ := who.String("display")
			if client != tt.client || display != tt.display || org != tt.org {
				t.Errorf("agent = client %q, display %q, organization %q; want %q, %q, %q", client, display, org, tt.client, tt.display, tt.org)
			}
		})
	}
}
