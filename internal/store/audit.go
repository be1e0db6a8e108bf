package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
)

// The audit chain makes the audit trail tamper-evident. Each AuditEvent
// is given a link in one chain, in commit order: link n holds the hash of
// link n-1 and its own hash, which covers its position, its AuditEvent's
// id and the exact stored bytes. Editing a record changes its hash;
// deleting or reordering links breaks the sequence or the prev/hash pairs.
// Tx.ChainAudit appends; AuditStore walks the chain back for verification.
//
// A record is committed as its link alone, with its body staged in it: the
// commit every request waits for writes one row per record. Tx.IndexAudit
// later stores it as an ordinary resource (so that auditors search it like
// any other type), with its index rows, and clears the staged body.

// AuditItem is one AuditEvent to chain: its id and its body, the exact
// bytes it will be stored and served as.
type AuditItem struct {
	ID   string
	Body []byte
}

// AuditLink is one link of the chain as stored, with the body of the
// AuditEvent it names: the stored resource's, or the body staged in the
// link before the resource is stored; nil when both are missing.
type AuditLink struct {
	Seq        int64 // 1, 2, … without gaps
	ID         string
	Prev, Hash []byte
	Body       []byte
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
	// AuditChain returns up to limit links with Seq > after, in Seq order.
	AuditChain(ctx context.Context, after int64, limit int) ([]AuditLink, error)
	// AuditIndexed returns the position up to which AuditEvents are stored
	// as resources with their index rows (see Tx.IndexAudit).
	AuditIndexed(ctx context.Context) (int64, error)
	// AuditWritable checks that records can be appended now: an append
	// as requests make it, rolled back (readiness).
	AuditWritable(ctx context.Context) error
}

// AuditIndexItem is one chained AuditEvent to store as a resource, with
// its index rows.
type AuditIndexItem struct {
	ID string
	// Version is the AuditEvent as a resource: version 1, LastUpdated its
	// meta.lastUpdated, Body the link's body.
	Version *Version
	Index   *Index
}
