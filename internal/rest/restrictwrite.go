package rest

import (
	"context"
	"net/http"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
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

// checkRestrictedWrite refuses, inside the write's transaction (so that a
// refusal rolls everything back), a write viewer could not see whole: the
// version it replaced (an update or delete of a resource hidden from the
// writer in whole or in part, by id or matched by a condition), an update
// identical to such a version, or the version written, whose own
// restrictions, or those it inherits (a VerificationResult about
// restricted data), do not permit the writer.
func (s *Server) checkRestrictedWrite(ctx context.Context, tx store.Tx, c *directory.Change, viewer *interaction.Viewer) error {
	if viewer.Operator || c == nil || c.Version == nil {
		return nil
	}
	switch c.Action {
	case directory.Created, directory.Updated, directory.Deleted, directory.Unchanged:
	default:
		return nil // Matched: found through the writer's eyes, nothing written
	}
	// Committed before this transaction: the store judges it by its own
	// keys.
	if prev := c.Replaced(); prev != nil {
		if err := s.checkWhole(ctx, nil, prev, viewer); err != nil {
			return err
		}
	}
	switch c.Action {
	case directory.Deleted:
		return nil
	case directory.Unchanged:
		return s.checkWhole(ctx, nil, c.Version, viewer)
	}
	cur, err := tx.Current(ctx, c.Type, c.ID)
	if err != nil {
		return err
	}
	return s.checkWhole(ctx, tx, cur, viewer)
}

// checkWhole refuses when viewer may not see version v whole; inTx, when
// set, is the transaction v was written in (else v is committed and the
// store is asked).
func (s *Server) checkWhole(ctx context.Context, inTx store.Tx, v *store.Version, viewer *interaction.Viewer) error {
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
	_, whole, subsetted, err := viewer.Body(v)
	if err != nil {
		return err
	}
	if !ok || !whole || subsetted {
		return errRestrictedWrite(v.Type)
	}
	return nil
}
