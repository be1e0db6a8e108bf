// Package interaction is the vocabulary vhdir's layers share about one
// FHIR request: what is asked (Request and its Kind), what was answered
// (Response), who asks (Caller, put in the request's context by
// authentication), and what that caller may do and see (Access). It does
// no I/O of its own.
//
// Access is decided once per request, by Decide, from two collaborators
// the server cannot run without: an Authorizer (what the caller's token
// grants, package auth) and a ViewerResolver (where the caller's
// organization sits in the directory, which usage restrictions judge).
// Package rest parses HTTP into Requests and runs them; auth
// authenticates callers and grants; audit records Requests and Responses;
// bulk exports under the same Access.
package interaction
