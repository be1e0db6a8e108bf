package fhir

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// Issue severities (http://hl7.org/fhir/issue-severity).
const (
	SeverityFatal       = "fatal"
	SeverityError       = "error"
	SeverityWarning     = "warning"
	SeverityInformation = "information"
)

// Issue types used by vhdir (http://hl7.org/fhir/issue-type).
const (
	IssueInvalid       = "invalid"
	IssueStructure     = "structure"
	IssueRequired      = "required"
	IssueValue         = "value"
	IssueInvariant     = "invariant"
	IssueSecurity      = "security"
	IssueLogin         = "login"
	IssueForbidden     = "forbidden"
	IssueProcessing    = "processing"
	IssueNotSupported  = "not-supported"
	IssueDuplicate     = "duplicate"
	IssueMultipleMatch = "multiple-matches"
	IssueNotFound      = "not-found"
	IssueDeleted       = "deleted"
	IssueTooLong       = "too-long"
	IssueConflict      = "conflict"
	IssueException     = "exception"
	IssueTooCostly     = "too-costly"
	IssueThrottled     = "throttled"
	IssueTimeout       = "timeout"
	IssueIncomplete    = "incomplete"
	IssueInformational = "informational"
)

// Issue is one OperationOutcome.issue.
type Issue struct {
	Severity    string
	Code        string
	Diagnostics string
	// Expression is the FHIRPath of the element at fault, such as
	// Practitioner.name[0].given[1].
	Expression []string
	// Rule names the rule broken, for counting issues by rule (vhdir load's
	// summary): an invariant's key ("org-1"), or an element id and the kind
	// of constraint ("Practitioner.active min"). It is not sent.
	Rule string
}

// Error is an error that reaches the client as an OperationOutcome. Status is
// the HTTP status; the issues' texts are safe to show. Err, if set, is the
// underlying cause and is only logged.
type Error struct {
	Status int
	Issues []Issue
	Err    error
	// RetryAfter, when set, is sent as Retry-After: when the client may
	// try again (a 503 or 429).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := http.StatusText(e.Status)
	if len(e.Issues) > 0 {
		msg = e.Issues[0].Diagnostics
		if len(e.Issues[0].Expression) > 0 {
			msg = e.Issues[0].Expression[0] + ": " + msg
		}
		if n := len(e.Issues) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more issues)", n)
		}
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with one issue of severity error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Issues: []Issue{{Severity: SeverityError, Code: code, Diagnostics: fmt.Sprintf(format, args...)}}}
}

// At returns e with expression set on its first issue.
func (e *Error) At(expression string) *Error {
	if len(e.Issues) > 0 {
		e.Issues[0].Expression = []string{expression}
	}
	return e
}

// Wrap returns e with cause attached for the log.
func (e *Error) Wrap(cause error) *Error {
	e.Err = cause
	return e
}

// Common errors.
var (
	// ErrInternal is shown for any error that is not an *Error: the client
	// learns nothing of internals (the request ID leads to the log).
	ErrInternal = errors.New("internal error")
)

// TimeoutRetryAfter is the Retry-After of a request that ran out of time:
// long enough for a lock or a burst to pass, short enough not to matter
// when it has.
const TimeoutRetryAfter = 5 * time.Second

// StatusClientClosedRequest answers a request whose client went away
// before its answer (nginx's 499). Nobody reads it; it keeps the log, the
// metrics and the audit record from counting a client that left as a
// server that failed.
const StatusClientClosedRequest = 499

// Timeout returns err as the client must see it when ctx is the request's
// and it ended early. A failure of the server's own (5xx) — most likely a
// database call cut short, whatever the database said of it — becomes 503
// timeout with Retry-After when the request's deadline passed (vhdir serve
// --request-timeout), and 499 when the client went away. The client's own
// errors, and every error while the request runs, stand.
func Timeout(ctx context.Context, err error) error {
	if err == nil || StatusOf(err) < 500 {
		return err
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		e := Errorf(http.StatusServiceUnavailable, IssueTimeout, "the server could not complete this request within its time limit; retry later").Wrap(err)
		e.RetryAfter = TimeoutRetryAfter
		return e
	case errors.Is(ctx.Err(), context.Canceled):
		return Errorf(StatusClientClosedRequest, IssueIncomplete, "the client closed the request before its answer").Wrap(err)
	}
	return err
}

// StatusOf returns the HTTP status an error maps to.
func StatusOf(err error) int {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Status
	}
	return http.StatusInternalServerError
}

// Outcome maps any error to its HTTP status and OperationOutcome. It is the
// only place errors become outcomes. Errors that are not *Error become a 500
// "internal error" naming requestID, with no detail of the cause.
func Outcome(err error, requestID string) (int, *jsontree.Object) {
	var fe *Error
	if !errors.As(err, &fe) {
		msg := "internal error"
		if requestID != "" {
			msg += "; request ID " + requestID
		}
		fe = Errorf(http.StatusInternalServerError, IssueException, "%s", msg)
	}
	return fe.Status, OutcomeOf(fe.Issues...)
}

// OutcomeOf builds an OperationOutcome resource from issues.
func OutcomeOf(issues ...Issue) *jsontree.Object {
	arr := make([]any, 0, len(issues))
	for _, is := range issues {
		o := &jsontree.Object{}
		o.Set("severity", is.Severity)
		o.Set("code", is.Code)
		if is.Diagnostics != "" {
			o.Set("diagnostics", is.Diagnostics)
		}
		if len(is.Expression) > 0 {
			ex := make([]any, len(is.Expression))
			for i, s := range is.Expression {
				ex[i] = s
			}
			o.Set("expression", ex)
		}
		arr = append(arr, o)
	}
	if len(arr) == 0 {
		o := &jsontree.Object{}
		o.Set("severity", SeverityInformation)
		o.Set("code", IssueInformational)
		o.Set("diagnostics", "all OK")
		arr = append(arr, o)
	}
	oo := &jsontree.Object{}
	oo.Set("resourceType", "OperationOutcome")
	oo.Set("issue", arr)
	return oo
}

// WriteOutcome answers with err's status and OperationOutcome (Outcome):
// how handlers outside the FHIR pipeline (authentication, the audit
// trail's refusals, bulk export) write one. It returns the status.
func WriteOutcome(w http.ResponseWriter, err error, requestID string) int {
	status, oo := Outcome(err, requestID)
	if after := RetryAfter(err); after != "" {
		w.Header().Set("Retry-After", after)
	}
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(jsontree.Marshal(oo))
	return status
}

// RetryAfter is the Retry-After value (in seconds) err carries, or "".
func RetryAfter(err error) string {
	var fe *Error
	if !errors.As(err, &fe) || fe.RetryAfter <= 0 {
		return ""
	}
	return strconv.Itoa(int((fe.RetryAfter + time.Second - 1) / time.Second))
}
