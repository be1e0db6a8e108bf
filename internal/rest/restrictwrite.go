package rest

import (
	"context"
	"errors"
	"net/http"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/restrict"
	"github.com/vhdir/vhdir/internal/store"
)

// Writes and usage restrictions: a client may write only what it may see
// whole. It may not replace or delete a resource whose current version is
// hidden from it in whole or in part (it would destroy data it cannot see),
// and it may not store a resource carrying a restriction that does not
// permit it (it could not read back what it wrote). The refusal is a 403
// that names no restricted data.

// errRestrictedWrite is the refusal.
func errRestrictedWrite(typ string) error {
	return fhir.Errorf(http.StatusForbidden, fhir.IssueForbidden,
		"this %s carries a usage restriction that does not permit this client; only clients it permits may change it", typ)
}

// checkRestrictedTarget refuses an update or delete of a resource, named by
// id, that viewer may not see whole. The row is locked by Current, so the
// check cannot go stale before the write.
func (s *Server) checkRestrictedTarget(ctx context.Context, tx store.Tx, req *Request, viewer *Viewer) error {
	if viewer.Operator || req.Interaction == Create || req.ID == "" {
		return nil
	}
	cur, err := tx.Current(ctx, req.Type, req.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.checkWhole(ctx, tx, cur, viewer)
}

// checkWhole refuses when viewer may not see version v whole; inTx, when
// set, is the transaction v was read in (else v is committed and the
// store is asked).
func (s *Server) checkWhole(ctx context.Context, inTx store.Tx, v *store.Version, viewer *Viewer) error {
	if v.Deleted {
		return nil // nothing left to destroy or reveal
	}
	var ok bool
	var err error
	if inTx != nil && v.Guard != 0 {
		ok, err = matches(ctx, inTx, v.Type, v.ID, nil, viewer.Store())
	} else {
		ok, err = s.visible(ctx, v, viewer)
	}
	if err != nil {
		return err
	}
	_, whole, subsetted, err := ViewBody(v, viewer)
	if err != nil {
		return err
	}
	if !ok || !whole || subsetted {
		return errRestrictedWrite(v.Type)
	}
	return nil
}

// checkRestrictedResult refuses a write whose result viewer could not see
// whole: its own restrictions, or those it inherits (a VerificationResult
// about restricted data), do not permit the writer. Conditional writes
// matched through viewer's eyes (directory.WithViewer); a conditional
// update must still not overwrite elements hidden from the writer, which
// the version it replaced shows.
func (s *Server) checkRestrictedResult(ctx context.Context, tx store.Tx, req *Request, c *directory.Change, viewer *Viewer) error {
	if viewer.Operator || c == nil || c.Version == nil || !c.Wrote() {
		return nil
	}
	if req.Conditional() && c.Version.VersionID > 1 && (c.Action == directory.Updated || c.Action == directory.Deleted) {
		// Matched by a search: the version replaced was committed before
		// this transaction, so the store can show it.
		prev, err := s.cfg.Store.VRead(ctx, c.Type, c.ID, c.Version.VersionID-1)
		if err != nil {
			return err
		}
		if err := s.checkWhole(ctx, nil, prev, viewer); err != nil {
			return err
		}
	}
	if c.Action == directory.Deleted {
		return nil
	}
	if req.Resource != nil {
		rs := restrict.Parse(req.Resource.Obj)
		for _, r := range rs.Applying() {
			if !r.Rule.Permits(viewer.Restrict()) {
				return errRestrictedWrite(c.Type)
			}
		}
	}
	cur, err := tx.Current(ctx, c.Type, c.ID)
	if err != nil {
		return err
	}
	return s.checkWhole(ctx, tx, cur, viewer)
}
