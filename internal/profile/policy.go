package profile

import (
	"fmt"
	"net/http"

	"github.com/vhdir/vhdir/internal/fhir"
)

// Mode is what a write does with the issues profile validation finds.
type Mode uint8

// The modes of --profile-validation.
const (
	// Enforce refuses a resource with any error: 422 with the issues,
	// nothing stored.
	Enforce Mode = iota + 1
	// Warn stores the resource and returns its issues with the response.
	Warn
	// Off checks R4 structure only (package fhir), nothing here.
	Off
)

// ParseMode parses a --profile-validation value.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "enforce":
		return Enforce, nil
	case "warn":
		return Warn, nil
	case "off":
		return Off, nil
	}
	return 0, fmt.Errorf("profile validation %q: want enforce, warn or off", s)
}

func (m Mode) String() string {
	switch m {
	case Enforce:
		return "enforce"
	case Warn:
		return "warn"
	case Off:
		return "off"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Policy validates resources on their way into the directory under a mode.
// It is safe for concurrent use.
type Policy struct {
	mode Mode
	v    *Validator
	// observe sees every resource's issues (in enforce and warn), for
	// metrics and load summaries.
	observe func([]fhir.Issue)
}

// NewPolicy returns the policy of mode over the embedded definitions.
// observe, when set, is called with the issues of every resource checked
// that has any.
func NewPolicy(mode Mode, observe func([]fhir.Issue)) (*Policy, error) {
	if mode < Enforce || mode > Off {
		return nil, fmt.Errorf("profile: no validation mode set")
	}
	p := &Policy{mode: mode, observe: observe}
	if mode == Off {
		return p, nil
	}
	v, err := New()
	if err != nil {
		return nil, err
	}
	p.v = v
	return p, nil
}

// Mode returns the policy's mode.
func (p *Policy) Mode() Mode { return p.mode }

// Check validates a structurally valid resource. Under Enforce a resource
// with errors is a *fhir.Error with status 422 carrying every issue;
// otherwise the issues (warnings and information, or under Warn errors too)
// are returned for the response. Under Off it returns nothing.
func (p *Policy) Check(res *fhir.Resource) ([]fhir.Issue, error) {
	if p.mode == Off || res == nil || res.Obj == nil {
		return nil, nil
	}
	issues := p.v.Validate(res.Obj)
	if len(issues) > 0 && p.observe != nil {
		p.observe(issues)
	}
	if p.mode == Enforce && HasErrors(issues) {
		return nil, &fhir.Error{Status: http.StatusUnprocessableEntity, Issues: issues}
	}
	return issues, nil
}
