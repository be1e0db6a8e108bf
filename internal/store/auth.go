package store

import (
	"context"
	"time"
)

// ClientRecord is a registered client system as stored. Its registration
// (name, organization, keys, scopes…) is JSON owned by package auth; the
// store keeps it whole and knows only the fields it must look up by.
type ClientRecord struct {
	ID       string // the server-assigned client_id
	Data     []byte // the registration, JSON
	Disabled bool
	Created  time.Time
	Updated  time.Time
}

// TokenRecord is an issued access token. Only a hash of the token is
// kept: a copy of the database does not hold usable tokens.
type TokenRecord struct {
	Hash     []byte // SHA-256 of the token, 32 bytes
	ClientID string
	Scope    string // granted scopes, space-separated
	IssuedAt time.Time
	Expires  time.Time
}

// AssertionUse is one use of a client assertion's id (jti): the id is
// taken until Until, judged at Now (the server's clock, not the
// database's).
type AssertionUse struct {
	ClientID, JTI string
	Now, Until    time.Time
}

// AuthStore keeps what authorization shares between nodes: client
// registrations, the assertion ids (jti) already used, and access tokens.
// Registrations change inside a write transaction (Tx.CreateClient,
// Tx.UpdateClient), so that the change and its audit record commit
// together.
type AuthStore interface {
	// Client returns a registration, or ErrNotFound.
	Client(ctx context.Context, id string) (*ClientRecord, error)
	// Clients lists every registration, ordered by id.
	Clients(ctx context.Context) ([]*ClientRecord, error)
	// UseAssertion records a use of an assertion id. It reports false (and
	// records nothing) when the same client already used the id and that
	// use has not expired by u.Now: a replay. Safe when nodes race:
	// exactly one of two concurrent uses wins.
	UseAssertion(ctx context.Context, u AssertionUse) (bool, error)
	// PutToken stores an issued access token.
	PutToken(ctx context.Context, t *TokenRecord) error
	// IssueToken is UseAssertion and PutToken in one transaction: on a
	// replay it reports false and stores neither. Concurrent calls may be
	// committed together (one disk flush for many tokens).
	IssueToken(ctx context.Context, u AssertionUse, t *TokenRecord) (bool, error)
	// Token returns the token with this hash, or ErrNotFound. Expired
	// tokens may still be returned: the caller checks Expires.
	Token(ctx context.Context, hash []byte) (*TokenRecord, error)
	// PurgeAuth deletes assertion ids and tokens that expired before now.
	PurgeAuth(ctx context.Context, now time.Time) error
}
