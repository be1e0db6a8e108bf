package provenance

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// Code systems of the elements the server fills in.
const (
	// ActivitySystem codes Provenance.activity
	// (http://terminology.hl7.org/CodeSystem/v3-DataOperation).
	ActivitySystem = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
	// ParticipantTypeSystem codes Provenance.agent.type.
	ParticipantTypeSystem = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
	// ClientIDSystem is the identifier system of a registered client's
	// client_id in Provenance.agent.who. client_ids are unique within one
	// vhdir database, which is where the Provenance is stored and read; a
	// fixed URN (rather than the server's base URL) keeps the identifier
	// the same across nodes, base URL changes and restores, and makes
	// Provenance?agent:identifier=urn:vhdir:client-id|ID a stable search.
	ClientIDSystem = "urn:vhdir:client-id"
)

// activities maps the actions that store a version to their
// v3-DataOperation code and display.
var activities = map[directory.Action][2]string{
	directory.Created: {"CREATE", "create"},
	directory.Updated: {"UPDATE", "revise"},
	directory.Deleted: {"DELETE", "delete"},
}

// Build returns the Provenance of one write. target is the version written
// (Type/id/_history/vid; for a delete the delete version), recorded is now
// (the write transaction's time from the one clock, so it equals the
// version's meta.lastUpdated), activity is CREATE, UPDATE or DELETE.
//
// With header (from ParseHeader), the result starts from it: its agents,
// occurred[x], location, reason, policy, entity and signature are kept. The
// server's facts replace the client's: target (a header may not have one),
// recorded (one time source: a client's clock is not the record's) and
// activity (the data operation that really happened), and the id is the
// server's. The authenticated client is appended as an agent even when the
// header names agents of its own: the header is the client's claim about
// who is responsible, the appended agent is what the server verified, and
// a reader needs both to judge the claim.
//
// header is not modified; one header may serve many changes.
func Build(c *directory.Change, caller *interaction.Caller, header *fhir.Resource, now time.Time) (*fhir.Resource, error) {
	act, ok := activities[c.Action]
	if !ok || c.Version == nil {
		return nil, fmt.Errorf("provenance: %s of %s/%s stored no version", c.Action, c.Type, c.ID)
	}
	src := &jsontree.Object{}
	if header != nil {
		src = jsontree.Clone(header.Obj).(*jsontree.Object)
	}
	for _, k := range []string{"id", "target", "recorded", "_recorded", "activity"} {
		src.Delete(k)
	}
	target := &jsontree.Object{}
	target.Set("reference", c.Type+"/"+c.ID+"/_history/"+strconv.FormatInt(c.Version.VersionID, 10))
	src.Set("resourceType", "Provenance")
	src.Set("target", []any{target})
	src.Set("recorded", fhir.FormatInstant(now))
	src.Set("activity", codeable(ActivitySystem, act[0], act[1]))
	agents, _ := src.Get("agent")
	list, _ := agents.([]any)
	src.Set("agent", append(list, serverAgent(caller)))
	obj := ordered(src)
	if issues := fhir.Validate(obj); issues != nil {
		// A server fault (a header passed ParseHeader; the rest is ours):
		// a plain error, so that the client sees a 500 and the log the issue.
		return nil, fmt.Errorf("provenance: the Provenance of %s/%s is invalid: %s %s", c.Type, c.ID, issues[0].Expression, issues[0].Diagnostics)
	}
	return &fhir.Resource{Type: "Provenance", Obj: obj}, nil
}

// Record creates, through w and so in its transaction, one Provenance per
// change that stored a version. Changes that wrote nothing (an identical
// update, a conditional create that matched, a delete of nothing) get
// none, nor do changes to AuditEvent and Provenance, which only the server
// writes and which would otherwise record themselves. It must be called
// inside the write transaction, after the changes (rest's write pipeline
// does).
func Record(ctx context.Context, w *directory.Writer, changes []*directory.Change, caller *interaction.Caller, header *fhir.Resource) error {
	out := make([]*fhir.Resource, 0, min(len(changes), recordChunk))
	for i, c := range changes {
		if c.Wrote() && c.Type != "Provenance" && c.Type != "AuditEvent" {
			p, err := Build(c, caller, header, w.Now())
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		if len(out) == recordChunk || (i == len(changes)-1 && len(out) > 0) {
			if _, err := w.CreateAll(ctx, out); err != nil {
				return fmt.Errorf("provenance: %w", err)
			}
			clear(out)
			out = out[:0]
		}
	}
	return nil
}

// recordChunk is how many Provenance Record builds and stores at once: a
// transaction of many entries stores its Provenance with a few statements
// per chunk, not a few each, and holds one chunk's trees at a time, not
// one per entry.
const recordChunk = 256

// serverAgent is the agent the server adds: the client as author, on
// behalf of its Organization.
func serverAgent(a *interaction.Caller) *jsontree.Object {
	who := &jsontree.Object{}
	who.Set("type", "Device") // a software system acting for the organization
	if a.ClientID != "" {
		ident := &jsontree.Object{}
		ident.Set("system", ClientIDSystem)
		ident.Set("value", a.ClientID)
		who.Set("identifier", ident)
	}
	name := a.ClientName
	if name == "" {
		name = a.ClientID
	}
	if name != "" {
		who.Set("display", name)
	}
	out := &jsontree.Object{}
	out.Set("type", codeable(ParticipantTypeSystem, "author", "Author"))
	out.Set("who", who)
	if a.Organization != "" {
		org := &jsontree.Object{}
		org.Set("reference", a.Organization)
		if a.OrganizationName != "" {
			org.Set("display", a.OrganizationName)
		}
		out.Set("onBehalfOf", org)
	}
	return out
}

func codeable(system, code, display string) *jsontree.Object {
	coding := &jsontree.Object{}
	coding.Set("system", system)
	coding.Set("code", code)
	coding.Set("display", display)
	cc := &jsontree.Object{}
	cc.Set("coding", []any{coding})
	return cc
}

// elementOrder is Provenance's elements in definition order, as FHIR JSON
// writes them; a primitive's _name sibling follows it.
var elementOrder = []string{
	"resourceType", "id", "meta", "implicitRules", "language", "text", "contained", "extension",
	"modifierExtension", "target", "occurredPeriod", "occurredDateTime", "recorded", "policy",
	"location", "reason", "activity", "agent", "entity", "signature",
}

// ordered returns o's members in definition order, so that a stored
// Provenance reads the same whether or not it began as a header. Members
// outside the list (none in a valid Provenance) follow, in their order.
func ordered(o *jsontree.Object) *jsontree.Object {
	out := &jsontree.Object{Members: make([]jsontree.Member, 0, len(o.Members))}
	taken := map[string]bool{}
	for _, name := range elementOrder {
		for _, k := range []string{name, "_" + name} {
			if v, ok := o.Get(k); ok {
				out.Members = append(out.Members, jsontree.Member{Key: k, Value: v})
				taken[k] = true
			}
		}
	}
	for _, m := range o.Members {
		if !taken[m.Key] {
			out.Members = append(out.Members, m)
		}
	}
	return out
}

// RecordBatch creates, through w and so in its transaction, one Provenance
// for a batch of an operator's bulk load (vhdir load): its targets are
// every version the batch stored, its agent the operator, its activity
// the data operation when all changes share one (CREATE or
// UPDATE), and its entity the files the batch came from (source). A load
// of a million resources stores one Provenance per batch, not one per
// resource. A batch that stored nothing gets none.
func RecordBatch(ctx context.Context, w *directory.Writer, changes []*directory.Change, caller *interaction.Caller, source string) error {
	var targets []any
	acts := map[directory.Action]bool{}
	for _, c := range changes {
		if !c.Wrote() || c.Type == "Provenance" || c.Type == "AuditEvent" {
			continue
		}
		target := &jsontree.Object{}
		target.Set("reference", c.Type+"/"+c.ID+"/_history/"+strconv.FormatInt(c.Version.VersionID, 10))
		targets = append(targets, target)
		acts[c.Action] = true
	}
	if len(targets) == 0 {
		return nil
	}
	src := &jsontree.Object{}
	src.Set("resourceType", "Provenance")
	src.Set("target", targets)
	src.Set("recorded", fhir.FormatInstant(w.Now()))
	if len(acts) == 1 {
		for a := range acts {
			if act, ok := activities[a]; ok {
				src.Set("activity", codeable(ActivitySystem, act[0], act[1]))
			}
		}
	}
	src.Set("agent", []any{serverAgent(caller)})
	what := &jsontree.Object{}
	what.Set("display", "vhdir load of "+source)
	entity := &jsontree.Object{}
	entity.Set("role", "source")
	entity.Set("what", what)
	src.Set("entity", []any{entity})
	obj := ordered(src)
	if issues := fhir.Validate(obj); issues != nil {
		return fmt.Errorf("provenance: the Provenance of a load batch is invalid: %s %s", issues[0].Expression, issues[0].Diagnostics)
	}
	if _, err := w.Create(ctx, &fhir.Resource{Type: "Provenance", Obj: obj}, "", nil); err != nil {
		return fmt.Errorf("provenance of a load batch: %w", err)
	}
	return nil
}
