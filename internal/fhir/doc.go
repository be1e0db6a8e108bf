// Package fhir gives JSON trees their FHIR R4 meaning: parsing and validating
// resources against the R4 type system (package r4), repairing the
// unambiguous primitive mismatches of lenient loading, ids and references,
// resource metadata, Bundles, and the one mapping from a Go error to an
// OperationOutcome with its HTTP status.
//
// It knows nothing of HTTP routing, storage or search; those packages use it.
package fhir
