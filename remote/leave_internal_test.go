package remote

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/internal/natstest"
)

// readGate is a NATS dialer whose connections stop handing over what they
// read while the gate is shut: writes go on, so a Flush waits for a PONG
// that does not come.
type readGate struct {
	mu   sync.Mutex
	shut chan struct{} // nil while open
}

func (g *readGate) Dial(network, address string) (net.Conn, error) {
	c, err := net.Dial(network, address)
	if err != nil {
		return nil, err
	}
	return &gatedConn{Conn: c, g: g, closed: make(chan struct{})}, nil
}

func (g *readGate) close() {
	g.mu.Lock()
	g.shut = make(chan struct{})
	g.mu.Unlock()
}

func (g *readGate) open() {
	g.mu.Lock()
	if g.shut != nil {
		close(g.shut)
		g.shut = nil
	}
	g.mu.Unlock()
}

type gatedConn struct {
	net.Conn
	g         *readGate
	closeOnce sync.Once
	closed    chan struct{}
}

func (c *gatedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.g.mu.Lock()
	shut := c.g.shut
	c.g.mu.Unlock()
	if shut != nil {
		select {
		case <-shut:
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
	return n, err
}

func (c *gatedConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// Close published its leave, then flushed, and only then stopped the
// heartbeat loop: a tick during the flush published an ordinary heartbeat
// after the leave, and the peers, which had seen the node leave
// (NodeDown), saw it up again (NodeUp) until its heartbeats stopped for
// the window (a second NodeDown). Here the flush waits (reads are held, so
// its PONG does not come) long enough for the loop to tick; Close now ends
// the loop before the leave, so nothing follows it.
func TestRegressionNoHeartbeatAfterTheLeave(t *testing.T) {
	ctx := context.Background()
	nc := natstest.Start(t, 1)
	quiet := slog.New(slog.DiscardHandler)
	sys := actor.NewSystem("s", actor.WithSystemLogger(quiet))
	if err := sys.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sys.Shutdown(ctx) }()

	watch, err := nats.Connect(nc.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	type beat struct {
		id      string
		leaving bool
	}
	beats := make(chan beat, 1024)
	if _, err := watch.Subscribe("airssys.default.hb", func(m *nats.Msg) {
		r := reader{b: m.Data}
		name, id, flags := r.str(), r.str(), r.byte()
		if r.err == nil && name == "a" {
			beats <- beat{id, flags&hbLeaving != 0}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}

	gate := &readGate{}
	const interval = 20 * time.Millisecond
	a, err := Start(ctx, "a", sys, WithURL(nc.URL(0)), WithHeartbeat(interval, 10), WithLogger(quiet),
		WithNATSOptions(nats.SetCustomDialer(gate)))
	if err != nil {
		t.Fatal(err)
	}
	defer gate.open()
	gate.close() // Close's flush now waits its whole timeout, the window (200 ms)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.Close(cctx); err != nil {
		t.Fatal(err)
	}
	left := false
	after := 0
	timeout := time.After(10 * time.Second)
	for !left {
		select {
		case b := <-beats:
			left = b.leaving && b.id == a.id
		case <-timeout:
			t.Fatal("no leave heard")
		}
	}
	// What a published after its leave went out on the same connection
	// right behind it: a little while is plenty to hear it.
	quietFor := time.After(500 * time.Millisecond)
	for done := false; !done; {
		select {
		case b := <-beats:
			if b.id == a.id {
				after++
			}
		case <-quietFor:
			done = true
		}
	}
	if after > 0 {
		t.Fatalf("%d heartbeats after the leave: peers see the node up again", after)
	}
}
