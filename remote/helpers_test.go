package remote_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/internal/natstest"
	"github.com/airssys/rt/remote"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Test heartbeats: fast, so that failure detection takes 400 ms.
const (
	hbInterval = 100 * time.Millisecond
	hbMisses   = 4
	window     = hbInterval * hbMisses
)

// cluster is three NATS servers meshed by routes (internal/natstest),
// with a node on each: "a", "b" and "c".
type cluster struct {
	nc    *natstest.Cluster
	nodes []*remote.Node
	syss  []*actor.System
}

// startCluster starts a cluster whose nodes fail over between servers as
// NATS does (see natsCluster).
func startCluster(t *testing.T) *cluster {
	t.Helper()
	return natsCluster(t, natstest.Start(t, 3))
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

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
