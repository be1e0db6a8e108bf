package rest

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// validateDefinition is the OperationDefinition $validate follows.
const validateDefinition = "http://hl7.org/fhir/OperationDefinition/Resource-validate"

// parseValidate reads POST [base]/[type](/[id])/$validate: a resource, or
// Parameters with resource, mode and profile
// (https://hl7.org/fhir/R4/resource-operation-validate.html). A resource
// with structural issues is still a request: the operation reports them.
func (s *Server) parseValidate(r *http.Request) (*interaction.Request, error) {
	req := s.newRequest(r, interaction.Operation)
	req.Operation = &interaction.Invocation{Name: "validate"}
	if err := s.misrouted(r, req); err != nil {
		return nil, err
	}
	if err := s.checkType(req.Type); err != nil {
		return nil, err
	}
	if req.ID != "" {
		if err := checkID(req.ID); err != nil {
			return nil, err
		}
	}
	data, err := s.readBody(r) // an empty body is a 400 there
	if err != nil {
		return nil, err
	}
	obj, err := fhir.ParseObject(data, s.limits.resource)
	if err != nil {
		if fhir.StatusOf(err) == http.StatusRequestEntityTooLarge {
			return nil, tooManyNodes("the resource", s.limits.resource.MaxNodes, resourceRule)
		}
		return nil, err
	}
	if rt, _ := obj.String("resourceType"); rt == "Parameters" && req.Type != "Parameters" {
		if obj, err = validateParameters(obj, req.Operation); err != nil {
			return nil, err
		}
	}
	if err := checkMode(req); err != nil {
		return nil, err
	}
	if obj != nil {
		req.Operation.Structure = fhir.Validate(obj)
		typ, _ := obj.String("resourceType")
		id, _ := obj.String("id")
		req.Resource = &fhir.Resource{Type: typ, ID: id, Obj: obj}
	}
	return req, nil
}

// validateParameters reads $validate's Parameters: the resource (nil for
// mode delete), mode and profile.
func validateParameters(p *jsontree.Object, op *interaction.Invocation) (*jsontree.Object, error) {
	list, _ := p.Get("parameter")
	params, _ := list.([]any)
	var res *jsontree.Object
	for i, x := range params {
		param, _ := x.(*jsontree.Object)
		if param == nil {
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueStructure, "a parameter must be an object").At(fmt.Sprintf("Parameters.parameter[%d]", i))
		}
		name, _ := param.String("name")
		at := fmt.Sprintf("Parameters.parameter[%d]", i)
		var ok bool
		switch name {
		case "resource":
			r, ok := param.Object("resource")
			if !ok || res != nil {
				return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueStructure, "parameter resource must hold one resource, given once").At(at)
			}
			res = r
		case "mode":
			if op.Mode, ok = paramString(param, "valueCode"); !ok {
				return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueStructure, "parameter mode must be a valueCode").At(at)
			}
		case "profile":
			if op.Profile, ok = paramString(param, "valueUri", "valueCanonical"); !ok {
				return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueStructure, "parameter profile must be a valueUri").At(at)
			}
		default:
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "$validate has no parameter %q (resource, mode, profile)", name).At(at)
		}
	}
	if res == nil && op.Mode != "delete" {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueRequired, "$validate needs parameter resource").At("Parameters")
	}
	return res, nil
}

func paramString(p *jsontree.Object, keys ...string) (string, bool) {
	for _, k := range keys {
		if v, found := p.String(k); found && v != "" {
			return v, true
		}
	}
	return "", false
}

// checkMode checks $validate's mode against the URL: update and delete
// name an instance.
func checkMode(req *interaction.Request) error {
	switch req.Operation.Mode {
	case "", "create":
	case "update", "delete":
		if req.ID == "" {
			return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "$validate mode %s needs an instance: POST [base]/%s/[id]/$validate", req.Operation.Mode, req.Type)
		}
	default:
		return fhir.Errorf(http.StatusBadRequest, fhir.IssueValue, "$validate mode %q: use create, update or delete", req.Operation.Mode)
	}
	return nil
}

// validate runs $validate: always 200 with an OperationOutcome of what was
// found, whatever --profile-validation does to writes.
func (s *Server) validate(_ context.Context, req *interaction.Request) (*interaction.Response, error) {
	op := req.Operation
	var issues []fhir.Issue
	switch {
	case op.Mode == "delete":
		issues = append(issues, fhir.Issue{Severity: fhir.SeverityInformation, Code: fhir.IssueInformational,
			Diagnostics: fmt.Sprintf("no rule of this server prevents deleting %s/%s", req.Type, req.ID)})
	case req.Resource.Type != req.Type:
		issues = append(issues, fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueInvalid, Expression: []string{"resourceType"},
			Diagnostics: fmt.Sprintf("the resource is a %s but the URL names %s", req.Resource.Type, req.Type)})
	case op.Profile != "" && !s.cfg.Validator.Known(op.Profile):
		issues = append(issues, fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueNotSupported,
			Diagnostics: fmt.Sprintf("profile %s is not known to this server (known: %s)", op.Profile, strings.Join(s.cfg.Validator.Profiles(), ", "))})
	case len(op.Structure) > 0:
		issues = op.Structure
	default:
		if req.ID != "" && op.Mode != "create" && req.Resource.ID != req.ID {
			issues = append(issues, fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueInvalid, Expression: []string{req.Type + ".id"},
				Diagnostics: fmt.Sprintf("an update of %s/%s needs the resource's id to be %s", req.Type, req.ID, req.ID)})
		}
		var extra []string
		if op.Profile != "" {
			extra = append(extra, op.Profile)
		}
		issues = append(issues, s.cfg.Validator.Validate(req.Resource.Obj, extra...)...)
	}
	if len(issues) == 0 {
		issues = []fhir.Issue{{Severity: fhir.SeverityInformation, Code: fhir.IssueInformational,
			Diagnostics: "no issues: the resource conforms to R4 and to the profiles that apply to it"}}
	}
	return newResponse(http.StatusOK, fhir.OutcomeOf(issues...)), nil
}
