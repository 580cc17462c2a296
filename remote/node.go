package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/supervisor"
)

// Node attaches an actor System to NATS: it is the System's presence in a
// cluster of nodes. See the package documentation.
type Node struct {
	name    string
	id      string // fresh at every Start: tells a restarted node from its predecessor
	prefix  string // "airssys.<cluster>."
	inboxSj string // prefix + "n." + name
	sys     *actor.System
	log     *slog.Logger
	srv     *server.Server // the embedded server, if this node runs one
	nc      *nats.Conn
	maxPay  int

	interval time.Duration
	misses   int
	// hbMu orders the heartbeats; left: the leave has gone, and no
	// heartbeat may follow it (see heartbeat).
	hbMu sync.Mutex
	left bool

	inbox *nats.Subscription
	hbSub *nats.Subscription
	// handlersDone receives once from each subscription's closed
	// handler: NATS calls it when the goroutine that runs the
	// subscription's callbacks has returned from its last one. Close
	// waits for both (see subscribe).
	handlersDone chan struct{}

	// proxies runs the local stand-ins of Lookup refs; hosts runs the
	// incarnations other nodes spawned here. hostSys is a private System
	// for the hosted ones: what they leave queued when they end is not
	// lost (their owner requeues it), so their dead letters are not the
	// user's.
	proxies *supervisor.Supervisor
	hosts   *supervisor.Supervisor
	hostSys *actor.System
	// proxySys holds the Lookup stand-ins, whose dead letters are the
	// user's: proxyDL forwards them to sys.
	proxySys *actor.System
	proxyDL  func()
	// work counts the spawns and stops under way for peers. workMu and
	// workShut order its Adds before Close's Wait: a WaitGroup must not
	// go up from zero while someone waits on it, and the inbox keeps
	// delivering until Close unsubscribes, after that Wait.
	work     sync.WaitGroup
	workMu   sync.Mutex
	workShut bool

	stop    chan struct{}   // closed by Close: ends the heartbeat loop
	ctx     context.Context // the node's lifetime: cancelled by Close
	cancel  context.CancelFunc
	loops   sync.WaitGroup
	closing atomic.Bool
	closed  chan struct{}
	// settled: this node's first interval is over, and its heartbeats say
	// its kinds are complete (see heartbeat).
	settled atomic.Bool
	closeMu sync.Mutex
	seq     atomic.Uint64 // incarnation ids

	mu      sync.Mutex
	members map[string]*member
	// changed is closed (and dropped) when a member's kinds, their being
	// settled, or its being up change: awaitKind waits on it. nil while
	// nobody waits.
	changed chan struct{}
	subs    map[int]*eventSub
	nextSub int
	kinds   map[string]*kind
	served  map[string]*served
	lookups map[string]*proxyEntry // node + "\x00" + name
	// stoppedAt: when a served actor's stop was announced with no
	// stand-in here yet (a Lookup under way may need to know).
	stoppedAt map[string]time.Time
	hosted    map[string]*hosted    // by incarnation id
	ended     map[string]*hosted    // recently ended hosted incarnations, for late stop requests
	children  map[string]ownerChild // by incarnation id: this node's remote children
	placed    map[string]int        // node -> children of this node running there (Any spreads by it)

	stats stats

	codecMu  sync.Mutex
	codecLog map[string]*codecNote // by target: see logCodec
}

// member is what a node knows of another.
type member struct {
	info  NodeInfo
	id    string
	kinds map[string]bool
	// settled: its latest heartbeat says its kinds are complete (its
	// first interval is over); until then a kind it lacks may be on its
	// way (see awaitKind).
	settled bool
	// why: the reason of its latest NodeDown, which a request to it
	// while it is down reports.
	why error
	// checks: this node's membership checks since its latest heartbeat
	// (see checkMembers).
	checks int
}

// NodeInfo describes a member of the cluster as this node sees it.
type NodeInfo struct {
	Name          string
	Up            bool
	LastHeartbeat time.Time     // when its latest heartbeat arrived
	RTT           time.Duration // latest measured round trip to it (0 if none yet)
	Kinds         []string      // kinds it registered
}

// NodeEventKind says whether a node came up or went down.
type NodeEventKind int

const (
	// NodeUp: a node was heard from for the first time, or again after
	// it was declared down.
	NodeUp NodeEventKind = iota + 1
	// NodeDown: a node missed its heartbeats, or left with Close.
	NodeDown
)

func (k NodeEventKind) String() string {
	switch k {
	case NodeUp:
		return "NodeUp"
	case NodeDown:
		return "NodeDown"
	}
	return fmt.Sprintf("NodeEventKind(%d)", int(k))
}

// NodeEvent is a change in the membership, as this node sees it.
type NodeEvent struct {
	Kind   NodeEventKind
	Node   string
	Time   time.Time
	Reason error // for NodeDown: why (missed heartbeats, or left), wraps ErrNodeDown
}

// ownerChild is a remote child of this node, seen from the node's inbox.
type ownerChild interface {
	exited(status byte, begun uint64, text string)
	acked(begun uint64)
	nodeDown(node string)
	where() string
}

// Start attaches sys to NATS as the node name: unique among the live
// nodes of its cluster, made of letters, digits, '-' and '_'. Without
// WithURL it starts an embedded NATS server first. ctx bounds starting only:
// the node lives until Close. A System is attached to one node at a time: a
// second Start with it fails with ErrInvalid until that node is closed.
func Start(ctx context.Context, name string, sys *actor.System, opts ...Option) (*Node, error) {
	cfg := config{cluster: "default", interval: DefaultHeartbeat, misses: DefaultMisses}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	switch {
	case ctx == nil:
		return nil, fmt.Errorf("remote: start %q: %w: nil context", name, ErrInvalid)
	case sys == nil:
		return nil, fmt.Errorf("remote: start %q: %w: nil System", name, ErrInvalid)
	case !validName(name):
		return nil, fmt.Errorf("remote: start %q: %w: a node name is 1-128 letters, digits, '-' or '_'", name, ErrInvalid)
	case !validName(cfg.cluster):
		return nil, fmt.Errorf("remote: start %q: %w: cluster name %q", name, ErrInvalid, cfg.cluster)
	case cfg.err != nil:
		return nil, fmt.Errorf("remote: start %q: %w", name, cfg.err)
	case cfg.url != "" && cfg.listen != "":
		return nil, fmt.Errorf("remote: start %q: %w: WithURL and WithListen together (WithListen is for the embedded server)", name, ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("remote: start %q: %w", name, err)
	}
	if err := attach(sys, name); err != nil {
		return nil, fmt.Errorf("remote: start %q: %w", name, err)
	}
	started := false
	defer func() {
		if !started {
			detach(sys)
		}
	}()
	log := cfg.logger
	if log == nil {
		log = sys.Logger()
	}
	log = log.With("node", name)
	n := &Node{
		name: name, id: newID(), prefix: "airssys." + cfg.cluster + ".",
		sys: sys, log: log, interval: cfg.interval, misses: cfg.misses,
		stop: make(chan struct{}), closed: make(chan struct{}),
		members: map[string]*member{}, subs: map[int]*eventSub{}, kinds: map[string]*kind{},
		served: map[string]*served{}, lookups: map[string]*proxyEntry{}, hosted: map[string]*hosted{},
		children: map[string]ownerChild{}, placed: map[string]int{},
	}
	n.inboxSj = n.inboxOf(name)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.stats.init()
	if err := n.connect(ctx, &cfg); err != nil {
		n.shutdownNATS()
		return nil, fmt.Errorf("remote: start %q: %w", name, err)
	}
	if err := n.checkName(ctx); err != nil {
		n.shutdownNATS()
		return nil, fmt.Errorf("remote: start %q: %w", name, err)
	}
	if err := n.subscribe(); err != nil {
		n.shutdownNATS()
		return nil, fmt.Errorf("remote: start %q: %w", name, err)
	}
	n.hostSys = actor.NewSystem(name + "-hosted")
	// What a hosted incarnation leaves queued goes back to its owner's
	// mailbox (see hostedEnded): an Ask waiting on it is not lost.
	n.hostSys.DeadLetters().SetRedelivered(true)
	n.proxySys = actor.NewSystem(name + "-proxies")
	dl := n.sys.DeadLetters()
	n.proxyDL = n.proxySys.DeadLetters().Subscribe(func(d actor.DeadLetter) { dl.Record(d.Target, d.Message, d.Reason) })
	n.hosts = supervisor.New(name+"-hosts", supervisor.OneForOne, supervisor.Temporary,
		supervisor.WithIntensity(1<<30, time.Nanosecond), supervisor.WithLogger(log))
	n.proxies = supervisor.New(name+"-proxies", supervisor.OneForOne, supervisor.Temporary,
		supervisor.WithIntensity(1<<30, time.Nanosecond), supervisor.WithLogger(log))
	if err := n.hosts.Start(context.Background()); err != nil {
		n.shutdownNATS()
		return nil, fmt.Errorf("remote: start %q: %w", name, err)
	}
	if err := n.proxies.Start(context.Background()); err != nil {
		_ = n.hosts.Stop()
		n.shutdownNATS()
		return nil, fmt.Errorf("remote: start %q: %w", name, err)
	}
	installPort()
	n.heartbeat(false)
	n.loops.Add(1)
	go n.heartbeatLoop()
	log.Debug("node started", "id", n.id, "cluster", cfg.cluster)
	started = true
	return n, nil
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (n *Node) inboxOf(node string) string { return n.prefix + "n." + node }

// connect starts the embedded server if there is no URL, then connects.
func (n *Node) connect(ctx context.Context, cfg *config) error {
	nopts := []nats.Option{
		nats.Name("airssys:" + n.name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50 * time.Millisecond),
		nats.ErrorHandler(n.natsError),
	}
	url := cfg.url
	if url == "" {
		sopts := &server.Options{
			ServerName: "airssys-" + n.name,
			NoSigs:     true,
			NoLog:      false,
			DontListen: cfg.listen == "",
			MaxPayload: cfg.maxPayload,
		}
		if cfg.listen != "" {
			host, port, err := listenAddr(cfg.listen)
			if err != nil {
				return err
			}
			sopts.Host, sopts.Port = host, port
			if port == 0 {
				sopts.Port = server.RANDOM_PORT
			}
		}
		srv, err := server.NewServer(sopts)
		if err != nil {
			return fmt.Errorf("embedded NATS server: %w", err)
		}
		srv.SetLogger(natsLogger{n.log.With("component", "nats-server")}, false, false)
		n.srv = srv
		srv.Start()
		wait := 5 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			wait = time.Until(dl)
		}
		if !srv.ReadyForConnections(wait) {
			return errors.New("embedded NATS server not ready")
		}
		nopts = append(nopts, nats.InProcessServer(srv))
		url = nats.DefaultURL
	}
	nopts = append(nopts, cfg.natsOpts...)
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		return fmt.Errorf("connecting to NATS: %w", err)
	}
	n.nc = nc
	n.maxPay = int(nc.MaxPayload())
	return nil
}

// checkName asks whoever holds the name's inbox to answer: a live node of
// that name makes this Start fail. No subscriber means the name is free.
// A subscriber that does not answer is either a node that just left (its
// interest still in flight between servers) or one that is as good as
// down: asking again for up to the heartbeat window tells them apart.
func (n *Node) checkName(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.window())
	defer cancel()
	for {
		actx, acancel := context.WithTimeout(ctx, n.interval)
		msg, err := n.nc.RequestWithContext(actx, n.inboxSj, []byte{tPing})
		acancel()
		switch {
		case err == nil:
			return fmt.Errorf("%w: a live node %q answers (id %s)", ErrNameTaken, n.name, msg.Data)
		case errors.Is(err, nats.ErrNoResponders):
			return nil
		case !errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("checking the name: %w", err)
		case ctx.Err() != nil:
			// Silent for the whole window: whoever it was is down.
			n.log.Warn("a subscriber of this node's name did not answer for the heartbeat window; taking the name")
			return nil
		}
	}
}

func (n *Node) subscribe() error {
	var err error
	if n.inbox, err = n.nc.Subscribe(n.inboxSj, n.onInbox); err != nil {
		return err
	}
	if n.hbSub, err = n.nc.Subscribe(n.prefix+"hb", n.onHeartbeat); err != nil {
		return err
	}
	// Neither Unsubscribe nor the connection's Close waits for a callback
	// under way: without this, one (a Decode of the user's codec, a
	// heartbeat's NodeEvent) would go on after Close returned.
	n.handlersDone = make(chan struct{}, 2)
	for _, s := range []*nats.Subscription{n.inbox, n.hbSub} {
		s.SetClosedHandler(func(string) { n.handlersDone <- struct{}{} })
	}
	// Generous pending limits: a node that falls behind loses messages
	// (NATS' slow consumer), which is counted, never silent.
	for _, s := range []*nats.Subscription{n.inbox, n.hbSub} {
		if err := s.SetPendingLimits(1<<20, 256<<20); err != nil {
			return err
		}
	}
	return n.nc.Flush()
}

// window is how long a silent node takes to be declared down.
func (n *Node) window() time.Duration { return n.interval * time.Duration(n.misses) }

// Name returns the node's name.
func (n *Node) Name() string { return n.name }

// System returns the actor System the node serves.
func (n *Node) System() *actor.System { return n.sys }

// Conn returns the node's NATS connection, for programs that also use NATS
// directly. Closing it breaks the node.
func (n *Node) Conn() *nats.Conn { return n.nc }

// ClientURL returns the URL other processes connect to when the node runs
// an embedded server with WithListen ("" otherwise).
func (n *Node) ClientURL() string {
	if n.srv == nil || n.srv.Addr() == nil {
		return ""
	}
	return n.srv.ClientURL()
}

// Nodes returns the live members other than this node, sorted by name, with
// their latest heartbeat.
func (n *Node) Nodes() []NodeInfo {
	var out []NodeInfo
	for _, m := range n.Members() {
		if m.Up {
			out = append(out, m)
		}
	}
	return out
}

// Members returns every node ever heard from, up or down, sorted by name.
func (n *Node) Members() []NodeInfo {
	n.mu.Lock()
	out := make([]NodeInfo, 0, len(n.members))
	for _, m := range n.members {
		info := m.info
		info.Kinds = append([]string(nil), m.info.Kinds...)
		out = append(out, info)
	}
	n.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Subscribe calls fn for every later NodeUp and NodeDown, in order, on a
// goroutine of the subscription's own (a slow fn delays no heartbeat).
// cancel stops it; events not yet delivered are dropped.
func (n *Node) Subscribe(fn func(NodeEvent)) (cancel func()) {
	if fn == nil {
		return func() {}
	}
	s := &eventSub{fn: fn}
	n.mu.Lock()
	id := n.nextSub
	n.nextSub++
	n.subs[id] = s
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		delete(n.subs, id)
		n.mu.Unlock()
		s.cancel()
	}
}

// emitLocked queues ev for every subscriber; n.mu is held, which keeps the
// events in order.
func (n *Node) emitLocked(ev NodeEvent) {
	level := slog.LevelInfo
	if ev.Kind == NodeDown {
		level = slog.LevelWarn
	}
	if ev.Reason == nil {
		n.log.Log(context.Background(), level, ev.Kind.String(), "peer", ev.Node)
	} else {
		n.log.Log(context.Background(), level, ev.Kind.String(), "peer", ev.Node, "reason", ev.Reason)
	}
	for _, s := range n.subs {
		s.push(ev)
	}
}

// eventSub delivers events on a goroutine that exists only while there are
// some to deliver.
type eventSub struct {
	fn        func(NodeEvent)
	mu        sync.Mutex
	q         []NodeEvent
	running   bool
	cancelled bool
}

func (s *eventSub) push(ev NodeEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancelled {
		return
	}
	s.q = append(s.q, ev)
	if !s.running {
		s.running = true
		go s.deliver()
	}
}

func (s *eventSub) deliver() {
	for {
		s.mu.Lock()
		if len(s.q) == 0 || s.cancelled {
			s.q, s.running = nil, false
			s.mu.Unlock()
			return
		}
		ev := s.q[0]
		s.q = s.q[1:]
		s.mu.Unlock()
		func() {
			defer func() { _ = recover() }()
			s.fn(ev)
		}()
	}
}

func (s *eventSub) cancel() {
	s.mu.Lock()
	s.cancelled = true
	s.q = nil
	s.mu.Unlock()
}

// Close leaves the cluster: peers see NodeDown at once. The incarnations
// it hosts for others stop, Lookup refs it made stop for good (their Err
// wrapping ErrClosed), and its NATS connection (and embedded server)
// close. ctx bounds the wait for all that. Close is idempotent, and every
// call on the node made during or after it fails with ErrClosed.
//
// Remote children of this node still running (Close before the System's
// Shutdown, the natural defer order) are detached, not crashed: they stay
// under their supervisors, which see no exit and restart nothing, until
// the System shuts them down as usual. Their remote incarnations stop (the
// peers fence them); messages in flight, and every message sent to them
// after Close, are dead letters wrapping ErrClosed. Shutting the System
// down first instead stops them in order, telling their nodes, and their
// unbegun messages go back to their mailboxes as for any stop.
//
// Close ends every Subscribe: events not delivered yet are dropped, and no
// fn begins after Close returns; a fn under way may complete, and may call
// Close itself.
func (n *Node) Close(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	n.closeMu.Lock()
	if n.closing.Load() {
		n.closeMu.Unlock()
		select {
		case <-n.closed:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("remote: node %q: close: %w", n.name, ctx.Err())
		}
	}
	n.closing.Store(true)
	n.closeMu.Unlock()

	done := make(chan struct{})
	go func() {
		defer close(done)
		// The heartbeat loop ends before the leave goes: a heartbeat
		// after it (a tick while the leave is flushed) would make the
		// peers see this node up again until the window passed.
		close(n.stop)
		n.cancel()
		n.loops.Wait()
		n.heartbeat(true) // the leave
		_ = n.nc.FlushTimeout(n.window())
		cause := fmt.Errorf("remote: node %q: %w", n.name, ErrClosed)
		n.mu.Lock()
		kids := make([]ownerChild, 0, len(n.children))
		for _, c := range n.children {
			kids = append(kids, c)
		}
		n.mu.Unlock()
		for _, c := range kids {
			c.nodeDown("") // "" : everything, because this node is going
		}
		failPending(n, "", cause)
		standIns := n.stopStandIns(cause)
		n.workMu.Lock()
		n.workShut = true
		n.workMu.Unlock()
		n.work.Wait()
		_ = n.hosts.Stop()
		awaitStandIns(standIns, n.window())
		_ = n.proxies.Stop()
		_ = n.hostSys.Shutdown(context.Background())
		_ = n.proxySys.Shutdown(context.Background())
		n.proxyDL()
		_ = n.inbox.Unsubscribe()
		_ = n.hbSub.Unsubscribe()
		n.shutdownNATS()
		// The callbacks under way end before anything else does: after
		// this no heartbeat emits an event, and nothing from a peer
		// reaches an actor, a codec or the dead letters.
		<-n.handlersDone
		<-n.handlersDone
		// Every Subscribe ends, as at its cancel: no fn begins after Close
		// returns. Waiting for one under way instead would deadlock a fn
		// that calls Close itself (a node that leaves when another goes
		// down).
		n.mu.Lock()
		for _, s := range n.subs {
			s.cancel()
		}
		n.mu.Unlock()
		n.unserveAll()
		detach(n.sys)
		close(n.closed)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("remote: node %q: close: %w", n.name, ctx.Err())
	}
}

// stopStandIns is Close's end of the Lookup refs: each is told to stop for
// good with cause (as one stops with ErrNodeDown when its node goes down),
// so that its Err says why rather than only that the stand-ins' supervisor
// stopped. It returns them for awaitStandIns.
func (n *Node) stopStandIns(cause error) []*proxyEntry {
	n.mu.Lock()
	entries := make([]*proxyEntry, 0, len(n.lookups))
	for key, e := range n.lookups {
		entries = append(entries, e)
		delete(n.lookups, key)
	}
	n.mu.Unlock()
	for _, e := range entries {
		e.stop(cause)
	}
	return entries
}

// awaitStandIns waits, up to limit in all, for the stand-ins stopStandIns
// stopped to end: one still in its Receive (a codec's Encode) when the
// limit passes is left to the proxies supervisor's Stop and its shutdown
// policy.
func awaitStandIns(entries []*proxyEntry, limit time.Duration) {
	if len(entries) == 0 {
		return
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	for _, e := range entries {
		select {
		case <-e.done():
		case <-t.C:
			return
		}
	}
}

func (n *Node) shutdownNATS() {
	n.cancel()
	if n.nc != nil {
		n.nc.Close()
	}
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}

// natsError counts what the connection reports asynchronously, above all
// slow consumers (messages NATS dropped because this node fell behind).
func (n *Node) natsError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) {
		dropped := 0
		if sub != nil {
			d, _ := sub.Dropped()
			dropped = d
		}
		n.stats.deadLetter("slow_consumer")
		n.log.Error("NATS dropped messages: this node falls behind (slow consumer)", "dropped_total", dropped)
		return
	}
	n.log.Error("NATS error", "err", err)
}

// natsLogger sends the embedded server's logs to slog; Fatalf is logged as
// an error and exits nothing.
type natsLogger struct{ l *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any)   { l.l.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Errorf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Tracef(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }
