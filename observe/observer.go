package observe

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/airssys/rt/supervisor"
)

// DefaultEventBuffer is how many recent events an Observer keeps for
// reconnecting streams unless WithEventBuffer says otherwise.
const DefaultEventBuffer = 4096

// ErrInvalidOption is wrapped by the error New returns for a bad option.
var ErrInvalidOption = errors.New("observe: invalid option")

// Observer watches one supervision tree: it takes snapshots, exports
// metrics and serves the HTTP API and the live page. It is an http.Handler
// to mount anywhere (under a prefix with http.StripPrefix). Close it when
// done: it holds a subscription to the tree's events.
type Observer struct {
	root      *supervisor.Supervisor
	cfg       config
	hub       *hub
	counts    *eventCounts
	collector *collector
	gatherer  prometheus.Gatherer
	mux       *http.ServeMux

	unsubscribe func()
	closeOnce   sync.Once
}

type config struct {
	faults      bool
	tokenSum    [sha256.Size]byte
	eventBuffer int
	maxChildren int
	maxSups     int
	gatherer    prometheus.Gatherer
	cluster     Cluster
	err         error
}

// An Option configures an Observer at New.
type Option func(*config)

// WithFaultInjection enables the fault-injection endpoints (POST
// /api/children/terminate, /restart and /crash), which then require the
// header "Authorization: Bearer TOKEN". Without this option the Observer is
// read-only. An empty token is an error: an open fault injector on a
// network port is never what anyone meant.
func WithFaultInjection(token string) Option {
	return func(c *config) {
		if token == "" {
			c.fail("fault injection needs a non-empty token")
			return
		}
		c.faults = true
		// Comparing fixed-size digests keeps the comparison constant-time
		// in the token's length as well as its content.
		c.tokenSum = sha256.Sum256([]byte(token))
	}
}

// WithEventBuffer sets how many recent events are kept for streams that
// reconnect with Last-Event-ID (default DefaultEventBuffer). A client that
// falls further behind is told how many events it missed.
func WithEventBuffer(n int) Option {
	return func(c *config) {
		if n <= 0 {
			c.fail("event buffer %d: need > 0", n)
			return
		}
		c.eventBuffer = n
	}
}

// WithMaxChildSeries bounds the per-child series of the metrics
// (airssys_child_restarts_total) to the n most restarted children
// (default DefaultMaxChildSeries; 0 exports none).
func WithMaxChildSeries(n int) Option {
	return func(c *config) {
		if n < 0 {
			c.fail("max child series %d: need >= 0", n)
			return
		}
		c.maxChildren = n
	}
}

// WithMaxSupervisorSeries bounds how many supervisors get a label value of
// their own in the metrics (default DefaultMaxSupervisorSeries). The first
// n found walking the tree breadth first keep theirs; the rest are summed
// under supervisor="_other" (see OtherSupervisors).
func WithMaxSupervisorSeries(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.fail("max supervisor series %d: need >= 1", n)
			return
		}
		c.maxSups = n
	}
}

// WithGatherer makes GET /metrics serve g, such as a registry shared with
// the rest of the program (register Collector() in it yourself). By default
// /metrics serves a registry holding only this Observer's collector.
func WithGatherer(g prometheus.Gatherer) Option {
	return func(c *config) {
		if g == nil {
			c.fail("nil gatherer")
			return
		}
		c.gatherer = g
	}
}

func (c *config) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
	}
}

// New returns an Observer of the tree under root, subscribed to its events
// from now on. To observe an actor System, pass its Root().
func New(root *supervisor.Supervisor, opts ...Option) (*Observer, error) {
	if root == nil {
		return nil, fmt.Errorf("%w: nil root supervisor", ErrInvalidOption)
	}
	cfg := config{
		eventBuffer: DefaultEventBuffer,
		maxChildren: DefaultMaxChildSeries,
		maxSups:     DefaultMaxSupervisorSeries,
	}
	for _, opt := range opts {
		if opt == nil {
			cfg.fail("nil option")
			continue
		}
		opt(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	o := &Observer{
		root:   root,
		cfg:    cfg,
		hub:    newHub(cfg.eventBuffer),
		counts: newEventCounts(cfg.maxSups),
	}
	o.collector = &collector{root: root, maxChildren: cfg.maxChildren, maxSups: cfg.maxSups, events: o.counts, cluster: cfg.cluster}
	o.gatherer = cfg.gatherer
	if o.gatherer == nil {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(o.collector)
		o.gatherer = reg
	}
	o.mux = o.routes()
	o.unsubscribe = root.Subscribe(func(e supervisor.Event) {
		o.counts.add(e)
		o.hub.publish(e)
	})
	return o, nil
}

// Snapshot describes the whole tree now, and the cluster if WithCluster
// gave one.
func (o *Observer) Snapshot() Snapshot { return o.snapshot(SnapshotOptions{}) }

func (o *Observer) snapshot(opts SnapshotOptions) Snapshot {
	now := time.Now()
	cluster := clusterState(o.cfg.cluster, now)
	var placements map[string]string
	if cluster != nil {
		placements = cluster.Placements
	}
	snap := takeSnapshot(o.root, opts, now, placements)
	snap.Cluster = cluster
	return snap
}

// Collector returns the Prometheus collector of the tree's metrics, to
// register in a registry of your own. Its series are documented in the
// package documentation.
func (o *Observer) Collector() prometheus.Collector { return o.collector }

// Close ends the event subscription and every open event stream. The
// handler keeps answering the other endpoints. Close is idempotent.
func (o *Observer) Close() {
	o.closeOnce.Do(func() {
		o.unsubscribe()
		o.hub.close()
	})
}

// ServeHTTP serves the API and the live page; see the package
// documentation for the routes.
func (o *Observer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mux.ServeHTTP(w, r)
}
