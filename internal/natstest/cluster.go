package natstest

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// RoutePingInterval is how often the servers of a [Cluster] ping their
// routes. NATS' default (two minutes) would let a frozen route linger for
// minutes; at this interval NATS drops it within about a second, and a
// healed route is back within about a second more (its reconnect delay).
const RoutePingInterval = 250 * time.Millisecond

// meshTimeout bounds every wait for routes: servers on loopback mesh in
// tens of milliseconds, so only a broken cluster takes this long, even on a
// loaded machine under the race detector.
const meshTimeout = 20 * time.Second

// Option configures [Start].
type Option func(*config)

type config struct {
	proxies [][2]int
	logs    bool
	tweak   func(i int, o *server.Options)
}

// WithProxy routes the link between servers a and b (indexes from 0)
// through a [Proxy], which [Cluster.Proxy] returns. Each server may be the
// higher-numbered end of at most one proxied pair, since that server keeps
// the proxy as its only seed route (see the package doc).
func WithProxy(a, b int) Option {
	return func(c *config) { c.proxies = append(c.proxies, [2]int{min(a, b), max(a, b)}) }
}

// WithLogs sends the servers' notices, warnings and errors to t.Log, each
// line prefixed with the server's name. By default they are discarded:
// a partition test makes NATS complain, as it should.
func WithLogs() Option { return func(c *config) { c.logs = true } }

// WithServerOptions lets a test adjust each server's options before it
// starts (MaxPayload, JetStream, accounts...). fn gets the server's index and
// must leave the listen and cluster addresses alone.
func WithServerOptions(fn func(i int, o *server.Options)) Option {
	return func(c *config) { c.tweak = fn }
}

// A Cluster is a set of NATS servers meshed by routes inside the test
// process. Its methods are safe for concurrent use.
type Cluster struct {
	t       testing.TB
	servers []*server.Server
	opts    []*server.Options
	proxies map[[2]int]*Proxy
	logs    []*logger

	mu   sync.Mutex
	down []bool
}

// Start runs n clustered NATS servers on random loopback ports (n >= 1) and
// returns once every server has a route to every other one. The servers are
// named "s0", "s1", ... and shut down when the test ends. Start fails the
// test on any error.
func Start(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("natstest: Start needs at least one server, got %d", n)
	}
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	seed := make([]int, n) // the proxied lower server of each higher one, or -1
	for i := range seed {
		seed[i] = -1
	}
	for _, pr := range cfg.proxies {
		a, b := pr[0], pr[1]
		if a < 0 || b >= n || a == b {
			t.Fatalf("natstest: WithProxy(%d, %d) out of range for %d servers", a, b, n)
		}
		if seed[b] >= 0 {
			t.Fatalf("natstest: server %d is the higher end of two proxied pairs", b)
		}
		seed[b] = a
	}

	c := &Cluster{
		t:       t,
		servers: make([]*server.Server, n),
		opts:    make([]*server.Options, n),
		proxies: make(map[[2]int]*Proxy),
		down:    make([]bool, n),
	}
	t.Cleanup(c.shutdownAll)
	for i := range n {
		o := &server.Options{
			ServerName: "s" + strconv.Itoa(i),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			NoSigs:     true,
			NoLog:      !cfg.logs,
			Cluster: server.ClusterOpts{
				Name:         "natstest",
				Host:         "127.0.0.1",
				Port:         server.RANDOM_PORT,
				PingInterval: RoutePingInterval,
			},
		}
		if cfg.tweak != nil {
			cfg.tweak(i, o)
		}
		if i > 0 {
			target := 0
			if seed[i] >= 0 {
				target = seed[i]
			}
			addr := c.servers[target].ClusterAddr().String()
			if seed[i] >= 0 {
				p, err := newProxy(addr)
				if err != nil {
					t.Fatalf("natstest: proxy between s%d and s%d: %v", target, i, err)
				}
				c.proxies[[2]int{target, i}] = p
				addr = p.Addr()
			}
			o.Routes = server.RoutesFromStr("nats://" + addr)
		}
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatalf("natstest: server s%d: %v", i, err)
		}
		lg := &logger{t: t, name: o.ServerName, on: cfg.logs}
		s.SetLogger(lg, false, false)
		c.logs = append(c.logs, lg)
		c.opts[i] = o
		c.servers[i] = s
		s.Start()
		if !s.ReadyForConnections(meshTimeout) {
			t.Fatalf("natstest: server s%d not ready after %v", i, meshTimeout)
		}
		// Mesh each server before starting the next, so that a proxied
		// server's route exists before anyone could gossip a direct one.
		if err := c.waitMesh(i + 1); err != nil {
			t.Fatalf("natstest: %v", err)
		}
	}
	return c
}

// Len is the number of servers, running or shut down.
func (c *Cluster) Len() int { return len(c.servers) }

// Server is server i, for what this package does not wrap (Routez,
// ClusterAddr...).
func (c *Cluster) Server(i int) *server.Server { return c.servers[i] }

// URL is the client URL of server i: nats://127.0.0.1:port.
func (c *Cluster) URL(i int) string { return c.servers[i].ClientURL() }

// URLs lists every server's client URL, comma-separated, the form nats.go
// and WithURL accept for a client that fails over between servers.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.servers))
	for i, s := range c.servers {
		urls[i] = s.ClientURL()
	}
	return strings.Join(urls, ",")
}

// Proxy is the proxy on the route between servers a and b, as set up by
// [WithProxy]; it fails the test if there is none.
func (c *Cluster) Proxy(a, b int) *Proxy {
	p, ok := c.proxies[[2]int{min(a, b), max(a, b)}]
	if !ok {
		c.t.Fatalf("natstest: no proxy between s%d and s%d (use WithProxy)", a, b)
	}
	return p
}

// Shutdown stops server i cleanly and waits until it has stopped: its
// clients lose their connection, its peers drop their routes to it within
// milliseconds. Shutting down a stopped server does nothing.
func (c *Cluster) Shutdown(i int) {
	c.mu.Lock()
	if c.down[i] {
		c.mu.Unlock()
		return
	}
	c.down[i] = true
	c.mu.Unlock()
	c.servers[i].Shutdown()
	c.servers[i].WaitForShutdown()
}

// Running reports whether server i has not been shut down.
func (c *Cluster) Running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.down[i]
}

// WaitMesh waits until every running server has a route to every other
// running one, and none to a stopped one, for example after
// [Proxy.Heal] or [Cluster.Shutdown]. It fails the test after 20 s.
func (c *Cluster) WaitMesh() {
	c.t.Helper()
	if err := c.waitMesh(len(c.servers)); err != nil {
		c.t.Fatalf("natstest: %v", err)
	}
}

// Meshed reports whether every running server has a route to every other
// running one and to no stopped one: the state [WaitMesh] waits for.
func (c *Cluster) Meshed() bool { return c.meshErr(len(c.servers)) == nil }

func (c *Cluster) waitMesh(n int) error {
	deadline := time.Now().Add(meshTimeout)
	for {
		err := c.meshErr(n)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("routes not meshed after %v: %w", meshTimeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// meshErr checks the routes among the first n servers.
func (c *Cluster) meshErr(n int) error {
	want := make(map[string]bool)
	for i := range n {
		if c.Running(i) {
			want[c.servers[i].ID()] = true
		}
	}
	for i := range n {
		if !c.Running(i) {
			continue
		}
		rz, err := c.servers[i].Routez(nil)
		if err != nil {
			return fmt.Errorf("s%d: routez: %w", i, err)
		}
		got := make(map[string]bool)
		for _, r := range rz.Routes {
			got[r.RemoteID] = true
		}
		for id := range want {
			if id != c.servers[i].ID() && !got[id] {
				return fmt.Errorf("s%d has no route to %s", i, c.nameOf(id))
			}
		}
		for id := range got {
			if !want[id] {
				return fmt.Errorf("s%d still has a route to %s", i, c.nameOf(id))
			}
		}
	}
	return nil
}

// WaitInterest waits until server i knows of a subscriber to subject,
// local or on another server: a new subscription takes a moment to reach
// the other servers, and a message published before that is dropped. It
// looks in the global account, where clients land unless WithServerOptions
// sets up accounts. It fails the test after 20 s.
func (c *Cluster) WaitInterest(i int, subject string) {
	c.t.Helper()
	deadline := time.Now().Add(meshTimeout)
	for !c.servers[i].GlobalAccount().SubscriptionInterest(subject) {
		if time.Now().After(deadline) {
			c.t.Fatalf("natstest: s%d has no interest in %q after %v", i, subject, meshTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

func (c *Cluster) nameOf(id string) string {
	for _, s := range c.servers {
		if s.ID() == id {
			return s.Name()
		}
	}
	return id
}

func (c *Cluster) shutdownAll() {
	// Heal first: a server whose route is held by a frozen proxy shuts
	// down without waiting on it anyway, but healing lets the peers see the
	// close and keeps the shutdown quick.
	for _, p := range c.proxies {
		p.Heal()
	}
	for i := range c.servers {
		if c.servers[i] != nil {
			c.Shutdown(i)
		}
	}
	for _, p := range c.proxies {
		p.Close()
	}
	for _, lg := range c.logs {
		lg.stop()
	}
}

// ClusterAddr is server i's route address, where another server (or a
// Proxy) would connect.
func (c *Cluster) ClusterAddr(i int) net.Addr { return c.servers[i].ClusterAddr() }
