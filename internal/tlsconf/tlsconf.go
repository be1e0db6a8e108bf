// Package tlsconf is vhdir's TLS posture: TLS 1.2 minimum (1.3 negotiated
// whenever the client offers it), only ECDHE key exchange with AEAD ciphers
// for TLS 1.2 (NIST SP 800-52r2 ∩ what Go implements), a certificate that
// can be reloaded without a restart, and the self-signed development
// certificate used when no certificate is configured.
package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// CipherSuites are the TLS 1.2 suites offered: ECDHE with AES-GCM or
// ChaCha20-Poly1305. TLS 1.3 suites are all AEAD and not configurable in Go.
var CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Server returns the server TLS configuration using certs for its
// certificate.
func Server(certs *Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   CipherSuites,
		GetCertificate: certs.get,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// Certificate holds the serving certificate and reloads it on demand.
type Certificate struct {
	certFile, keyFile string
	mu                sync.RWMutex
	cert              *tls.Certificate
}

// Load reads a PEM certificate chain and key.
func Load(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload re-reads the files; on error the previous certificate stays.
func (c *Certificate) Reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate %s: %w", c.certFile, err)
	}
	c.mu.Lock()
	c.cert = &cert
	c.mu.Unlock()
	return nil
}

// Fingerprint returns the SHA-256 fingerprint of the leaf certificate.
func (c *Certificate) Fingerprint() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	sum := sha256.Sum256(c.cert.Certificate[0])
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func (c *Certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cert, nil
}

// DevCertificate returns the self-signed development certificate kept in
// dir, creating it for hosts (names and IP addresses) when absent. Clients
// must be told to trust it (its fingerprint is logged); it is for
// development and tests, never for production.
func DevCertificate(dir string, hosts []string, now time.Time) (*Certificate, error) {
	certFile := filepath.Join(dir, "dev-cert.pem")
	keyFile := filepath.Join(dir, "dev-key.pem")
	if _, err := os.Stat(certFile); err == nil {
		return Load(certFile, keyFile)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	certPEM, keyPEM, err := selfSigned(hosts, now)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return nil, err
	}
	return Load(certFile, keyFile)
}

func selfSigned(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "vhdir development certificate", Organization: []string{"vhdir"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range append(hosts, "localhost", "127.0.0.1", "::1") {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}
