package interaction

import (
	"fmt"
	"net/http"
	"time"

	"github.com/vhdir/vhdir/internal/fhir"
)

// BodyTimeoutError is what reading a request body returns once the
// server's body deadline has passed (vhdir serve --body-timeout): the
// client sent too slowly. Every handler that reads a body answers it 408,
// as it answers an http.MaxBytesError 413.
type BodyTimeoutError struct {
	// Timeout is the time the body was allowed, from the end of the
	// request's header fields.
	Timeout time.Duration
}

func (e *BodyTimeoutError) Error() string {
	return fmt.Sprintf("the request body was not received within %v", e.Timeout)
}

// Outcome is the answer to the request whose body this was: 408, with an
// OperationOutcome (timeout).
func (e *BodyTimeoutError) Outcome() *fhir.Error {
	return fhir.Errorf(http.StatusRequestTimeout, fhir.IssueTimeout, "the request body was not received within this server's limit of %v; send it faster, or in smaller requests", e.Timeout)
}
