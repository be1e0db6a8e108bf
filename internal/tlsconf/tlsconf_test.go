package tlsconf

import (
	"crypto/fips140"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func serve(t *testing.T, certs *Certificate) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", Server(certs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

func TestPosture(t *testing.T) {
	certs, err := DevCertificate(t.TempDir(), []string{"dir.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, certs)
	tests := []struct {
		name   string
		cfg    *tls.Config
		accept bool
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
		{"TLS 1.2 AEAD", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		// ChaCha20-Poly1305 is not FIPS-approved: Go's FIPS 140-3 mode refuses it.
		{"TLS 1.2 ChaCha20", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, !fips140.Enabled()},
		{"TLS 1.2 CBC (non-AEAD)", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, false},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
		{"TLS 1.0", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.InsecureSkipVerify = true
			conn, err := tls.Dial("tcp", addr, tt.cfg)
			if err == nil {
				conn.Close()
			}
			if (err == nil) != tt.accept {
				t.Errorf("handshake error = %v; want accepted %v", err, tt.accept)
			}
		})
	}
}

func TestDevCertificateReusedAndTrusted(t *testing.T) {
	dir := t.TempDir()
	a, err := DevCertificate(dir, []string{"dir.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := DevCertificate(dir, nil, time.Now())
	if err != nil || a.Fingerprint() != b.Fingerprint() {
		t.Fatalf("second start made a new certificate (%v)", err)
	}
	pemData, err := os.ReadFile(filepath.Join(dir, "dev-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(filepath.Join(dir, "dev-key.pem")); info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v; want 0600", info.Mode().Perm())
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemData)
	addr := serve(t, a)
	_, port, _ := net.SplitHostPort(addr)
	conn, err := tls.Dial("tcp", "127.0.0.1:"+port, &tls.Config{RootCAs: pool, ServerName: "dir.example"})
	if err != nil {
		t.Fatalf("client trusting the development certificate: %v", err)
	}
	conn.Close()
}

func TestReloadKeepsOldOnError(t *testing.T) {
	dir := t.TempDir()
	c, err := DevCertificate(dir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	before := c.Fingerprint()
	if err := os.WriteFile(filepath.Join(dir, "dev-cert.pem"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err == nil {
		t.Fatal("Reload of a broken file succeeded")
	}
	if c.Fingerprint() != before {
		t.Errorf("a failed reload replaced the certificate")
	}
	// A new pair on disk is picked up.
	certPEM, keyPEM, err := selfSigned(nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "dev-cert.pem"), certPEM, 0o644)
	os.WriteFile(filepath.Join(dir, "dev-key.pem"), keyPEM, 0o600)
	if err := c.Reload(); err != nil || c.Fingerprint() == before {
		t.Errorf("Reload of a new pair = %v, fingerprint changed %v", err, c.Fingerprint() != before)
	}
}
