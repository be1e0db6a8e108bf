package auth

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/store"
)

// Registry manages client registrations in the database: what `vhdir
// clients` does. Every node reads the same registrations. Each change
// commits together with its audit record.
type Registry struct {
	store store.Store
	types []string
	clock clock.Clock
	audit RegistrationAuditor
}

// RegistrationAuditor records a change to a registration inside the
// transaction that makes it: the change and its record commit together or
// not at all. The one who changes it is the caller of ctx (the operator).
type RegistrationAuditor interface {
	Registered(ctx context.Context, tx store.Tx, now time.Time, change string, reg *Registration) error
}

// NewRegistry returns the registry of st; types are the resource types
// scopes may name. Every argument is required.
func NewRegistry(st store.Store, types []string, clk clock.Clock, audit RegistrationAuditor) (*Registry, error) {
	if st == nil || clk == nil || audit == nil || len(types) == 0 {
		return nil, errors.New("auth: a registry needs a store, the served types, a clock and an auditor")
	}
	return &Registry{store: st, types: types, clock: clk, audit: audit}, nil
}

var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,64}$`)

// Add validates and stores a new registration. An empty ClientID gets a
// random one; the stored registration is returned.
func (r *Registry) Add(ctx context.Context, reg Registration) (*Registration, error) {
	if err := r.validate(&reg); err != nil {
		return nil, err
	}
	if reg.ClientID == "" {
		reg.ClientID = newClientID()
	}
	data, err := json.Marshal(reg)
	if err != nil {
		return nil, err
	}
	now := r.clock.Now()
	rec := &store.ClientRecord{ID: reg.ClientID, Data: data, Created: now, Updated: now}
	err = r.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateClient(ctx, rec); err != nil {
			return err
		}
		return r.audit.Registered(ctx, tx, now, "add", &reg)
	})
	if errors.Is(err, store.ErrExists) {
		return nil, fmt.Errorf("client_id %q is registered already", reg.ClientID)
	}
	if err != nil {
		return nil, err
	}
	return &reg, nil
}

// validate checks a registration before it is stored.
func (r *Registry) validate(reg *Registration) error {
	reg.Name = strings.TrimSpace(reg.Name)
	switch {
	case reg.Name == "":
		return errors.New("a client needs a name")
	case reg.ClientID != "" && !clientIDPattern.MatchString(reg.ClientID):
		return fmt.Errorf("client_id %q: use 1-64 of A-Z a-z 0-9 . _ ~ -", reg.ClientID)
	case (len(reg.JWKS) == 0) == (reg.JWKSURI == ""):
		return errors.New("give the client's public keys either by value (a JWKS file) or by URL (jwks_uri), not both")
	}
	ref, err := fhir.ParseReference(reg.Organization)
	if err != nil || ref.Kind != fhir.RefRelative || ref.Type != "Organization" || ref.Version != "" {
		return fmt.Errorf("organization %q: use a reference to the directory's Organization, such as Organization/123", reg.Organization)
	}
	if len(reg.JWKS) > 0 {
		if _, err := ParseKeySet(reg.JWKS); err != nil {
			return fmt.Errorf("jwks: %w", err)
		}
		compact, err := compactJSON(reg.JWKS)
		if err != nil {
			return fmt.Errorf("jwks: %w", err)
		}
		reg.JWKS = compact
	}
	if reg.JWKSURI != "" {
		if err := checkHTTPS(reg.JWKSURI); err != nil {
			return fmt.Errorf("jwks_uri: %w", err)
		}
	}
	for _, u := range reg.JKU {
		if err := checkHTTPS(u); err != nil {
			return fmt.Errorf("jku %q: %w", u, err)
		}
	}
	for _, role := range reg.Roles {
		if err := checkRole(role); err != nil {
			return err
		}
	}
	return r.validateScope(reg.Scope)
}

// checkRole accepts a role as a restriction's securityLabel is matched:
// "code" or "system|code", without spaces.
func checkRole(role string) error {
	system, code, hasSystem := strings.Cut(role, "|")
	if !hasSystem {
		code, system = system, ""
	}
	switch {
	case code == "", hasSystem && system == "", strings.ContainsAny(role, " \t\r\n"), strings.Count(role, "|") > 1:
		return fmt.Errorf("role %q: use a security label code, or system|code", role)
	}
	return nil
}

func (r *Registry) validateScope(scope string) error {
	scopes, err := ParseScopes(scope)
	if err != nil {
		return fmt.Errorf("scope: %w", err)
	}
	if len(scopes) == 0 {
		return errors.New("scope: a client needs at least one scope, such as system/*.rs")
	}
	for _, sc := range scopes {
		if sc.Context != "system" {
			return fmt.Errorf("scope %s: backend services clients get system/ scopes", sc)
		}
		if sc.Type != "*" && !slices.Contains(r.types, sc.Type) {
			return fmt.Errorf("scope %s: %s is not a resource type served here", sc, sc.Type)
		}
	}
	return nil
}

func compactJSON(data []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func checkHTTPS(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return errors.New("must be an absolute https URL without credentials or fragment")
	}
	return nil
}

// newClientID makes an unguessable client id (128 random bits).
func newClientID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Get returns a registration, or an error naming the unknown id.
func (r *Registry) Get(ctx context.Context, id string) (*Registration, *store.ClientRecord, error) {
	rec, err := r.store.Client(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, unknownClient(id)
	}
	if err != nil {
		return nil, nil, err
	}
	reg, err := decodeRegistration(rec)
	return reg, rec, err
}

// unknownClient is the error of an id no client is registered under: it
// names the id and is a store.ErrNotFound.
type unknownClient string

func (id unknownClient) Error() string { return fmt.Sprintf("no client %q is registered", string(id)) }
func (unknownClient) Unwrap() error    { return store.ErrNotFound }

// List returns every registration with its record, ordered by client_id.
func (r *Registry) List(ctx context.Context) ([]*Registration, []*store.ClientRecord, error) {
	recs, err := r.store.Clients(ctx)
	if err != nil {
		return nil, nil, err
	}
	regs := make([]*Registration, len(recs))
	for i, rec := range recs {
		if regs[i], err = decodeRegistration(rec); err != nil {
			return nil, nil, err
		}
	}
	return regs, recs, nil
}

// SetDisabled disables or enables a client. A disabled client gets no new
// tokens, and its tokens stop working within seconds on every node.
func (r *Registry) SetDisabled(ctx context.Context, id string, disabled bool) error {
	reg, rec, err := r.Get(ctx, id)
	if err != nil {
		return err
	}
	rec.Disabled = disabled
	reg.Disabled = disabled
	rec.Updated = r.clock.Now()
	change := "enable"
	if disabled {
		change = "disable"
	}
	return r.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.UpdateClient(ctx, rec); err != nil {
			return err
		}
		return r.audit.Registered(ctx, tx, rec.Updated, change, reg)
	})
}
