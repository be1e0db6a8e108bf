package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/store"
)

// Problem is the first place where the chain is not intact.
type Problem struct {
	Seq  int64  // the chain position
	ID   string // the AuditEvent id there ("" when the link itself is gone)
	What string // what is wrong, for the auditor
}

func (p *Problem) Error() string {
	if p.ID == "" {
		return fmt.Sprintf("audit record %d: %s", p.Seq, p.What)
	}
	return fmt.Sprintf("audit record %d (AuditEvent/%s): %s", p.Seq, p.ID, p.What)
}

// Report is what Verify found.
type Report struct {
	Records int64  // links checked
	Head    string // hex hash of the last link: note it to detect truncation later
	Problem *Problem
}

// verifyPage is how many links Verify reads per query.
const verifyPage = 1000

// Checkpoint is a chain position and its hash, noted earlier (from the
// output of a previous verify, or from the syslog repository's copy).
type Checkpoint struct {
	Seq  int64
	Hash string // hex
}

// ParseCheckpoint reads "SEQ:HEXHASH".
func ParseCheckpoint(s string) (Checkpoint, error) {
	seqText, hash, ok := strings.Cut(s, ":")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if !ok || err != nil || seq < 1 || len(hash) != 64 {
		return Checkpoint{}, fmt.Errorf("checkpoint %q: want SEQ:HASH (a record number and its 64-digit hex hash)", s)
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint %q: the hash is not hex", s)
	}
	return Checkpoint{Seq: seq, Hash: strings.ToLower(hash)}, nil
}

// Verify walks the whole chain from the first record and stops at the
// first one that was edited (its hash no longer matches its content, or
// the fields it is searched by are not its own),
// deleted (a gap in the positions, or its AuditEvent gone) or reordered
// (it does not follow the hash of the record before it). progress, when
// set, is called after each page.
func Verify(ctx context.Context, st store.AuditStore, progress func(checked int64)) (*Report, error) {
	return VerifyAgainst(ctx, st, nil, progress)
}

// VerifyAgainst is Verify that also requires the chain to pass through
// expect: a chain that ends before it, or has another record there, was
// cut at its end or rewritten — which a chain alone cannot show.
func VerifyAgainst(ctx context.Context, st store.AuditStore, expect *Checkpoint, progress func(checked int64)) (*Report, error) {
	r := &Report{}
	var after int64
	prev := []byte{}
	for {
		links, err := st.AuditChain(ctx, after, verifyPage)
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			if p := check(l, after+1, prev); p != nil {
				r.Problem = p
				return r, nil
			}
			if expect != nil && l.Seq == expect.Seq && hex.EncodeToString(l.Hash) != expect.Hash {
				r.Problem = &Problem{Seq: l.Seq, ID: l.ID, What: "not the record noted at the checkpoint: the chain was rewritten up to here"}
				return r, nil
			}
			prev, after = l.Hash, l.Seq
			r.Records++
		}
		r.Head = hex.EncodeToString(prev)
		if progress != nil {
			progress(r.Records)
		}
		if len(links) < verifyPage {
			if expect != nil && r.Records < expect.Seq {
				r.Problem = &Problem{Seq: r.Records + 1, What: fmt.Sprintf("missing: the chain ends at record %d, before the checkpoint's record %d (records cut from the end)", r.Records, expect.Seq)}
			}
			return r, nil
		}
	}
}

// check judges one link expected at position seq after a link hashed prev.
func check(l store.AuditLink, seq int64, prev []byte) *Problem {
	switch {
	case l.Seq != seq:
		return &Problem{Seq: seq, What: fmt.Sprintf("missing: the chain jumps from record %d to %d (records deleted)", seq-1, l.Seq)}
	case !bytes.Equal(l.Prev, prev):
		return &Problem{Seq: l.Seq, ID: l.ID, What: "out of order: it does not follow the record before it (records reordered, inserted or deleted before it)"}
	case l.Body == nil:
		return &Problem{Seq: l.Seq, ID: l.ID, What: "deleted: the AuditEvent is gone from the database"}
	case !bytes.Equal(store.AuditHash(l.Prev, l.Seq, l.ID, l.Body), l.Hash):
		return &Problem{Seq: l.Seq, ID: l.ID, What: "edited: its content no longer matches its hash"}
	}
	return checkFields(l)
}

// checkFields judges the fields a record is searched by: they are kept
// beside its bytes, outside the hash, so an edit of them (hiding a record
// from auditors' searches) shows as fields that are not the record's.
func checkFields(l store.AuditLink) *Problem {
	want, err := store.AuditFieldsOf(l.Body)
	switch {
	case err != nil:
		return &Problem{Seq: l.Seq, ID: l.ID, What: fmt.Sprintf("unreadable: %v", err)}
	case l.Fields == nil || !l.Fields.Same(want):
		return &Problem{Seq: l.Seq, ID: l.ID, What: "edited: the fields it is searched by are not the record's (searches would miss or misplace it)"}
	}
	return nil
}
