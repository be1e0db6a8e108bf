package rest

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// DefaultMaxResourceNodes is the default bound on the JSON values of one
// resource. Real directory data sits far below it: a generated directory's
// largest resource holds about 700 values, the IG's largest example 300, a
// national Organization with thousands of aliases and identifiers some tens
// of thousands. Above it, what a resource costs grows with its values, not
// its bytes: a million one-letter aliases are 4 MB of body but a tree of
// 36 MB and, before this bound, over 600 MB of validation, FHIRPath
// collections and index rows.
const DefaultMaxResourceNodes = 100_000

// bundleBytesPerNode sets the bound on a whole Bundle's values: one per 16
// bytes of the body limit (1,048,576 for 16 MiB). Ordinary resources take
// 19 to 23 bytes a value written compactly (vhdir gen's output), more
// pretty-printed, so any Bundle of them that fits the body limit fits this
// bound too, while the tree of the densest body the limit lets in — one
// value per two bytes — is bounded by what the bytes already cost.
const bundleBytesPerNode = 16

// nodeLimits are the bounds on JSON values (jsontree.Limits) a body is
// parsed within: a resource sent alone within resource, a Bundle within
// bundle as a whole and each entry's resource within resource.
type nodeLimits struct {
	resource, bundle jsontree.Limits
}

func newNodeLimits(maxResource int, maxBody int64) nodeLimits {
	bundle := max(int64(maxResource), maxBody/bundleBytesPerNode)
	return nodeLimits{resource: jsontree.Limits{MaxNodes: maxResource}, bundle: jsontree.Limits{MaxNodes: int(min(bundle, 1<<40))}}
}

// parseResource parses and validates a resource sent alone.
func (s *Server) parseResource(data []byte) (*fhir.Resource, error) {
	res, err := fhir.ParseResourceWith(data, s.limits.resource)
	if errors.As(err, new(*jsontree.LimitError)) {
		return nil, tooManyNodes("the resource", s.limits.resource.MaxNodes, resourceRule)
	}
	return res, err
}

// parseBundleBody parses and validates a batch or transaction Bundle.
func (s *Server) parseBundleBody(data []byte) (*fhir.Resource, error) {
	res, err := fhir.ParseBundleWith(data, s.limits.bundle)
	if errors.As(err, new(*jsontree.LimitError)) {
		return nil, tooManyNodes("the Bundle", s.limits.bundle.MaxNodes, bundleRule)
	}
	return res, err
}

// checkEntryNodes holds a Bundle entry's resource to the bound on one
// resource. The Bundle's own bound has already kept the whole tree small;
// this keeps each entry's validation and indexing as cheap as a resource
// sent alone.
func (s *Server) checkEntryNodes(i int, res *jsontree.Object) error {
	if jsontree.Count(res) > s.limits.resource.MaxNodes {
		return tooManyNodes("the resource", s.limits.resource.MaxNodes, resourceRule).At(fmt.Sprintf("Bundle.entry[%d].resource", i))
	}
	return nil
}

// The rules behind each bound, as the 413 states them: which limit, and
// how the operator raises it.
var (
	resourceRule = "for one resource, set by its operator with --max-resource-nodes (VHDIR_MAX_RESOURCE_NODES)"
	bundleRule   = fmt.Sprintf("for a whole Bundle, one value per %d bytes of --max-body (VHDIR_MAX_BODY) and at least --max-resource-nodes, set by its operator", bundleBytesPerNode)
)

// tooManyNodes is the 413 for a body over a bound on JSON values.
func tooManyNodes(what string, limit int, rule string) *fhir.Error {
	return fhir.Errorf(http.StatusRequestEntityTooLarge, fhir.IssueTooCostly,
		"%s holds more than %d JSON values (objects, arrays, strings, numbers, true, false and null, each counted): this server's limit %s",
		what, limit, rule)
}
