package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// runKeygen makes a key pair for a client system: the public JWK Set to
// register (clients add --jwks-file) and the private key that signs its
// assertions (token --key).
func runKeygen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keygen", "keygen --out PREFIX [--alg ES384|RS384]", stderr)
	out := fs.String("out", "", "write PREFIX.jwks.json (public, to register) and PREFIX.key.json (private, mode 0600)")
	alg := fs.String("alg", "ES384", "signature algorithm: ES384 (P-384) or RS384 (RSA 3072)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return errUsage
	}
	var key crypto.Signer
	var err error
	switch *alg {
	case "ES384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "RS384":
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		return fmt.Errorf("--alg %q: use ES384 or RS384", *alg)
	}
	if err != nil {
		return err
	}
	priv := jose.JSONWebKey{Key: key, Algorithm: *alg, Use: "sig"}
	pub := priv.Public()
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return err
	}
	priv.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	pub.KeyID = priv.KeyID
	pubSet, err := json.MarshalIndent(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}}, "", "  ")
	if err != nil {
		return err
	}
	privJSON, err := json.MarshalIndent(priv, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out+".key.json", append(privJSON, '\n'), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(*out+".jwks.json", append(pubSet, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s.jwks.json (register it: vhdir clients add --jwks-file %s.jwks.json …) and %s.key.json (keep it secret), kid %s\n", *out, *out, *out, priv.KeyID)
	return nil
}

// runToken gets an access token the way a SMART Backend Services client
// does: discovery, a signed assertion, client_credentials. It prints the
// token, for scripts and curl.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("token", "token --server URL --client-id ID --key FILE --scope SCOPES [flags]", stderr)
	server := fs.String("server", "https://127.0.0.1:8443", "the server's base URL")
	clientID := fs.String("client-id", "", "the client_id from clients add")
	keyFile := fs.String("key", "", "the client's private JWK (from keygen)")
	scope := fs.String("scope", "system/*.rs", "scopes to ask for, space-separated")
	caFile := fs.String("ca", "", "PEM certificate to trust for the server (such as its development certificate)")
	asJSON := fs.Bool("json", false, "print the whole token response, not only the access token")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *clientID == "" || *keyFile == "" {
		fs.Usage()
		return errUsage
	}
	key, alg, err := readPrivateJWK(*keyFile)
	if err != nil {
		return err
	}
	client, err := httpClient(*caFile)
	if err != nil {
		return err
	}
	tokenURL, err := discoverTokenURL(ctx, client, *server)
	if err != nil {
		return err
	}
	assertion, err := signAssertion(key, alg, *clientID, tokenURL, time.Now())
	if err != nil {
		return err
	}
	body, err := requestToken(ctx, client, tokenURL, assertion, *scope)
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := stdout.Write(body)
		return err
	}
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.AccessToken == "" {
		return fmt.Errorf("token response without access_token: %s", body)
	}
	fmt.Fprintln(stdout, resp.AccessToken)
	return nil
}

func readPrivateJWK(path string) (jose.JSONWebKey, jose.SignatureAlgorithm, error) {
	var key jose.JSONWebKey
	data, err := os.ReadFile(path)
	if err != nil {
		return key, "", err
	}
	if err := key.UnmarshalJSON(data); err != nil {
		return key, "", fmt.Errorf("%s: %w", path, err)
	}
	if key.IsPublic() {
		return key, "", fmt.Errorf("%s holds a public key; --key needs the private one", path)
	}
	switch k := key.Key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P384() {
			return key, "", fmt.Errorf("%s: EC keys must be P-384 (ES384)", path)
		}
		return key, jose.ES384, nil
	case *rsa.PrivateKey:
		return key, jose.RS384, nil
	}
	return key, "", fmt.Errorf("%s: use an EC P-384 or RSA key", path)
}

func httpClient(caFile string) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}, nil
}

func discoverTokenURL(ctx context.Context, client *http.Client, server string) (string, error) {
	u := strings.TrimSuffix(server, "/") + "/fhir/.well-known/smart-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	var doc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery at %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil || doc.TokenEndpoint == "" {
		return "", fmt.Errorf("discovery at %s: no token_endpoint", u)
	}
	return doc.TokenEndpoint, nil
}

// signAssertion makes a SMART Backend Services client assertion.
func signAssertion(key jose.JSONWebKey, alg jose.SignatureAlgorithm, clientID, aud string, now time.Time) (string, error) {
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), key.KeyID)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key.Key}, opts)
	if err != nil {
		return "", err
	}
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	claims := jwt.Claims{
		Issuer: clientID, Subject: clientID, Audience: jwt.Audience{aud},
		Expiry: jwt.NewNumericDate(now.Add(4 * time.Minute)), IssuedAt: jwt.NewNumericDate(now),
		ID: base64.RawURLEncoding.EncodeToString(jti[:]),
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

func requestToken(ctx context.Context, client *http.Client, tokenURL, assertion, scope string) ([]byte, error) {
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New("token request refused: " + resp.Status + ": " + strings.TrimSpace(string(body)))
	}
	return body, nil
}
