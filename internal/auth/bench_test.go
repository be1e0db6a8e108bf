package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// BenchmarkToken measures the token endpoint against its floor: verifying
// one assertion's signature, measured here with the same keys on all
// cores. The endpoint does that plus form parsing, a client lookup, and
// the replay and token records in the database. "http" is the endpoint
// over TLS with its HTTP clients in this same process (they take CPU from
// the server); "handler" calls the endpoint's handler directly: the
// server's own cost. 8 concurrent callers on 2 cores; "%-of-verify" is the
// token rate as a share of the verify-only rate.
//
//	go test -run XXX -bench BenchmarkToken -benchtime 2000x ./internal/auth/
func BenchmarkToken(b *testing.B) {
	for _, o := range testdb.All {
		for _, rsaKey := range []bool{true, false} {
			alg := "ES384"
			if rsaKey {
				alg = "RS384"
			}
			b.Run(o.Name+"/"+alg, func(b *testing.B) {
				st := newStack(b, o.Fresh(b))
				c := st.register("system/*.rs", rsaKey)
				verifyRate := benchVerify(b, st, c)
				st.client.Transport.(*http.Transport).MaxIdleConnsPerHost = 16
				mux := http.NewServeMux()
				st.auth.Routes(mux)
				for _, mode := range []string{"http", "handler"} {
					b.Run(mode, func(b *testing.B) {
						forms := make([]url.Values, b.N)
						for i := range forms {
							forms[i] = st.tokenForm(c, "system/*.rs")
						}
						var next atomic.Int64
						b.SetParallelism(4) // 8 callers on 2 cores
						b.ResetTimer()
						start := time.Now()
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								form := forms[next.Add(1)-1]
								if mode == "http" {
									if resp, body := st.postForm(auth.TokenPath, form, nil); resp.StatusCode != http.StatusOK {
										b.Errorf("token = %d %s", resp.StatusCode, body)
										return
									}
									continue
								}
								req := httptest.NewRequest(http.MethodPost, auth.TokenPath, strings.NewReader(form.Encode()))
								req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
								w := httptest.NewRecorder()
								mux.ServeHTTP(w, req)
								if w.Code != http.StatusOK {
									b.Errorf("token = %d %s", w.Code, w.Body)
									return
								}
							}
						})
						rate := float64(b.N) / time.Since(start).Seconds()
						b.ReportMetric(rate, "tokens/s")
						b.ReportMetric(verifyRate, "verifies/s")
						b.ReportMetric(100*rate/verifyRate, "%-of-verify")
					})
				}
			})
		}
	}
}

// benchVerify measures signature verification alone (go-jose, as the
// server does it), on all cores, and returns verifications per second.
func benchVerify(b *testing.B, st *stack, c *testClient) float64 {
	b.Helper()
	tok := st.assertion(c, nil)
	pub := c.key.Public()
	algs := []jose.SignatureAlgorithm{jose.RS384, jose.ES384}
	const n = 2000
	var done atomic.Int64
	start := time.Now()
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for done.Add(1) <= n {
				parsed, err := jwt.ParseSigned(tok, algs)
				if err == nil {
					var cl jwt.Claims
					err = parsed.Claims(pub, &cl)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	return n / time.Since(start).Seconds()
}

// BenchmarkAuthenticate measures what an access token costs a FHIR
// request: the check of a token seen in the last seconds (a hash and a
// cache lookup), and of one not cached (a database read).
//
//	go test -run XXX -bench BenchmarkAuthenticate ./internal/auth/
func BenchmarkAuthenticate(b *testing.B) {
	for _, o := range testdb.All {
		b.Run(o.Name, func(b *testing.B) {
			st := newStack(b, o.Fresh(b))
			c := st.register("system/*.rs system/Practitioner.cruds", false)
			tok := st.token(c, "system/*.rs")
			ctx := context.Background()
			b.Run("cached", func(b *testing.B) {
				if _, err := st.auth.Authenticate(ctx, tok); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := st.auth.Authenticate(ctx, tok); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("database", func(b *testing.B) {
				toks := make([]string, b.N)
				for i := range toks {
					toks[i] = st.token(c, "system/*.rs")
				}
				b.ResetTimer()
				for i := range b.N {
					if _, err := st.auth.Authenticate(ctx, toks[i]); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
