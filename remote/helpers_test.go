package remote_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/goleak"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/remote"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Test heartbeats: fast, so that failure detection takes 400 ms.
const (
	hbInterval = 100 * time.Millisecond
	hbMisses   = 4
	window     = hbInterval * hbMisses
)

// startServer starts a NATS server on a random loopback port, in the
// cluster "t" with routes to the given addresses.
func startServer(t *testing.T, name string, routes ...string) *server.Server {
	t.Helper()
	opts := &server.Options{
		ServerName: name, Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		Cluster: server.ClusterOpts{Name: "t", Host: "127.0.0.1", Port: -1, NoAdvertise: true},
	}
	for _, r := range routes {
		u, err := url.Parse("nats://" + r)
		if err != nil {
			t.Fatal(err)
		}
		opts.Routes = append(opts.Routes, u)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

// waitRoutes waits until every server has at least want routes.
func waitRoutes(t *testing.T, want int, srvs ...*server.Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range srvs {
		for s.NumRoutes() < want {
			if time.Now().After(deadline) {
				t.Fatalf("server %s has %d routes, want %d", s.Name(), s.NumRoutes(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// cluster is three routed servers, A, B and C, with a node on each.
type cluster struct {
	srvs  []*server.Server
	nodes []*remote.Node
	syss  []*actor.System
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	a := startServer(t, "A")
	b := startServer(t, "B", a.ClusterAddr().String())
	c := startServer(t, "C", a.ClusterAddr().String(), b.ClusterAddr().String())
	waitRoutes(t, 2, a, b, c)
	cl := &cluster{srvs: []*server.Server{a, b, c}}
	for i, name := range []string{"a", "b", "c"} {
		cl.syss = append(cl.syss, startSystem(t, "sys-"+name))
		cl.nodes = append(cl.nodes, startNode(t, name, cl.syss[i], remote.WithURL(cl.srvs[i].ClientURL())))
	}
	cl.waitMembers(t)
	return cl
}

// waitMembers waits until every node sees every other up.
func (cl *cluster) waitMembers(t *testing.T) {
	t.Helper()
	waitFor(t, 10*time.Second, "full membership", func() bool {
		for _, n := range cl.nodes {
			if len(n.Nodes()) != len(cl.nodes)-1 {
				return false
			}
		}
		return true
	})
}

// quiet discards logs: failure tests make the runtime complain, as it
// should. Set REMOTE_TEST_LOGS=1 to see them.
var quiet = func() *slog.Logger {
	if os.Getenv("REMOTE_TEST_LOGS") != "" {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}()

func startSystem(t *testing.T, name string) *actor.System {
	t.Helper()
	sys := actor.NewSystem(name, actor.WithSystemLogger(quiet))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Shutdown(context.Background()) })
	return sys
}

func startNode(t *testing.T, name string, sys *actor.System, opts ...remote.Option) *remote.Node {
	t.Helper()
	opts = append([]remote.Option{remote.WithHeartbeat(hbInterval, hbMisses)}, opts...)
	n, err := remote.Start(context.Background(), name, sys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// The tree first, so that remote children stop in order while
		// the node can still reach their nodes.
		_ = sys.Shutdown(ctx)
		if err := n.Close(ctx); err != nil {
			t.Errorf("close %s: %v", name, err)
		}
	})
	return n
}

// waitFor polls cond, for conditions no event announces (membership
// tables). It fails the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// events records a node's membership events and lets a test wait for one.
type events struct {
	mu  sync.Mutex
	evs []remote.NodeEvent
	ch  chan struct{}
}

func watchEvents(t *testing.T, n *remote.Node) *events {
	e := &events{ch: make(chan struct{}, 1)}
	cancel := n.Subscribe(func(ev remote.NodeEvent) {
		e.mu.Lock()
		e.evs = append(e.evs, ev)
		e.mu.Unlock()
		select {
		case e.ch <- struct{}{}:
		default:
		}
	})
	t.Cleanup(cancel)
	return e
}

// wait returns the first event of kind about node, waiting up to d.
func (e *events) wait(t *testing.T, kind remote.NodeEventKind, node string, d time.Duration) remote.NodeEvent {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		e.mu.Lock()
		for _, ev := range e.evs {
			if ev.Kind == kind && ev.Node == node {
				e.mu.Unlock()
				return ev
			}
		}
		e.mu.Unlock()
		select {
		case <-e.ch:
		case <-timer.C:
			t.Fatalf("no %v for %q within %v", kind, node, d)
		}
	}
}

func (e *events) count(kind remote.NodeEventKind, node string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := 0
	for _, ev := range e.evs {
		if ev.Kind == kind && ev.Node == node {
			c++
		}
	}
	return c
}

// deadLetters collects a System's dead letters.
type deadLetters struct {
	mu  sync.Mutex
	got []actor.DeadLetter
	ch  chan struct{}
}

func collectDead(t *testing.T, sys *actor.System) *deadLetters {
	d := &deadLetters{ch: make(chan struct{}, 1)}
	cancel := sys.DeadLetters().Subscribe(func(dl actor.DeadLetter) {
		d.mu.Lock()
		d.got = append(d.got, dl)
		d.mu.Unlock()
		select {
		case d.ch <- struct{}{}:
		default:
		}
	})
	t.Cleanup(cancel)
	return d
}

// waitMatching waits until n dead letters whose reason wraps target have
// arrived, and returns them.
func (d *deadLetters) waitMatching(t *testing.T, target error, n int, timeout time.Duration) []actor.DeadLetter {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		d.mu.Lock()
		var out []actor.DeadLetter
		for _, dl := range d.got {
			if target == nil || errors.Is(dl.Reason, target) {
				out = append(out, dl)
			}
		}
		d.mu.Unlock()
		if len(out) >= n {
			return out
		}
		select {
		case <-d.ch:
		case <-timer.C:
			t.Fatalf("got %d dead letters wrapping %v, want %d: %v", len(out), target, n, out)
		}
	}
}

// link is a TCP proxy that can freeze: stop forwarding without closing,
// as a silent network partition does.
type link struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	gate   chan struct{} // closed while the link forwards
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newLink(t *testing.T, target string) *link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{ln: ln, target: target, gate: make(chan struct{})}
	close(l.gate)
	l.wg.Add(1)
	go l.accept()
	t.Cleanup(l.close)
	return l
}

func (l *link) addr() string { return l.ln.Addr().String() }

func (l *link) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		d, err := net.Dial("tcp", l.target)
		if err != nil {
			c.Close()
			continue
		}
		l.mu.Lock()
		l.conns = append(l.conns, c, d)
		l.mu.Unlock()
		l.wg.Add(2)
		go l.pipe(c, d)
		go l.pipe(d, c)
	}
}

func (l *link) open() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gate
}

func (l *link) pipe(src, dst net.Conn) {
	defer l.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		<-l.open()
		k, err := src.Read(buf)
		if k > 0 {
			<-l.open()
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				_ = err
			}
			dst.Close()
			return
		}
	}
}

// freeze stops forwarding in both directions; connections stay open.
func (l *link) freeze() {
	l.mu.Lock()
	l.gate = make(chan struct{})
	l.mu.Unlock()
}

// heal resumes forwarding.
func (l *link) heal() {
	l.mu.Lock()
	select {
	case <-l.gate:
	default:
		close(l.gate)
	}
	l.mu.Unlock()
}

func (l *link) close() {
	l.heal()
	l.ln.Close()
	l.mu.Lock()
	for _, c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var _ = fmt.Sprintf
