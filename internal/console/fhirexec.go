package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// read runs one interaction through the FHIR pipeline as the session's
// operator (the caller of ctx; its record joins the console request's)
// and returns its body as JSON. An error is the pipeline's: a FHIR error
// with its status for what the operator asked wrongly.
func (c *Console) read(ctx context.Context, req *interaction.Request) (*interaction.Response, []byte, error) {
	if req.Method == "" {
		req.Method = "GET"
	}
	req.Entry = -1
	resp, err := c.cfg.FHIR.Execute(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	if resp.Body == nil {
		return resp, nil, nil
	}
	var buf bytes.Buffer
	if err := jsontree.Encode(&buf, resp.Body); err != nil {
		return nil, nil, fmt.Errorf("console: encode %v %s: %w", req.Kind, req.Type, err)
	}
	return resp, buf.Bytes(), nil
}

// search runs a type search (query as FHIR search parameters) and decodes
// the Bundle.
func (c *Console) search(ctx context.Context, typ string, query url.Values) (*bundle, error) {
	_, body, err := c.read(ctx, &interaction.Request{Kind: interaction.SearchType, Type: typ, Query: query})
	if err != nil {
		return nil, err
	}
	var b bundle
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("console: search %s: %w", typ, err)
	}
	return &b, nil
}

// bundle is what the console reads of a searchset or history Bundle.
type bundle struct {
	Total *int64 `json:"total"`
	Link  []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Search   *struct {
			Mode string `json:"mode"`
		} `json:"search"`
		Request *struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
		Response *struct {
			Status       string `json:"status"`
			LastModified string `json:"lastModified"`
		} `json:"response"`
	} `json:"entry"`
}

// link returns the URL of a relation ("next", "previous", "self"), "" if
// none.
func (b *bundle) link(rel string) string {
	for _, l := range b.Link {
		if l.Relation == rel {
			return l.URL
		}
	}
	return ""
}

// pageQuery is the query of a Bundle link (the FHIR API's next page) as
// the console's own query: the same parameters, the cursor included.
func pageQuery(link string) string {
	if link == "" {
		return ""
	}
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	return u.RawQuery
}
