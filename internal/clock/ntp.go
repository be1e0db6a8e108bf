package clock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/beevik/ntp"
)

// NTP monitor defaults.
const (
	DefaultNTPInterval  = time.Minute
	DefaultMaxOffset    = time.Second // IHE ITI Consistent Time: median error below 1 s
	DefaultNTPTimeout   = 5 * time.Second
	defaultStaleFactor  = 3 // MaxStale defaults to 3 intervals
	ntpDefaultPort      = "123"
	offsetLogStepFactor = 4 // log an offset change of MaxOffset/4 or more
)

// NTPConfig configures an NTPMonitor.
type NTPConfig struct {
	// Server is the one NTP server the host clock is checked against,
	// host or host:port (port 123 when omitted; IPv6 in brackets).
	Server string
	// Interval between queries; default DefaultNTPInterval.
	Interval time.Duration
	// MaxOffset is the largest |offset| Check accepts; default DefaultMaxOffset.
	MaxOffset time.Duration
	// MaxStale is how old the last valid answer may be before Check fails
	// (the server is unreachable); default 3 intervals. It rides out a lost
	// datagram or two.
	MaxStale time.Duration
	// Timeout for one query; default DefaultNTPTimeout, at most Interval.
	Timeout time.Duration
	// Logger gets offset changes (info) and offsets beyond the limit or
	// failing queries (warn); nil discards.
	Logger *slog.Logger
}

// NTPStatus is what the last queries found.
type NTPStatus struct {
	// Server is host:port of the NTP server.
	Server string
	// Offset is the NTP server's time minus the host clock at the last
	// valid answer: positive means the host clock is behind.
	Offset time.Duration
	// RTT is the round trip of the last valid answer.
	RTT time.Duration
	// Stratum is the server's stratum in the last valid answer.
	Stratum uint8
	// LastSync is when the last valid answer arrived (host clock); zero
	// before the first.
	LastSync time.Time
	// Err is the last query's error (nil when it was valid).
	Err error
}

// NTPMonitor checks the host clock against one NTP server (SNTP, RFC 4330
// / RFC 5905). It only verifies: the host clock, kept by chrony or
// systemd-timesyncd, stays the one source, and the measured offset is never
// added to any timestamp. Run queries at start and every Interval; Check
// reports readiness.
type NTPMonitor struct {
	server    string // host:port
	interval  time.Duration
	maxOffset time.Duration
	maxStale  time.Duration
	timeout   time.Duration
	log       *slog.Logger
	now       func() time.Time // staleness and LastSync; replaced in tests

	mu        sync.Mutex
	st        NTPStatus
	synced    bool          // a valid answer has arrived
	loggedOff time.Duration // the offset last logged
	beyond    bool          // the last valid offset was beyond MaxOffset
	failing   bool          // the last query failed
}

// NewNTPMonitor validates cfg and returns a monitor; call Run to start it.
func NewNTPMonitor(cfg NTPConfig) (*NTPMonitor, error) {
	server, err := ntpHostPort(cfg.Server)
	if err != nil {
		return nil, err
	}
	m := &NTPMonitor{
		server: server, interval: cfg.Interval, maxOffset: cfg.MaxOffset, maxStale: cfg.MaxStale,
		timeout: cfg.Timeout, log: cfg.Logger, now: time.Now,
	}
	if m.interval == 0 {
		m.interval = DefaultNTPInterval
	}
	if m.maxOffset == 0 {
		m.maxOffset = DefaultMaxOffset
	}
	if m.maxStale == 0 {
		m.maxStale = defaultStaleFactor * m.interval
	}
	if m.timeout == 0 {
		m.timeout = min(DefaultNTPTimeout, m.interval)
	}
	switch {
	case m.interval < 0, m.maxOffset < 0, m.timeout < 0:
		return nil, errors.New("ntp: interval, max offset and timeout must be positive")
	case m.maxStale < m.interval:
		return nil, fmt.Errorf("ntp: max stale %v is shorter than the interval %v", m.maxStale, m.interval)
	case m.timeout > m.interval:
		return nil, fmt.Errorf("ntp: timeout %v is longer than the interval %v", m.timeout, m.interval)
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.log = m.log.With("ntp_server", server)
	m.st.Server = server
	return m, nil
}

// ntpHostPort checks host[:port] and adds the default port.
func ntpHostPort(s string) (string, error) {
	if s == "" {
		return "", errors.New("ntp: no server")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a name, an IPv4 address, a bare or bracketed IPv6 address.
		host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), ntpDefaultPort
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 || host == "" || strings.ContainsAny(host, "[]/ ") {
		return "", fmt.Errorf("ntp server %q: want host or host:port", s)
	}
	return net.JoinHostPort(host, port), nil
}

// Server returns the NTP server as host:port.
func (m *NTPMonitor) Server() string { return m.server }

// MaxOffset returns the largest offset Check accepts.
func (m *NTPMonitor) MaxOffset() time.Duration { return m.maxOffset }

// Interval returns the time between queries.
func (m *NTPMonitor) Interval() time.Duration { return m.interval }

// Status returns what the last queries found.
func (m *NTPMonitor) Status() NTPStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st
}

// Run queries the server now and then every Interval until ctx ends.
func (m *NTPMonitor) Run(ctx context.Context) {
	m.Sync(ctx)
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Sync(ctx)
		}
	}
}

// Sync queries the server once, records the answer and returns the
// query's error: unreachable, or an answer unfit for checking a clock
// (kiss-of-death, unsynchronised server, stratum 16 and so on).
func (m *NTPMonitor) Sync(ctx context.Context) error {
	resp, err := m.query(ctx)
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: not a failure of the server
	}
	if err == nil {
		err = resp.Validate()
	}
	if err != nil {
		err = fmt.Errorf("ntp query %s: %w", m.server, err)
	}
	m.record(resp, err)
	return err
}

// query asks the server once; ctx cancels a query in flight.
func (m *NTPMonitor) query(ctx context.Context) (*ntp.Response, error) {
	var stop func() bool
	opts := ntp.QueryOptions{
		Timeout: m.timeout,
		Dialer: func(_, remote string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "udp", remote)
			if err != nil {
				return nil, err
			}
			stop = context.AfterFunc(ctx, func() { c.Close() })
			return c, nil
		},
	}
	resp, err := ntp.QueryWithOptions(m.server, opts)
	if stop != nil {
		stop()
	}
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return resp, err
}

// record keeps the result of one query and logs what changed.
func (m *NTPMonitor) record(resp *ntp.Response, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st.Err = err
	if err != nil {
		if !m.failing {
			m.log.Warn("ntp query failed; the host clock is not being checked", "err", err)
		} else {
			m.log.Debug("ntp query failed", "err", err)
		}
		m.failing = true
		return
	}
	if m.failing {
		m.log.Info("ntp server answers again")
		m.failing = false
	}
	m.st.Offset, m.st.RTT, m.st.Stratum, m.st.LastSync = resp.ClockOffset, resp.RTT, resp.Stratum, m.now()
	args := []any{"offset", m.st.Offset, "rtt", m.st.RTT, "stratum", m.st.Stratum, "max_offset", m.maxOffset}
	beyond := abs(m.st.Offset) > m.maxOffset
	switch {
	case beyond && !m.beyond:
		m.log.Warn("host clock offset beyond the limit: fix the host's time synchronisation (chrony, timesyncd)", args...)
	case !m.synced:
		m.log.Info("host clock checked against ntp", args...)
	case !beyond && m.beyond:
		m.log.Info("host clock offset back within the limit", args...)
	case abs(m.st.Offset-m.loggedOff) >= m.maxOffset/offsetLogStepFactor:
		level := slog.LevelInfo
		if beyond {
			level = slog.LevelWarn
		}
		m.log.Log(context.Background(), level, "host clock offset changed", args...)
	default:
		args = nil
	}
	if args != nil {
		m.loggedOff = m.st.Offset
	}
	m.synced, m.beyond = true, beyond
}

// Check is the readiness check: it fails when no valid answer has arrived
// yet, when the last one is older than MaxStale (the server is
// unreachable or answers nonsense), or when |offset| exceeds MaxOffset.
func (m *NTPMonitor) Check(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.synced {
		if m.st.Err == nil {
			return fmt.Errorf("no answer yet from ntp server %s", m.server)
		}
		return fmt.Errorf("no valid answer from ntp server %s: %w", m.server, m.st.Err)
	}
	if age := m.now().Sub(m.st.LastSync); age > m.maxStale {
		err := fmt.Errorf("ntp server %s unreachable: last valid answer %v ago (limit %v)",
			m.server, age.Round(time.Millisecond), m.maxStale)
		if m.st.Err != nil {
			err = fmt.Errorf("%w: %w", err, m.st.Err)
		}
		return err
	}
	if abs(m.st.Offset) > m.maxOffset {
		return fmt.Errorf("clock offset %s from ntp server %s exceeds the limit %v",
			signed(m.st.Offset), m.server, m.maxOffset)
	}
	return nil
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// signed formats d to the millisecond with its sign: +3.002s, -40ms.
func signed(d time.Duration) string {
	s := d.Round(time.Millisecond).String()
	if d >= 0 {
		s = "+" + s
	}
	return s
}

// Checked is the host clock checked by an NTPMonitor. It tells the same
// time as System (the offset is never applied) but names the NTP server
// in Source, so records say which source stamped them.
type Checked struct {
	Monitor *NTPMonitor
}

// Now returns the system time in UTC.
func (Checked) Now() time.Time { return time.Now().UTC() }

// Source names the system clock and the NTP server it is checked against.
func (c Checked) Source() string {
	return "system clock checked against ntp://" + c.Monitor.Server()
}
