package search

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/vhdir/vhdir/internal/fhir"
)

// Bounds on the criteria of one search. Each parameter is a condition the
// database plans and joins, and each value an alternative of one:
// PostgreSQL's planning time grows much faster than the number of
// parameters (seconds past a hundred), and SQLite refuses queries of a
// thousand values. A search past a bound is a 400 too-costly rather than
// a query that holds a connection.
const (
	MaxParams = 20  // parameters, repeats included
	MaxValues = 500 // values of all parameters, comma-separated alternatives included
)

// checkText refuses parameter names and values no index holds: text that
// is not UTF-8 or holds NUL (no database stores either in text, and no
// stored value could match).
func checkText(q url.Values) error {
	for k, vs := range q {
		if !storable(k) {
			return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "search parameter name %q is not UTF-8 text without NUL", k)
		}
		for _, v := range vs {
			if !storable(v) {
				return badParam(k, "the value %q is not UTF-8 text without NUL", v)
			}
		}
	}
	return nil
}

func storable(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// checkCost refuses criteria past MaxParams or MaxValues.
func checkCost(criteria url.Values) error {
	params, values := 0, 0
	for _, vs := range criteria {
		params += len(vs)
		for _, v := range vs {
			values += countValues(v)
		}
	}
	switch {
	case params > MaxParams:
		return fhir.Errorf(http.StatusBadRequest, fhir.IssueTooCostly, "the search has %d parameters; at most %d are served", params, MaxParams)
	case values > MaxValues:
		return fhir.Errorf(http.StatusBadRequest, fhir.IssueTooCostly, "the search has %d values; at most %d are served", values, MaxValues)
	}
	return nil
}

// countValues counts the comma-separated values of v, as splitValues
// splits them (\, is a comma within a value).
func countValues(v string) int {
	n := 1
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case ',':
			n++
		}
	}
	return n
}
