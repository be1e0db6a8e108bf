// Package rest serves the FHIR R4 REST API: routing, content negotiation,
// and the interaction pipeline. Every request — from HTTP or from a batch or
// transaction entry — is parsed once into an interaction.Request and runs through
// Server.Execute: authorization (a hook for the auth package), then its
// interaction (read, vread, history, search, create, update, delete, batch,
// transaction, capabilities). Writes run inside one directory transaction
// together with whatever the OnWrite hook adds (Provenance, AuditEvent), so
// they commit together or not at all. Errors of any kind become an
// OperationOutcome in one place (errorResponse).
//
// A body is bounded before it becomes a tree: its bytes by the body limit,
// its JSON values by the node limits (limits.go: a resource alone, each
// Bundle entry's, a whole Bundle), checked while it is parsed; how many
// large bodies are handled at once by the body budget (budget.go).
//
// Route map (base /fhir):
//
//	GET  /metadata                       capabilities
//	GET  /, /_search; POST /_search      search-system (_type)
//	POST /                               batch | transaction
//	GET  /_history, /{type}/_history, /{type}/{id}/_history   history
//	GET  /{type}, /{type}/_search; POST /{type}/_search       search-type
//	POST /{type}                         create (If-None-Exist)
//	PUT  /{type}/{id}; PUT /{type}?…     update | conditional update
//	DELETE /{type}/{id}; DELETE /{type}?… delete | conditional delete
//	GET  /{type}/{id}, /{type}/{id}/_history/{vid}          read | vread
//
// The middleware stack (Stack) with its CORS policy (CORS), and the health
// endpoints, live here too.
package rest
