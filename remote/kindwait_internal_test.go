package remote

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/internal/natstest"
	"github.com/airssys/rt/supervisor"
)

// Spawn On(x) right after x started used to fail with ErrUnknownKind:
// x's first heartbeat (sent by Start, before x could register anything)
// made it a known, live member with no kinds, and its kinds came only with
// the heartbeat of its Register, a moment later. Spawn On waited for a node
// not heard from yet, but not for the kinds of one just heard. Now a
// node's heartbeats say whether its kinds are settled (its first interval
// is over): until then a Spawn On it waits for a kind it does not see yet,
// within its patience; after, a kind it lacks fails at once.
//
// The test watches the spawn wait (the node's change channel exists only
// while awaitKind waits) before b registers, so the order is certain, not
// hoped for; b's heartbeat interval is long, so that b's kinds stay
// unsettled throughout.
func TestRegressionSpawnOnWaitsForTheKindsOfANewNode(t *testing.T) {
	nc := natstest.Start(t, 2)
	long := WithHeartbeat(5*time.Second, 4)
	a, sup := echoHost(t, nc.URL(0), long)
	defer sup.Stop() // before the nodes close (Cleanup): its children stop in order

	// Once a node's kinds are settled, a kind it lacks fails at once, not
	// after the patience (half the start timeout: 30 s here). (Hearing c,
	// on the other server, also tells that a's interest in heartbeats has
	// crossed the route: b's first one, below, will not be dropped.)
	c := kindNode(t, "c", WithURL(nc.URL(1)), WithHeartbeat(50*time.Millisecond, 4))
	if err := Register(c, "other", echoKind(nil), JSON[string]{}); err != nil {
		t.Fatal(err)
	}
	until(t, "a hears c's kinds settled", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		m := a.members["c"]
		return m != nil && m.info.Up && m.settled
	})
	_, err := Spawn[string](sup, a, "x", "echo", On("c"), actor.WithStartTimeout(60*time.Second))
	if !errors.Is(err, ErrUnknownKind) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Spawn On a settled node without the kind = %v, want ErrUnknownKind at once", err)
	}

	b := kindNode(t, "b", WithURL(nc.URL(1)), long)
	until(t, "a hears b", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		m := a.members["b"]
		return m != nil && m.info.Up && !m.settled
	})
	spawned := make(chan error, 1)
	go func() {
		_, err := Spawn[string](sup, a, "w", "echo", On("b"), actor.WithStartTimeout(60*time.Second))
		spawned <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-spawned:
			t.Fatalf("Spawn On a node whose kinds were still arriving returned before it registered the kind: %v", err)
		default:
		}
		a.mu.Lock()
		waiting := a.changed != nil
		a.mu.Unlock()
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Spawn neither waits nor returns")
		}
		time.Sleep(time.Millisecond)
	}
	ran := make(chan struct{}, 1)
	if err := Register(b, "echo", echoKind(ran), JSON[string]{}); err != nil {
		t.Fatal(err)
	}
	if err := <-spawned; err != nil {
		t.Fatalf("Spawn On a node that registered the kind while it waited: %v", err)
	}
	<-ran // the incarnation runs on b
}

// echoHost starts node "a" on url with opts, the echo kind registered,
// and a running supervisor for the children the test spawns from it. The
// caller stops the supervisor (defer sup.Stop()) before the nodes close
// (their Cleanups), so that its children stop in order.
func echoHost(t *testing.T, url string, opts ...Option) (*Node, *supervisor.Supervisor) {
	t.Helper()
	a := kindNode(t, "a", append([]Option{WithURL(url)}, opts...)...)
	if err := Register(a, "echo", echoKind(nil), JSON[string]{}); err != nil {
		t.Fatal(err)
	}
	sup := supervisor.New("sup", supervisor.OneForOne, supervisor.Permanent, supervisor.WithLogger(slog.New(slog.DiscardHandler)))
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a, sup
}

// kindNode starts a node with a System of its own, both stopped at cleanup.
func kindNode(t *testing.T, name string, opts ...Option) *Node {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	sys := actor.NewSystem("sys-"+name, actor.WithSystemLogger(quiet))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Shutdown(context.Background()) })
	n, err := Start(context.Background(), name, sys, append(opts, WithLogger(quiet))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close(context.Background()) })
	return n
}

// echoKind makes actors that ignore their messages; each signals ran, if
// not nil, when it is made.
func echoKind(ran chan<- struct{}) func() actor.Actor[string] {
	return func() actor.Actor[string] {
		if ran != nil {
			select {
			case ran <- struct{}{}:
			default:
			}
		}
		return actor.Func[string](func(*actor.Context[string], string) error { return nil })
	}
}

// until waits for cond, which a heartbeat on loopback makes true within
// milliseconds; the bound only turns a broken cluster into a failure.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
