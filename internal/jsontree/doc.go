// Package jsontree parses and writes JSON as an ordered tree.
//
// FHIR resources must round-trip exactly: member order is kept (resourceType
// first, as written), decimals keep their lexical form (1.50 stays 1.50, which
// float64 would lose), duplicate member names are an error (RFC 8259 leaves
// them undefined; FHIR forbids them) and nesting is bounded so hostile input
// cannot exhaust the stack. encoding/json offers none of these together.
//
// A parsed value is one of: nil (JSON null), bool, Number, string, *Object,
// []any. The package owns nothing FHIR-specific; internal/fhir gives the tree
// its meaning.
package jsontree
