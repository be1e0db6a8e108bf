package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The audit chain makes the audit trail tamper-evident. Each AuditEvent
// is given a link in one chain, in commit order: link n holds the hash of
// link n-1 and its own hash, which covers its position, its AuditEvent's
// id and the exact stored bytes. Editing a record changes its hash;
// deleting or reordering links breaks the sequence or the prev/hash pairs.
// Tx.ChainAudit appends; AuditStore walks the chain back for verification.
//
// The chain is also the audit store: a link holds its record's bytes and
// the fields auditors search by (AuditFields), one row per record plus its
// references. AuditEvents are never stored as resources: reads, searches,
// histories and exports of AuditEvent are answered from the chain, with
// the bytes as committed.

// AuditType is the resource type of the records the chain holds.
const AuditType = "AuditEvent"

// AuditItem is one AuditEvent to chain: its id, its body (the exact bytes
// it is stored and served as) and the fields it is searched by, which
// must be AuditFieldsOf(Body).
type AuditItem struct {
	ID     string
	Body   []byte
	Fields AuditFields
}

// AuditLink is one link of the chain as stored, with the body of the
// AuditEvent it names (nil when it is gone) and, from AuditChain, the
// fields stored for searching it.
type AuditLink struct {
	Seq        int64 // 1, 2, … without gaps
	ID         string
	Prev, Hash []byte
	Body       []byte
	Fields     *AuditFields
}

// AuditFields are the values of a record that auditors search by, kept
// beside its bytes so that searches never parse a record.
type AuditFields struct {
	// Recorded is AuditEvent.recorded, to the millisecond.
	Recorded        time.Time
	Action, Outcome string
	Type, Subtype   AuditCode
	// Client is the requesting agent's client id (agent.who.identifier in
	// urn:vhdir:client-id), verified or only claimed; "" for none.
	Client string
	// Address is the requesting agent's network address.
	Address string
	// Source is the server's FHIR base (the observer's identifier, and
	// the server agent's identifier and address).
	Source string
	// Policy is the requesting agent's policy (the access token's id).
	Policy string
	// Profile is meta.profile (the BALP profile).
	Profile string
	// RequestID is the X-Request-Id entity's identifier value.
	RequestID string
	// Refs are the references of agent.who and entity.what, in order.
	Refs []AuditRef
}

// AuditCode is a Coding's system and code.
type AuditCode struct{ System, Code string }

// AuditRef is a reference of a record: a local Type/ID (any version), or
// a URL.
type AuditRef struct {
	Entity   bool // entity.what; false: agent.who
	Type, ID string
	URL      string
}

// Client id and URI identifier systems of the records' agents.
const (
	AuditClientSystem = "urn:vhdir:client-id"
	AuditURISystem    = "urn:ietf:rfc:3986"
)

// Key is the reference as one text: Type/id, or the URL (ParseAuditRef
// reads it back).
func (r AuditRef) Key() string {
	if r.URL != "" {
		return r.URL
	}
	return r.Type + "/" + r.ID
}

// SplitAuditRefs separates the references a record keeps in its own row,
// the first agent's and the first entity's (as keys; "" for none), from
// the others (each once), which are stored apart.
func SplitAuditRefs(refs []AuditRef) (agent, entity string, others []AuditRef) {
	for i, r := range refs {
		switch {
		case slices.Contains(refs[:i], r):
		case !r.Entity && agent == "":
			agent = r.Key()
		case r.Entity && entity == "":
			entity = r.Key()
		default:
			others = append(others, r)
		}
	}
	return agent, entity, others
}

// ParseAuditRef reads a reference as search indexes it: Type/id (or
// Type/id/_history/n) as a local reference, anything else as a URL.
func ParseAuditRef(ref string, entity bool) AuditRef {
	typ, rest, _ := strings.Cut(ref, "/")
	id, tail, versioned := strings.Cut(rest, "/")
	vid, isHistory := strings.CutPrefix(tail, "_history/")
	local := !versioned || isHistory && !strings.Contains(vid, "/")
	if local && typ != "" && id != "" && !strings.Contains(typ, ":") {
		return AuditRef{Entity: entity, Type: typ, ID: id}
	}
	return AuditRef{Entity: entity, URL: ref}
}

// auditRecord is the part of a record AuditFieldsOf reads.
type auditRecord struct {
	Meta struct {
		Profile []string `json:"profile"`
	} `json:"meta"`
	Type     auditCodeJSON   `json:"type"`
	Subtype  []auditCodeJSON `json:"subtype"`
	Action   string          `json:"action"`
	Recorded string          `json:"recorded"`
	Outcome  string          `json:"outcome"`
	Agent    []struct {
		Who struct {
			Reference  string       `json:"reference"`
			Identifier identifierJS `json:"identifier"`
		} `json:"who"`
		Requestor bool     `json:"requestor"`
		Policy    []string `json:"policy"`
		Network   struct {
			Address string `json:"address"`
		} `json:"network"`
	} `json:"agent"`
	Source struct {
		Observer struct {
			Identifier identifierJS `json:"identifier"`
		} `json:"observer"`
	} `json:"source"`
	Entity []struct {
		What struct {
			Reference  string       `json:"reference"`
			Identifier identifierJS `json:"identifier"`
		} `json:"what"`
	} `json:"entity"`
}

// auditCodeJSON is a Coding as a record holds it.
type auditCodeJSON struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type identifierJS struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// AuditFieldsOf reads the fields of a record from its bytes: for records
// committed before their fields were stored, and for vhdir audit verify,
// which checks that the stored fields still are the record's. The audit
// package computes the same fields without parsing when it makes a record.
func AuditFieldsOf(body []byte) (AuditFields, error) {
	var r auditRecord
	if err := json.Unmarshal(body, &r); err != nil {
		return AuditFields{}, fmt.Errorf("audit record: %w", err)
	}
	at, err := time.Parse(time.RFC3339Nano, r.Recorded)
	if err != nil {
		return AuditFields{}, fmt.Errorf("audit record: recorded %q: %w", r.Recorded, err)
	}
	f := AuditFields{Recorded: at.UTC().Truncate(time.Millisecond), Action: r.Action, Outcome: r.Outcome,
		Type: AuditCode(r.Type), Source: r.Source.Observer.Identifier.Value}
	if len(r.Meta.Profile) > 0 {
		f.Profile = r.Meta.Profile[0]
	}
	if len(r.Subtype) > 0 {
		f.Subtype = AuditCode(r.Subtype[0])
	}
	for _, a := range r.Agent {
		if a.Requestor {
			if a.Who.Identifier.System == AuditClientSystem {
				f.Client = a.Who.Identifier.Value
			}
			f.Address = a.Network.Address
			if len(a.Policy) > 0 {
				f.Policy = a.Policy[0]
			}
		}
		if a.Who.Reference != "" {
			f.Refs = append(f.Refs, ParseAuditRef(a.Who.Reference, false))
		}
	}
	for _, e := range r.Entity {
		switch {
		case e.What.Reference != "":
			f.Refs = append(f.Refs, ParseAuditRef(e.What.Reference, true))
		case e.What.Identifier.Value != "":
			f.RequestID = e.What.Identifier.Value
		}
	}
	return f, nil
}

// AuditHash is the hash of link seq: SHA-256 over a version tag, the
// previous link's hash (empty for link 1), seq as 8 bytes big-endian, the
// id and the body; every field but seq is prefixed with its length (8
// bytes big-endian), so that no two different links hash the same input.
// docs/format/audit-chain.md specifies it byte for byte.
func AuditHash(prev []byte, seq int64, id string, body []byte) []byte {
	h := sha256.New()
	var n [8]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	put([]byte("vhdir-audit-chain-v1"))
	put(prev)
	binary.BigEndian.PutUint64(n[:], uint64(seq))
	h.Write(n[:])
	put([]byte(id))
	put(body)
	return h.Sum(nil)
}

// AuditStore reads the audit chain back.
type AuditStore interface {
	// AppendAudit appends AuditEvents to the chain in a transaction of its
	// own, as Tx.ChainAudit does in a write's: the records of requests
	// that write nothing.
	AppendAudit(ctx context.Context, items []AuditItem) ([]AuditLink, error)
	// AuditChain returns up to limit links with Seq > after, in Seq order,
	// with their bodies and stored fields.
	AuditChain(ctx context.Context, after int64, limit int) ([]AuditLink, error)
	// AuditHead returns the chain's last link (Seq and Hash only; Seq 0
	// for an empty chain).
	AuditHead(ctx context.Context) (AuditLink, error)
	// AuditWritable checks that records can be appended now: an append
	// as requests make it, rolled back (readiness).
	AuditWritable(ctx context.Context) error
}

// Storable returns f with text a database column can hold: valid UTF-8
// without NUL (each NUL becomes U+FFFD). The fields only find a record;
// its bytes are what is served and hashed.
func (f AuditFields) Storable() AuditFields {
	for _, s := range []*string{&f.Action, &f.Outcome, &f.Type.System, &f.Type.Code, &f.Subtype.System, &f.Subtype.Code,
		&f.Client, &f.Address, &f.Source, &f.Policy, &f.Profile, &f.RequestID} {
		*s = storable(*s)
	}
	if len(f.Refs) > 0 {
		refs := make([]AuditRef, len(f.Refs))
		for i, r := range f.Refs {
			refs[i] = AuditRef{Entity: r.Entity, Type: storable(r.Type), ID: storable(r.ID), URL: storable(r.URL)}
		}
		f.Refs = refs
	}
	return f
}

func storable(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// Same reports whether f and g are the same fields as stored: equal
// values, and the same references in any order.
func (f AuditFields) Same(g AuditFields) bool {
	f, g = f.Storable(), g.Storable()
	f.Recorded, g.Recorded = f.Recorded.UTC(), g.Recorded.UTC()
	f.Refs, g.Refs = refSet(f.Refs), refSet(g.Refs)
	return reflect.DeepEqual(f, g)
}

// refSet is refs sorted, each once.
func refSet(refs []AuditRef) []AuditRef {
	if len(refs) == 0 {
		return nil
	}
	out := slices.Clone(refs)
	slices.SortFunc(out, func(a, b AuditRef) int {
		return cmp.Or(cmp.Compare(boolRank(a.Entity), boolRank(b.Entity)), cmp.Compare(a.Type, b.Type), cmp.Compare(a.ID, b.ID), cmp.Compare(a.URL, b.URL))
	})
	return slices.Compact(out)
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
