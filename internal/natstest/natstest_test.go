package natstest_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/airssys/rt/internal/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit only fails a test whose cluster is really broken.
const waitLimit = 20 * time.Second

// quiet is how long a test watches for a message that must not arrive. A
// correct kit never delivers it, so the wait cannot make the test flaky; it
// only bounds how long a broken proxy has to show itself.
const quiet = 200 * time.Millisecond

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.NoReconnect())
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func subscribe(t *testing.T, nc *nats.Conn, subject string) *nats.Subscription {
	t.Helper()
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatalf("subscribe %s: %v", subject, err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	return sub
}

func publish(t *testing.T, nc *nats.Conn, subject, data string) {
	t.Helper()
	if err := nc.Publish(subject, []byte(data)); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func expect(t *testing.T, sub *nats.Subscription, want string) {
	t.Helper()
	msg, err := sub.NextMsg(waitLimit)
	if err != nil {
		t.Fatalf("waiting for %q: %v", want, err)
	}
	if string(msg.Data) != want {
		t.Fatalf("got %q, want %q", msg.Data, want)
	}
}

func expectNothing(t *testing.T, sub *nats.Subscription) {
	t.Helper()
	if msg, err := sub.NextMsg(quiet); err == nil {
		t.Fatalf("got %q across a frozen route", msg.Data)
	}
}

func TestMessageCrossesTheMesh(t *testing.T) {
	c := natstest.Start(t, 3)
	if !c.Meshed() {
		t.Fatal("Start returned before the mesh was complete")
	}
	for from := range 3 {
		for to := range 3 {
			pub, sub := connect(t, c.URL(from)), connect(t, c.URL(to))
			s := subscribe(t, sub, "hop")
			c.WaitInterest(from, "hop")
			publish(t, pub, "hop", "hello")
			expect(t, s, "hello")
			s.Unsubscribe()
		}
	}
}

func TestURLsFailOver(t *testing.T) {
	c := natstest.Start(t, 2)
	nc, err := nats.Connect(c.URLs(), nats.DontRandomize(), nats.ReconnectWait(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if got := nc.ConnectedUrl(); got != c.URL(0) {
		t.Fatalf("connected to %s, want the first URL %s", got, c.URL(0))
	}
	reconnected := make(chan struct{}, 1)
	nc.SetReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} })
	c.Shutdown(0)
	select {
	case <-reconnected:
	case <-time.After(waitLimit):
		t.Fatal("no reconnect to the second server")
	}
	if got := nc.ConnectedUrl(); got != c.URL(1) {
		t.Fatalf("reconnected to %s, want %s", got, c.URL(1))
	}
}

func TestShutdownOneServer(t *testing.T) {
	c := natstest.Start(t, 3)
	victim := connect(t, c.URL(2))
	lost := make(chan struct{}, 1)
	victim.SetDisconnectErrHandler(func(*nats.Conn, error) { lost <- struct{}{} })

	c.Shutdown(2)
	c.Shutdown(2) // idempotent
	if c.Running(2) || !c.Running(0) {
		t.Fatal("Running does not reflect the shutdown")
	}
	select {
	case <-lost:
	case <-time.After(waitLimit):
		t.Fatal("a client of the stopped server kept its connection")
	}
	c.WaitMesh() // the survivors dropped their routes to s2
	pub, sub := connect(t, c.URL(0)), connect(t, c.URL(1))
	s := subscribe(t, sub, "after")
	c.WaitInterest(0, "after")
	publish(t, pub, "after", "still here")
	expect(t, s, "still here")
}

func TestFrozenProxyStopsTheRouteAndHealRestoresIt(t *testing.T) {
	c := natstest.Start(t, 3, natstest.WithProxy(0, 1))
	p := c.Proxy(1, 0)
	pub, sub, third := connect(t, c.URL(0)), connect(t, c.URL(1)), connect(t, c.URL(2))
	s := subscribe(t, sub, "x")
	c.WaitInterest(0, "x")
	c.WaitInterest(2, "x")
	publish(t, pub, "x", "before")
	expect(t, s, "before")

	p.Freeze()
	if !p.Frozen() {
		t.Fatal("Frozen is false after Freeze")
	}
	publish(t, pub, "x", "during") // held by the proxy
	expectNothing(t, s)
	// s2's routes do not go through the proxy: it still reaches s1.
	publish(t, third, "x", "via s2")
	expect(t, s, "via s2")

	// NATS notices the silent route only by its pings; the route then goes,
	// which proves the proxy is its only path (a direct route would stay).
	deadline := time.Now().Add(waitLimit)
	for c.Meshed() {
		if time.Now().After(deadline) {
			t.Fatal("the route between s0 and s1 survived a frozen proxy")
		}
		time.Sleep(10 * time.Millisecond)
	}

	p.Heal()
	p.Heal() // idempotent
	c.WaitMesh()
	c.WaitInterest(0, "x")
	// "during" was held on a route NATS has since dropped: it may or may
	// not arrive, as over a real link. Only what follows must.
	publish(t, pub, "x", "after")
	for {
		msg, err := s.NextMsg(waitLimit)
		if err != nil {
			t.Fatalf("nothing after heal: %v", err)
		}
		if string(msg.Data) == "after" {
			break
		}
		if string(msg.Data) != "during" {
			t.Fatalf("unexpected %q", msg.Data)
		}
	}
}

// echo starts a TCP echo server on loopback, closed with the test.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(conn, conn); conn.Close() }()
		}
	}()
	return ln.Addr().String()
}

func TestProxyHoldsBytesWhileFrozen(t *testing.T) {
	p := natstest.NewProxy(t, echo(t))
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	roundTrip := func(line string) {
		t.Helper()
		if _, err := io.WriteString(conn, line); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(waitLimit))
		got, err := r.ReadString('\n')
		if err != nil || got != line {
			t.Fatalf("echo of %q: %q, %v", line, got, err)
		}
	}
	roundTrip("one\n")

	p.Freeze()
	if _, err := io.WriteString(conn, "two\n"); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(quiet))
	if got, err := r.ReadString('\n'); err == nil {
		t.Fatalf("read %q through a frozen proxy", got)
	}
	p.Heal()
	conn.SetReadDeadline(time.Now().Add(waitLimit))
	if got, err := r.ReadString('\n'); err != nil || got != "two\n" {
		t.Fatalf("after heal: %q, %v; want the held %q", got, err, "two\n")
	}
	roundTrip("three\n")
}

func TestProxyFrozenBeforeConnectHoldsTheConnection(t *testing.T) {
	p := natstest.NewProxy(t, echo(t))
	p.Freeze()
	conn, err := net.Dial("tcp", p.Addr()) // accepted, not forwarded
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "held\n")
	conn.SetReadDeadline(time.Now().Add(quiet))
	if _, err := conn.Read(make([]byte, 8)); err == nil {
		t.Fatal("read through a frozen proxy")
	}
	p.Heal()
	conn.SetReadDeadline(time.Now().Add(waitLimit))
	got, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || got != "held\n" {
		t.Fatalf("after heal: %q, %v", got, err)
	}
}

func TestProxyCloseWhileFrozen(t *testing.T) {
	p := natstest.NewProxy(t, echo(t))
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "x\n")
	p.Freeze()
	io.WriteString(conn, "y\n")
	p.Close() // must not wait for a heal
	p.Close() // idempotent
	conn.SetReadDeadline(time.Now().Add(waitLimit))
	// EOF, or a reset when the proxy had unread bytes: either way the
	// connection ends, rather than hanging until the deadline.
	if _, err := io.ReadAll(conn); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after Close the client should see its connection end, got %v", err)
	}
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Fatal("a closed proxy still accepts")
	}
}

func TestServerOptionsAndLogs(t *testing.T) {
	// WithLogs sends the servers' notices to t.Log (see -v); the subtest
	// ends, and its servers stop, before the parent looks at them, which
	// must not make a late log line panic.
	var c *natstest.Cluster
	t.Run("cluster", func(t *testing.T) {
		c = natstest.Start(t, 2, natstest.WithLogs(), natstest.WithServerOptions(func(i int, o *server.Options) {
			o.MaxPayload = int32(1024 * (i + 1))
		}))
		for i, want := range []int64{1024, 2048} {
			nc := connect(t, c.URL(i))
			if got := nc.MaxPayload(); got != want {
				t.Errorf("s%d max payload %d, want %d", i, got, want)
			}
		}
	})
	if c.Running(0) || c.Running(1) {
		t.Error("servers still running after their test ended")
	}
}
