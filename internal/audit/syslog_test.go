package audit_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"io"
	"math/big"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/server"
)

// collector is an RFC 5425 syslog receiver on a loopback TLS listener.
type collector struct {
	ln   net.Listener
	msgs chan string
	pool *x509.CertPool
}

func newCollector(t *testing.T) *collector {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "collector"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	c := &collector{msgs: make(chan string, 1000), pool: x509.NewCertPool()}
	c.pool.AddCert(cert)
	c.ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ln.Close() })
	go func() {
		for {
			conn, err := c.ln.Accept()
			if err != nil {
				return
			}
			go c.read(conn)
		}
	}()
	return c
}

// read parses octet-counted frames: "LEN SP MSG".
func (c *collector) read(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		lenText, err := r.ReadString(' ')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(lenText))
		if err != nil {
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		c.msgs <- string(buf)
	}
}

var syslogLine = regexp.MustCompile(`^<(\d+)>1 (\S+) (\S+) vhdir (\d+) (\S+) \[vhdir@32473 seq="(\d+)" id="([^"]+)" hash="([0-9a-f]{64})"\] \x{FEFF}(\{.*\})$`)

// TestSyslogStreamsCommittedRecords: every committed record — from the
// group commit, from a write's own transaction and from a batch's run of
// writes — reaches the repository once, as RFC 5424 with its chain position and hash.
func TestSyslogStreamsCommittedRecords(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *stack) {
		c := newCollector(t)
		sl := audit.NewSyslog(c.ln.Addr().String(), &tls.Config{RootCAs: c.pool, MinVersion: tls.VersionTLS12}, "test site", nil)
		s.rebuild(func(cfg *server.Config) { cfg.AuditSyslog = sl })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go sl.Run(ctx)

		s.do("PUT", "/fhir/Practitioner/p1", "a", "", prac("p1", "Ann"))                                         // in the write's tx
		s.do("GET", "/fhir/Practitioner/p1", "a", "", "")                                                        // group commit
		s.do("PUT", "/fhir/Practitioner/p2", "a", "", `{"resourceType":"Practitioner","id":"p2","active":"no"}`) // refused: one failure record
		// A batch: its writes commit together, after a run rolled back at
		// the failed If-Match; then that entry's failure, and the Bundle's.
		s.do("POST", "/fhir", "a", "", `{"resourceType":"Bundle","type":"batch","entry":[
			{"resource":`+prac("p3", "Bo")+`,"request":{"method":"PUT","url":"Practitioner/p3"}},
			{"resource":`+prac("p1", "Al")+`,"request":{"method":"PUT","url":"Practitioner/p1","ifMatch":"W/\"9\""}},
			{"resource":`+prac("p4", "Cy")+`,"request":{"method":"PUT","url":"Practitioner/p4"}}]}`)
		links, err := s.store.AuditChain(context.Background(), 0, 100)
		if err != nil || len(links) != 7 {
			t.Fatalf("chain = %d links, %v", len(links), err)
		}
		got := map[int64]string{}
		for range links {
			select {
			case m := <-c.msgs:
				parts := syslogLine.FindStringSubmatch(m)
				if parts == nil {
					t.Fatalf("not an RFC 5424 record message: %q", m)
				}
				seq, _ := strconv.ParseInt(parts[6], 10, 64)
				got[seq] = m
				l := links[seq-1]
				if parts[7] != l.ID || parts[8] != hex.EncodeToString(l.Hash) || parts[9] != string(l.Body) {
					t.Errorf("record %d: streamed id/hash/body differ from the chain", seq)
				}
				if parts[3] != "testsite" || parts[1] != map[bool]string{true: "110", false: "108"}[strings.Contains(parts[9], `"outcome":"0"`)] {
					t.Errorf("record %d: host %q, priority %s", seq, parts[3], parts[1])
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("only %d of %d records streamed", len(got), len(links))
			}
		}
		for seq := int64(1); seq <= 7; seq++ {
			if got[seq] == "" {
				t.Errorf("record %d not streamed", seq)
			}
		}
		select {
		case m := <-c.msgs:
			t.Errorf("an extra message: %q", m)
		case <-time.After(200 * time.Millisecond):
		}
	})
}
