// Package fhirpath evaluates the subset of FHIRPath (N1, as profiled by FHIR
// R4: https://hl7.org/fhirpath/N1/ and https://hl7.org/fhir/R4/fhirpath.html)
// that SearchParameter expressions use, so search values can be extracted
// from a resource on every write.
//
// It owns the expression language: lexing, parsing, compiling an expression
// against the R4 type system (package r4) and evaluating it on a resource held
// as a jsontree. It does not know what a search parameter is, how values are
// indexed or how references are fetched; package search owns that, compiling
// each SearchParameter's expression once and evaluating it per resource.
//
// Flow: Compile lexes and parses the source into a syntax tree (lex.go,
// parse.go), then compiles the tree into evaluators (compile.go), checking
// function arity, type names and element names, and working out the static
// type of each path step where it is known so its member lookup happens once
// instead of per resource (types.go). Evaluate walks the evaluators over the
// resource (eval.go, ops.go, funcs.go), navigating JSON members through the
// R4 definitions (nav.go): a choice element yields whichever valueX member is
// present, typed X; a primitive carries its _name companion in Node.Ext; a
// contained resource takes the type its resourceType names. Scratch buffers
// are pooled, so EvaluateAppend allocates nothing once warm.
//
// Supported: paths, with a leading type name filtering by type
// (Practitioner.name, Resource.id); the indexer; literals (string, boolean,
// integer, decimal, date/time, {}); %resource, %context, %rootResource,
// %ucum, %sct, %loinc; $this and $index; the operators | = != and or xor
// implies in contains is as; the functions where, select, exists, empty,
// first, last, tail, count, not, hasValue, ofType, as, is, extension, resolve,
// startsWith, endsWith and contains. Anything else fails in Compile with an
// *Error giving the offset of the construct, as do syntax errors, wrong
// argument counts, unknown types and names that are an element of no R4 type.
//
// resolve() fetches nothing: a "#id" reference yields that contained
// resource, "#" the resource itself, and a "Type/id" reference (relative,
// versioned or an absolute URL) a placeholder node whose Type is the target
// type and whose Value is the Reference, so "resolve() is Organization"
// works; the placeholder has no members. Other references yield nothing.
//
// Deliberate differences from the specification and from FHIRPath.js: |
// removes duplicates by identity of the JSON node rather than by value (two
// equal names from different elements both stay, which search indexing
// wants); = compares dates as text, ignoring precision; Resource.id,
// Element.id and Extension.url have the types package r4 gives them (string,
// uri) rather than System.String.
package fhirpath
