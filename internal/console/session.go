package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/interaction"
)

// The session cookie's name: over TLS with the __Host- prefix, which
// browsers accept only from a secure origin, for the whole host and no
// domain, so that no other site or path can set or shadow it.
const (
	cookieName       = "vhdir_console"
	secureCookieName = "__Host-" + cookieName
)

// cookie is the session cookie's name as this console serves it.
func (c *Console) cookie() string {
	if c.cfg.Secure {
		return secureCookieName
	}
	return cookieName
}

// operatorScope is what the console may do through the FHIR pipeline:
// read and search every type, the audit trail included (its own scope).
const operatorScope = "system/*.rs system/AuditEvent.rs"

// session is one logged-in browser.
type session struct {
	id   string // the cookie's value
	name string // a short public name for records: a hash of id, never id itself
	csrf string // the token every form of the session carries
	last time.Time
}

// sessions holds the console's sessions in memory: they end with the
// process, when idle too long, or on logout.
type sessions struct {
	clock clock.Clock
	idle  time.Duration

	mu         sync.Mutex
	loginToken string // spent once a session is opened with it
	spent      bool
	byID       map[string]*session
}

func newSessions(clk clock.Clock, idle time.Duration) (*sessions, error) {
	tok, err := randomToken()
	if err != nil {
		return nil, err
	}
	return &sessions{clock: clk, idle: idle, loginToken: tok, byID: map[string]*session{}}, nil
}

// randomToken is 256 random bits, URL-safe.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// open spends the login token for a new session; false when token is not
// the login token or it is spent.
func (s *sessions) open(token string) (*session, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spent || subtle.ConstantTimeCompare([]byte(token), []byte(s.loginToken)) != 1 {
		return nil, false, nil
	}
	id, err := randomToken()
	if err != nil {
		return nil, false, err
	}
	csrf, err := randomToken()
	if err != nil {
		return nil, false, err
	}
	sum := sha256.Sum256([]byte(id))
	ses := &session{id: id, name: hex.EncodeToString(sum[:4]), csrf: csrf, last: s.clock.Now()}
	s.spent = true
	s.byID[id] = ses
	return ses, true, nil
}

// get returns the live session of id and marks it used; an idle one ends.
func (s *sessions) get(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ses := s.byID[id]
	if ses == nil {
		return nil
	}
	now := s.clock.Now()
	if now.Sub(ses.last) > s.idle {
		delete(s.byID, id)
		return nil
	}
	ses.last = now
	return ses
}

// end removes a session.
func (s *sessions) end(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

type sessionKey struct{}

// sessionFrom is the request's session (set by requireSession).
func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// login opens a session with the one-time token of the URL `vhdir
// console` printed and sends the browser to the overview.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	ses, ok, err := c.sessions.open(r.URL.Query().Get("token"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if !ok {
		c.fail(w, r, &pageError{status: http.StatusUnauthorized, msg: "this login link is not valid or was used already: run vhdir console again for a new one"})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: c.cookie(), Value: ses.id, Path: "/", HttpOnly: true, Secure: c.cfg.Secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the session.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if !c.checkForm(w, r) {
		return
	}
	c.sessions.end(sessionFrom(r.Context()).id)
	http.SetCookie(w, &http.Cookie{Name: c.cookie(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.cfg.Secure, SameSite: http.SameSiteStrictMode})
	c.render(w, r, http.StatusOK, "loggedout.html", "Logged out", nil)
}

// requireSession lets a request with a live session's cookie through,
// acting as the operator in that session (caller of its context, named
// by its audit records); any other gets 401.
func (c *Console) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ses *session
		if ck, err := r.Cookie(c.cookie()); err == nil {
			ses = c.sessions.get(ck.Value)
		}
		if ses == nil {
			c.fail(w, r, &pageError{status: http.StatusUnauthorized, msg: "no console session, or it expired: run vhdir console again for a new login link"})
			return
		}
		caller := c.caller(ses, r)
		ctx := context.WithValue(interaction.WithCaller(r.Context(), caller), sessionKey{}, ses)
		c.cfg.Recorder.Authenticated(ctx, caller)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// caller is the operator in a session, as records and Provenance name it.
func (c *Console) caller(ses *session, r *http.Request) *interaction.Caller {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return &interaction.Caller{
		ClientID:   "operator:" + c.cfg.Operator,
		ClientName: "operator " + c.cfg.Operator + " (vhdir console, session " + ses.name + ")",
		Scope:      operatorScope, SeesRestricted: true, Address: host,
	}
}

// errCSRF refuses a form without its session's token.
var errCSRF = &pageError{status: http.StatusForbidden, msg: "this form is not from this console session (missing or wrong CSRF token): reload the page and try again"}

// errCrossSite refuses a form another site's page sent.
var errCrossSite = &pageError{status: http.StatusForbidden, msg: "this form was sent from another site's page"}

// crossSite reports whether the browser says the request comes from
// another site's page (Sec-Fetch-Site, or an Origin that is not this
// host): refused before the CSRF token is even looked at.
func crossSite(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || u.Host != r.Host
}

// checkForm parses a POSTed form (at most 1 MiB) and checks its CSRF
// token; on failure it answers and returns false.
func (c *Console) checkForm(w http.ResponseWriter, r *http.Request) bool {
	if crossSite(r) {
		c.fail(w, r, errCrossSite)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			c.fail(w, r, &pageError{status: http.StatusRequestEntityTooLarge, msg: "the form is larger than 1 MiB"})
			return false
		}
		c.fail(w, r, badRequest("the form could not be read: %v", err))
		return false
	}
	ses := sessionFrom(r.Context())
	if ses == nil || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(ses.csrf)) != 1 {
		c.fail(w, r, errCSRF)
		return false
	}
	return true
}
