package rest

import (
	"context"

	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/store"
)

// visible reports whether viewer may see version v at all.
func (s *Server) visible(ctx context.Context, v *store.Version, viewer *interaction.Viewer) (bool, error) {
	if v.Guard == 0 || viewer != nil && viewer.Operator {
		return true, nil
	}
	return s.cfg.Store.Visible(ctx, v, viewer.Store())
}

// viewBody is Viewer.Body for a version resp serves, noting a subsetted
// body in resp's Restriction. A version not visible is one the store's
// filter already left out of lists; the caller skips it.
func viewBody(resp *interaction.Response, v *store.Version, viewer *interaction.Viewer) (body []byte, visible bool, err error) {
	body, visible, subsetted, err := viewer.Body(v)
	if subsetted {
		resp.Restriction.Note(v)
	}
	return body, visible, err
}
