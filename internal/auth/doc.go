// Package auth is vhdir's authorization server and the resource server's
// gatekeeper, after SMART Backend Services: client registration (who a
// client system is and which organization it acts for), the token endpoint
// (client_credentials with a signed JWT assertion, RS384 or ES384), the
// client's keys (by value or fetched from its JWKS URL), SMART v1 and v2
// scopes and their enforcement on every interaction, access tokens,
// introspection and discovery. Everything nodes must share (registrations,
// used assertion ids, tokens) lives in the database (store.AuthStore).
package auth
