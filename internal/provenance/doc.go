// Package provenance builds and validates the Provenance resources vhdir
// stores for writes: every create, update and delete gets one, in the same
// database transaction as the change (VhDir "SHOULD retain Provenance
// information using the FHIR Provenance resource"; security.md §3.8).
//
// The flow: package rest reads the optional X-Provenance header of a
// create, update or delete (or of a batch or transaction Bundle, for all its
// entries) with ParseHeader before anything is written, and keeps the
// result on its Request. Inside the write transaction the OnWrite hook
// (cmd/vhdir) calls Record with the writes that happened and the
// authenticated client; Record calls Build for each write that stored a
// version and creates the result through the same directory.Writer, so
// the Provenance commits with the change or not at all.
//
// What a Provenance says: target is the version written
// (Type/id/_history/vid; for a delete, the delete version), recorded is the
// transaction's time from the one clock (equal to the version's
// meta.lastUpdated), activity is the v3-DataOperation code CREATE, UPDATE
// or DELETE, and the last agent is the authenticated client (an author,
// identified by its client_id, on behalf of its registered Organization).
// A header's own elements (agents, occurred[x], location, reason, policy,
// entity, signature, …) are kept; the server's agent is appended to them.
//
// It does not decide who may write, nor write audit records, nor touch
// bulk loads (directory.Writer.PutAll), which record no Provenance.
package provenance
