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
	beats := watchBeats(t, nc.URL(0), "a")
	sys := quietSystem(t)
	gate := &readGate{}
	a, err := Start(ctx, "a", sys, WithURL(nc.URL(0)), WithHeartbeat(20*time.Millisecond, 10),
		WithLogger(slog.New(slog.DiscardHandler)), WithNATSOptions(nats.SetCustomDialer(gate)))
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
	if after := beatsAfterLeave(t, beats, a.id); after > 0 {
		t.Fatalf("%d heartbeats after the leave: peers see the node up again", after)
	}
}

// The same for every other heartbeat, which Register sends too: one that
// passed Register's check of closing before Close began, and published
// after the leave, made the peers see the node up again. heartbeat itself
// now publishes nothing once the leave has gone.
func TestRegressionNoHeartbeatAfterTheLeaveFromElsewhere(t *testing.T) {
	ctx := context.Background()
	nc := natstest.Start(t, 1)
	beats := watchBeats(t, nc.URL(0), "a")
	a, err := Start(ctx, "a", quietSystem(t), WithURL(nc.URL(0)), WithHeartbeat(time.Hour, 4),
		WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close(ctx) }()
	a.heartbeat(true)  // Close's leave
	a.heartbeat(false) // Register's, late
	if err := a.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if after := beatsAfterLeave(t, beats, a.id); after > 0 {
		t.Fatalf("%d heartbeats after the leave: peers see the node up again", after)
	}
}

func quietSystem(t *testing.T) *actor.System {
	t.Helper()
	sys := actor.NewSystem("s", actor.WithSystemLogger(slog.New(slog.DiscardHandler)))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Shutdown(context.Background()) })
	return sys
}

// beat is a heartbeat as watchBeats hears it.
type beat struct {
	id      string
	leaving bool
}

// watchBeats hears node's heartbeats in the default cluster through a
// connection of its own to url.
func watchBeats(t *testing.T, url, node string) <-chan beat {
	t.Helper()
	watch, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(watch.Close)
	beats := make(chan beat, 1024)
	if _, err := watch.Subscribe("airssys.default.hb", func(m *nats.Msg) {
		r := reader{b: m.Data}
		name, id, flags := r.str(), r.str(), r.byte()
		if r.err == nil && name == node {
			beats <- beat{id, flags&hbLeaving != 0}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	return beats
}

// beatsAfterLeave waits for the leave of incarnation id and counts its
// heartbeats heard after it. What a node publishes after its leave goes
// out on the same connection right behind it: half a second is plenty to
// hear it.
func beatsAfterLeave(t *testing.T, beats <-chan beat, id string) int {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for left := false; !left; {
		select {
		case b := <-beats:
			left = b.leaving && b.id == id
		case <-timeout:
			t.Fatal("no leave heard")
		}
	}
	after := 0
	quietFor := time.After(500 * time.Millisecond)
	for {
		select {
		case b := <-beats:
			if b.id == id {
				after++
			}
		case <-quietFor:
			return after
		}
	}
}
