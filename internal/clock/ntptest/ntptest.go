// Package ntptest provides a fake NTP server for tests: an SNTP v4
// responder (RFC 4330) on a loopback UDP socket whose clock runs at a
// chosen offset from the host clock. It answers each 48-byte client request
// in mode 4 (server) with stratum 2, copying the client's transmit
// timestamp into the originate field, as a real server does.
package ntptest

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

const (
	packetLen   = 48
	ntpEpochGap = 2208988800 // seconds from 1900-01-01 (NTP era 0) to 1970-01-01
	modeClient  = 3
	modeServer  = 4
)

// Server is a fake NTP server. Its methods are safe for concurrent use.
type Server struct {
	conn     net.PacketConn
	done     chan struct{}
	answered chan struct{}

	mu      sync.Mutex
	offset  time.Duration
	stratum uint8
	down    bool
}

// NewServer starts a fake NTP server on 127.0.0.1 whose clock is the host
// clock plus offset; t's cleanup stops it.
func NewServer(t testing.TB, offset time.Duration) *Server {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ntptest: %v", err)
	}
	s := &Server{conn: conn, done: make(chan struct{}), answered: make(chan struct{}, 1024), offset: offset, stratum: 2}
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.conn.LocalAddr().String() }

// SetOffset sets how far the server's clock is ahead of the host clock.
func (s *Server) SetOffset(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset = d
}

// SetStratum sets the stratum of the answers; 0 is a kiss-of-death.
func (s *Server) SetStratum(st uint8) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stratum = st
}

// SetDown makes the server drop requests (true) or answer them again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Answered receives a value after each answer is sent (it holds up to
// 1024 unread ones; later ones are dropped).
func (s *Server) Answered() <-chan struct{} { return s.answered }

// Close stops the server and waits for it to finish.
func (s *Server) Close() {
	s.conn.Close()
	<-s.done
}

func (s *Server) serve() {
	defer close(s.done)
	buf := make([]byte, 1024)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil || n < packetLen || buf[0]&7 != modeClient {
			continue
		}
		recv := time.Now()
		s.mu.Lock()
		offset, stratum, down := s.offset, s.stratum, s.down
		s.mu.Unlock()
		if down {
			continue
		}
		version := buf[0] >> 3 & 7
		var out [packetLen]byte
		out[0] = version<<3 | modeServer // leap indicator 0: no warning
		out[1] = stratum
		out[2] = buf[2] // poll: echo the client's
		out[3] = 0xec   // precision 2^-20 s
		// Root delay and dispersion (out[4:12]) stay 0.
		copy(out[12:16], []byte{127, 0, 0, 1}) // reference ID
		binary.BigEndian.PutUint64(out[16:24], ntpTime(recv.Add(offset-16*time.Second)))
		copy(out[24:32], buf[40:48]) // originate = the client's transmit timestamp
		binary.BigEndian.PutUint64(out[32:40], ntpTime(recv.Add(offset)))
		binary.BigEndian.PutUint64(out[40:48], ntpTime(time.Now().Add(offset)))
		if _, err := s.conn.WriteTo(out[:], from); err != nil {
			continue
		}
		select {
		case s.answered <- struct{}{}:
		default:
		}
	}
}

// ntpTime is t as a 64-bit NTP timestamp: seconds since 1900 in the high
// 32 bits, the fraction of a second in the low 32.
func ntpTime(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochGap)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}
