package rest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// CORS is the cross-origin policy of the API (the Fetch standard's CORS
// protocol): which browser origins may call the FHIR API, the token
// endpoints and discovery. The public endpoints (metadata and SMART
// discovery) are readable from any origin whatever it allows (SMART App
// Launch 2.2 requires it of discovery and metadata). Bearer tokens are not
// cookies: credentialed requests are never allowed.
type CORS struct {
	any     bool            // "*": every origin
	origins map[string]bool // else these, serialized as browsers send them
}

// NewCORS checks origins: "*" alone for any origin, or a list of
// scheme://host[:port] (http or https, no path, query or user). None
// allows no origin but on the public endpoints.
func NewCORS(origins []string) (*CORS, error) {
	c := &CORS{origins: map[string]bool{}}
	for _, o := range origins {
		if o == "*" {
			if len(origins) > 1 {
				return nil, fmt.Errorf("cors origins %q: \"*\" allows every origin and goes alone, not in a list", strings.Join(origins, ","))
			}
			c.any = true
			continue
		}
		norm, err := parseOrigin(o)
		if err != nil {
			return nil, err
		}
		c.origins[norm] = true
	}
	return c, nil
}

// ParseOrigins splits a comma-separated origin list (--cors-origins) and
// checks it as NewCORS does; "" is none.
func ParseOrigins(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var out []string
	for o := range strings.SplitSeq(list, ",") {
		out = append(out, strings.TrimSpace(o))
	}
	if _, err := NewCORS(out); err != nil {
		return nil, err
	}
	return out, nil
}

// parseOrigin checks an origin and returns it as a browser serializes it
// in the Origin header: lower-case scheme and host, no default port.
func parseOrigin(o string) (string, error) {
	const want = "an origin is scheme://host[:port] with scheme http or https, e.g. https://app.example.org"
	u, err := url.Parse(o)
	if err != nil {
		return "", fmt.Errorf("cors origin %q: %s", o, want)
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https", u.Opaque != "", u.Hostname() == "":
		return "", fmt.Errorf("cors origin %q: %s", o, want)
	case u.User != nil:
		return "", fmt.Errorf("cors origin %q: an origin has no user name or password", o)
	case u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("cors origin %q: an origin has no path, query or fragment (not even a final /)", o)
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("cors origin %q: port %q is not 1-65535", o, p)
		}
		if scheme == "https" && n == 443 || scheme == "http" && n == 80 {
			host = strings.TrimSuffix(host, ":"+p)
		}
	} else if strings.HasSuffix(host, ":") {
		return "", fmt.Errorf("cors origin %q: %s", o, want)
	}
	return scheme + "://" + host, nil
}

// Enabled reports whether any origin may call the API (the
// CapabilityStatement's rest.security.cors). A nil CORS allows none.
func (c *CORS) Enabled() bool { return c != nil && (c.any || len(c.origins) > 0) }

// What a preflight allows, and what an answer lets the browser's script
// read beyond the safelisted headers.
const (
	corsAllowHeaders  = "Authorization, Content-Type, Prefer, If-Match, If-None-Match, If-None-Exist, If-Modified-Since, X-Provenance, X-Request-Id"
	corsExposeHeaders = "ETag, Location, Content-Location, Last-Modified, X-Progress, Retry-After, X-Request-Id, WWW-Authenticate"
	corsMaxAge        = "600" // seconds a browser may reuse a preflight's answer
)

// corsScope is what the CORS policy says of a path: whether it is part of
// the API at all, whether it is public, and the methods it serves.
func corsScope(path string) (api, public bool, methods string) {
	p := strings.TrimSuffix(path, "/")
	switch {
	case p == "/fhir/metadata", p == "/fhir/.well-known/smart-configuration", p == "/.well-known/smart-configuration":
		return true, true, "GET, OPTIONS"
	case p == "/fhir", strings.HasPrefix(p, "/fhir/"):
		return true, false, "GET, POST, PUT, DELETE, OPTIONS"
	case strings.HasPrefix(p, "/auth/"): // the token and introspection endpoints
		return true, false, "POST, OPTIONS"
	}
	return false, false, ""
}

// allowed is the Access-Control-Allow-Origin an answer on path gets for
// origin ("" for none), and whether the answer depends on the origin
// (Vary: Origin).
func (c *CORS) allowed(path, origin string) (allow string, vary bool) {
	_, public, _ := corsScope(path)
	switch {
	case public, c.any:
		return "*", false
	case len(c.origins) == 0:
		return "", false
	case c.origins[origin]:
		return origin, true
	}
	return "", true
}

// Middleware applies the policy to the API's paths. It sits outside the
// audit trail and authentication (see Stack), so that every answer
// carries its headers, the trail's fail-closed 500 and 401s included.
// Preflights are answered here, before the audit trail: like health
// probes they carry no token and no data and change nothing, so they are
// neither authenticated nor audited (the access log has them).
func (c *CORS) Middleware(next http.Handler) http.Handler {
	if c == nil {
		c = &CORS{}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api, _, methods := corsScope(r.URL.Path)
		if !api {
			next.ServeHTTP(w, r)
			return
		}
		origin := r.Header.Get("Origin")
		allow, vary := c.allowed(r.URL.Path, origin)
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			h := w.Header()
			setVary(h, vary)
			if allow != "" {
				h.Set("Access-Control-Allow-Origin", allow)
				h.Set("Access-Control-Allow-Methods", methods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", corsMaxAge)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		cw := &corsWriter{ResponseWriter: w, apply: func(h http.Header) {
			setVary(h, vary)
			if allow != "" {
				h.Set("Access-Control-Allow-Origin", allow)
				h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			}
		}}
		next.ServeHTTP(cw, r)
		cw.set() // nothing written: net/http sends the headers now
	})
}

// setVary adds Origin to Vary when the answer depends on it, keeping what
// the handler put there.
func setVary(h http.Header, vary bool) {
	if !vary {
		return
	}
	for _, v := range h.Values("Vary") {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "Origin") {
				return
			}
		}
	}
	h.Add("Vary", "Origin")
}

// corsWriter sets the CORS headers when the answer's headers are sent,
// over whatever the handlers (and the audit trail's held response) put
// in the header map.
type corsWriter struct {
	http.ResponseWriter
	apply func(http.Header)
	done  bool
}

func (w *corsWriter) set() {
	if !w.done {
		w.done = true
		w.apply(w.Header())
	}
}

func (w *corsWriter) WriteHeader(code int) {
	w.set()
	w.ResponseWriter.WriteHeader(code)
}

func (w *corsWriter) Write(b []byte) (int, error) {
	w.set()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *corsWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
