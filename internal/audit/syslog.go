package audit

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// Syslog streams committed records to an external audit repository as RFC
// 5424 messages over TLS (RFC 5425: octet-counted frames), the transport
// IHE ATNA repositories take. The database stays the record of truth and
// requests never wait for the repository: records queue (up to
// syslogQueue) and are sent in commit order, the connection is re-dialled
// with back-off, and a record that cannot be queued is counted as dropped
// and logged. Each message carries the record's chain position and hash
// (structured data vhdir@32473), so the repository holds an independent
// copy of the chain: `vhdir audit verify` plus the repository's copy
// detect even a rewritten database or records cut from its end.
type Syslog struct {
	Addr   string      // host:port
	TLS    *tls.Config // trust for the repository's certificate
	Site   string      // HOSTNAME field (the audit site)
	Logger *slog.Logger

	queue   chan store.AuditLink
	dropped atomic.Int64
	sent    atomic.Int64
}

const syslogQueue = 100_000

// NewSyslog returns a sender; Run delivers what Send queues.
func NewSyslog(addr string, cfg *tls.Config, site string, log *slog.Logger) *Syslog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Syslog{Addr: addr, TLS: cfg, Site: site, Logger: log, queue: make(chan store.AuditLink, syslogQueue)}
}

// Send queues committed records; it never blocks (Log.Stream).
func (s *Syslog) Send(links []store.AuditLink) {
	for _, l := range links {
		select {
		case s.queue <- l:
		default:
			if s.dropped.Add(1) == 1 || s.dropped.Load()%1000 == 0 {
				s.Logger.Warn("audit syslog queue full: records not streamed", "dropped", s.dropped.Load(), "seq", l.Seq)
			}
		}
	}
}

// Dropped and Sent count records not queued and records delivered.
func (s *Syslog) Dropped() int64 { return s.dropped.Load() }
func (s *Syslog) Sent() int64    { return s.sent.Load() }

// Run delivers queued records until ctx ends.
func (s *Syslog) Run(ctx context.Context) {
	var conn *tls.Conn
	backoff := time.Second
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		var l store.AuditLink
		select {
		case <-ctx.Done():
			return
		case l = <-s.queue:
		}
		frame := syslogFrame(l, s.Site)
		for {
			if conn == nil {
				d := &net.Dialer{Timeout: 5 * time.Second}
				c, err := tls.DialWithDialer(d, "tcp", s.Addr, s.TLS)
				if err != nil {
					s.Logger.Warn("audit syslog: cannot connect; retrying", "addr", s.Addr, "err", err, "retry_in", backoff)
					select {
					case <-ctx.Done():
						return
					case <-time.After(backoff):
					}
					backoff = min(2*backoff, 30*time.Second)
					continue
				}
				conn, backoff = c, time.Second
			}
			_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			// One write per record: nothing sits in a buffer of ours when a
			// connection breaks (RFC 5425 has no acknowledgements; what the
			// kernel accepted before a break may still be lost, and the
			// repository sees the gap in seq).
			if _, err := conn.Write(frame); err != nil {
				s.Logger.Warn("audit syslog: write failed; reconnecting", "addr", s.Addr, "err", err)
				conn.Close()
				conn = nil
				continue
			}
			s.sent.Add(1)
			break
		}
	}
}

// syslogFrame is one record as an octet-counted RFC 5424 message.
func syslogFrame(l store.AuditLink, site string) []byte {
	var head struct {
		Recorded string `json:"recorded"`
		Outcome  string `json:"outcome"`
		Type     struct {
			Code string `json:"code"`
		} `json:"type"`
		Subtype []struct {
			Code string `json:"code"`
		} `json:"subtype"`
	}
	_ = json.Unmarshal(l.Body, &head)
	severity := 6 // informational
	if head.Outcome != "" && head.Outcome != Success {
		severity = 4 // warning
	}
	msgID := head.Type.Code
	if len(head.Subtype) > 0 && head.Subtype[0].Code != "" {
		msgID = head.Subtype[0].Code
	}
	ts := head.Recorded
	if ts == "" {
		ts = "-"
	}
	msg := fmt.Sprintf("<%d>1 %s %s vhdir %d %s [vhdir@32473 seq=\"%d\" id=\"%s\" hash=\"%s\"] \ufeff%s",
		13*8+severity, ts, syslogName(site, 255), os.Getpid(), syslogName(msgID, 32), l.Seq, sdEscape(l.ID), hex.EncodeToString(l.Hash), l.Body)
	return []byte(strconv.Itoa(len(msg)) + " " + msg)
}

// syslogName makes a header field: printable US-ASCII without spaces,
// at most n characters, "-" when empty.
func syslogName(s string, n int) string {
	b := []byte(s)
	out := b[:0]
	for _, c := range b {
		if c > 32 && c < 127 {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return string(out[:min(len(out), n)])
}

// sdEscape escapes a structured-data parameter value (RFC 5424 §6.3.3).
func sdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(s)
}
