// Package search is vhdir's search engine. Its parameters are data: the
// IG's 144 SearchParameter resources (with the corrections in
// corrections.json, each with its reason) and the R4 core parameters of the
// served types; none is written in Go. On every write, Engine.Index
// evaluates each parameter's FHIRPath expression (package fhirpath) and
// turns the values into index rows (store.Index): normalized strings,
// tokens, references, date and number ranges, quantities, uris and
// coordinates. On every search, Engine.Compile parses the request's
// parameters into a store.Query of conditions on those rows, which each
// store backend translates to its SQL.
package search
