package interaction

import (
	"context"
	"time"
)

// Caller is who a request comes from: a registered client system (or the
// operator at the command line), as authentication established it. Every
// layer knows the caller by this one type: audit records it, Provenance
// names it, Access decides for it.
type Caller struct {
	ClientID         string
	ClientName       string
	Organization     string // Organization/…, as registered
	OrganizationName string
	// Roles are the registration's roles ("code" or "system|code"), which
	// usage restrictions permit by.
	Roles []string
	// SeesRestricted marks a client registered to see restricted data
	// (--sees-restricted): every usage restriction permits it.
	SeesRestricted bool
	// Scope is what the access token grants, as issued.
	Scope string
	// TokenID names the access token in records without revealing it.
	TokenID string
	// IssuedAt and Expires are the token's.
	IssuedAt, Expires time.Time
	// Address is the source network address (IP) of the request.
	Address string
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller of ctx, or nil when none was authenticated.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request's id (X-Request-Id).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request's id ("" outside a request).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
