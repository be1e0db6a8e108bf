// Package fhirpath evaluates FHIRPath (N1, as profiled by FHIR R4:
// https://hl7.org/fhirpath/N1/ and https://hl7.org/fhir/R4/fhirpath.html)
// on resources held as a jsontree: the subset SearchParameter expressions
// use, so search values can be extracted on every write, and what the
// invariants of R4 and its profiles (ElementDefinition.constraint.expression)
// use, so a validator can check them.
//
// It owns the expression language: lexing, parsing, compiling an expression
// against the R4 type system (package r4) and evaluating it. It does not
// know what a search parameter or a profile is, how values are indexed, or
// how references are fetched: package search compiles each
// SearchParameter's expression once and evaluates it per resource; a
// validator compiles each invariant once and checks it per element.
//
// Flow: Compile lexes and parses the source into a syntax tree (lex.go,
// parse.go), then compiles the tree into evaluators (compile.go), checking
// function arity, type names, element names and literal regular
// expressions, and working out the static type of each path step where it
// is known so its member lookup happens once instead of per resource
// (types.go). Evaluate runs the evaluators with the resource as focus;
// Check runs them on one element of a resource (a Focus) as an invariant
// and reduces the result to pass or fail (check.go). Navigation goes
// through the R4 definitions (nav.go): a choice element yields whichever
// valueX member is present, typed X; a primitive carries its _name
// companion in Node.Ext; a contained resource takes the type its
// resourceType names. Scratch buffers are pooled, so once warm
// EvaluateAppend allocates nothing, nor does Check on a passing invariant
// that builds no strings and no large sets (value.empty() or
// system.exists(), hasValue() or (children().count() > id.count())).
//
// Supported:
//   - paths, with a leading type name filtering by type (Practitioner.name,
//     Resource.id); the indexer; literals (string, boolean, integer,
//     decimal, date, dateTime, time, {});
//   - %resource, %rootResource, %context, %ucum, %sct, %loinc, %`vs-name`,
//     %`ext-name`; $this and $index;
//   - the operators . [] | = != ~ !~ < <= > >= + - * / div mod & unary - and
//     +, and or xor implies (three-valued), in contains, is as;
//   - existence and filtering: where, select, repeat, exists, all, empty,
//     allTrue, anyTrue, allFalse, anyFalse, count, distinct, isDistinct,
//     subsetOf, supersetOf, ofType;
//   - subsetting and combining: single, first, last, tail, skip, take,
//     intersect, exclude, union, combine;
//   - conversion: iif, toBoolean, toInteger, toDecimal, toString, toDate,
//     toDateTime, toTime and their convertsTo… forms;
//   - strings: indexOf, substring, startsWith, endsWith, contains, upper,
//     lower, replace, matches, matchesFull, replaceMatches, length, toChars;
//   - tree navigation: children, descendants; utility: trace (returns its
//     input; nothing is logged), now, today; types: is, as;
//   - FHIR's additions: not, hasValue, getValue, extension, resolve,
//     htmlChecks (the narrative rules of txt-1 and txt-2: one XHTML div,
//     the basic HTML 4.0 elements and attributes, some content; html.go).
//
// memberOf() and conformsTo() compile, and give empty on an empty focus; on
// anything else evaluation stops with an error wrapping ErrUnsupported,
// since they need a terminology server or profiles. Anything else (the math functions abs…truncate, sum, min, max,
// avg, aggregate, type, sort, lastIndexOf, split, join, trim, the
// encode/escape family, lowBoundary, highBoundary, precision, comparable,
// toQuantity, defineVariable, quantity literals, $total) fails in Compile
// with an *Error giving the offset of the construct, as do syntax errors,
// wrong argument counts, unknown types, regular expressions that do not
// compile and names that are an element of no R4 type.
//
// Values. Numbers stay decimal text (jsontree.Number) and compare and add
// exactly, integers without overflow; / gives 28 significant digits, the
// precision of the .NET decimal of HL7's reference engine; a division by
// zero is empty. Integer with Integer stays Integer except for /. Dates,
// date-times and times compare one precision at a time after normalising
// to UTC (a value without an offset counts as UTC), seconds and fractions
// being one precision: 2020 = 2020-01 and 2020-01 < 2020-01-05 are empty,
// 2020-01 < 2021 is true. Quantities compare in the same unit (system and
// code, or unit text); UCUM conversion is not done, so quantities in
// different units compare as empty. Strings compare by code point, and
// indices and lengths count code points. Regular expressions run on RE2
// (regex.go): JavaScript spellings RE2 lacks are rewritten, anything it
// does not have (back-references, look-around) fails to compile; matches()
// finds the pattern anywhere in the string, with . matching new lines, as
// FHIRPath.js does.
//
// resolve() fetches nothing: a "#id" reference yields that contained
// resource of %rootResource, "#" %rootResource itself, and a "Type/id"
// reference (relative, versioned or an absolute URL) a placeholder node
// whose Type is the target type and whose Value is the Reference, so
// "resolve() is Organization" works; the placeholder has no members and
// equals nothing. Other references yield nothing.
//
// Bounds: an expression has at most 10,000 tokens and 100 levels of
// nesting; a pattern at most 4,096 bytes; an arithmetic operand at most
// 1,000 digits; descendants() and repeat() may produce at most 2^24 nodes
// per evaluation, beyond which evaluation stops with an error, so a
// hostile resource cannot make an invariant run for long.
//
// Deliberate differences from the specification and from FHIRPath.js:
//   - under Evaluate, | removes duplicates by identity of the JSON node
//     rather than by value (two equal names from different elements both
//     stay, which search indexing wants); under Check it removes them by
//     value, as the specification says, and distinct, isDistinct, union(),
//     intersect, exclude, subsetOf and supersetOf compare by value in both;
//   - the function as(T) on a collection keeps the items of type T, as R4's
//     own invariants need (dom-3: %resource.descendants().as(canonical));
//     the as operator and is keep N1's one-item rule;
//   - Resource.id, Element.id and Extension.url have the types package r4
//     gives them (string, uri) rather than System.String;
//   - toString() of a decimal keeps the digits the JSON has (1.50, 1.0);
//     FHIRPath.js reads JSON numbers as JavaScript numbers (1.5, 1);
//   - toInteger() of a Decimal is empty, per N1's conversion table;
//   - ~ on collections pairs items in any order, per N1, up to 256 items;
//     longer collections are compared in order.
package fhirpath
