package directory

import (
	"context"

	"github.com/vhdir/vhdir/internal/store"
)

type viewerKey struct{}

// WithViewer returns ctx carrying the viewer on whose behalf a write runs:
// the searches of its conditional interactions (If-None-Exist, conditional
// update and delete, conditional references) then match only what that
// viewer may see, so a restricted resource neither matches nor reveals
// itself through a 412 to a client it does not permit.
func WithViewer(ctx context.Context, v *store.Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// viewerOf returns the viewer of ctx: the server itself (store.SeeAll)
// unless WithViewer set one.
func viewerOf(ctx context.Context) *store.Viewer {
	if v, ok := ctx.Value(viewerKey{}).(*store.Viewer); ok {
		return v
	}
	return store.SeeAll
}
