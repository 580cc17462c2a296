package remote

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Option configures a Node at Start.
type Option func(*config)

type config struct {
	url        string
	listen     string
	cluster    string
	natsOpts   []nats.Option
	interval   time.Duration
	misses     int
	logger     *slog.Logger
	err        error
	maxPayload int32
}

// Defaults of the heartbeat: a node missing DefaultMisses heartbeats of
// DefaultHeartbeat is declared down, 1 s after it fell silent.
const (
	DefaultHeartbeat = 250 * time.Millisecond
	DefaultMisses    = 4
)

// WithURL joins an existing NATS deployment instead of starting an embedded
// server: one URL or several, comma-separated ("nats://h1:4222,nats://h2:4222").
// Credentials and TLS go in WithNATSOptions, or in the URL as NATS allows.
// An empty url is an error (ErrInvalid), not a request for the embedded
// server: leave WithURL out for that.
func WithURL(url string) Option {
	return func(c *config) {
		if strings.TrimSpace(url) == "" {
			c.err = fmt.Errorf("%w: WithURL(%q): no URL (leave WithURL out to run an embedded server)", ErrInvalid, url)
			return
		}
		c.url = url
	}
}

// WithListen makes the embedded server accept connections from other
// processes on addr ("127.0.0.1:4222"; port 0 picks a free one, see
// Node.ClientURL). A bare port or ":port" listens on loopback only: other
// machines are let in only when the host says so.
func WithListen(addr string) Option { return func(c *config) { c.listen = addr } }

// WithCluster puts the node in a namespace of subjects of its own: nodes of
// different clusters sharing one NATS deployment never see each other. The
// name has the syntax of node names.
func WithCluster(name string) Option { return func(c *config) { c.cluster = name } }

// WithNATSOptions passes options to nats.Connect (credentials, TLS,
// reconnection). They apply after the node's own, so they win.
func WithNATSOptions(opts ...nats.Option) Option {
	return func(c *config) { c.natsOpts = append(c.natsOpts, opts...) }
}

// WithHeartbeat sets how often the node announces itself (interval) and how
// many announcements a peer may miss before it is declared down (misses):
// failure detection takes interval*misses. A stall of this node itself (a
// long GC pause, a starved processor) does not count as its peers'
// silence: they are declared down only once misses of its own checks have
// passed without their heartbeats. Defaults: 250ms x 4.
func WithHeartbeat(interval time.Duration, misses int) Option {
	return func(c *config) {
		if interval <= 0 || misses < 1 {
			c.err = fmt.Errorf("%w: heartbeat %v x %d (want a positive interval and at least one miss)", ErrInvalid, interval, misses)
			return
		}
		c.interval, c.misses = interval, misses
	}
}

// WithLogger sets the logger of the node and of its embedded NATS server
// (default: the System's logger).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMaxPayload sets the embedded server's max_payload in bytes (NATS'
// default is 1 MiB). Messages larger than the connection's max_payload fail
// with ErrTooLarge. It has no effect with WithURL: the deployment decides.
func WithMaxPayload(n int32) Option {
	return func(c *config) {
		if n < 1 {
			c.err = fmt.Errorf("%w: max payload %d", ErrInvalid, n)
			return
		}
		c.maxPayload = n
	}
}

// listenAddr splits a WithListen address, loopback unless a host is given.
func listenAddr(addr string) (string, int, error) {
	if _, err := strconv.Atoi(addr); err == nil {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%w: listen address %q: %v", ErrInvalid, addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("%w: listen address %q: bad port", ErrInvalid, addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return host, p, nil
}

// validName reports whether s can be a node or cluster name: it becomes a
// token of NATS subjects.
func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
