package remote_test

import (
	"errors"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/internal/natstest"
	"github.com/airssys/rt/remote"
	"github.com/airssys/rt/supervisor"
)

// Spawn with On(x) for a node x not heard from yet used to fail at once
// with ErrUnknownNode, while Lookup waits for such a node within its ctx:
// a tree that declares a child on a node that starts a moment later (a
// deployment bringing both up) failed its start. Now the start waits for
// x (within half the start timeout), and fails at once only for a node
// heard and down; one that never appears still fails with ErrUnknownNode.
func TestRegressionSpawnOnWaitsForANodeNotHeardYet(t *testing.T) {
	nc := natstest.Start(t, 2)
	sa := startSystem(t, "sys-a")
	a := startNode(t, "a", sa, remote.WithURL(nc.URL(0)))
	if err := remote.Register(a, "counter", counterKind("a", nil), remote.JSON[Msg]{}); err != nil {
		t.Fatal(err)
	}
	sup, _ := newSup(t, supervisor.OneForOne)

	type result struct {
		ref actor.Ref[Msg]
		err error
	}
	spawned := make(chan result, 1)
	go func() {
		ref, err := remote.Spawn[Msg](sup, a, "w", "counter", remote.On("b"), actor.WithStartTimeout(60*time.Second))
		spawned <- result{ref, err}
	}()
	// b starts while the Spawn waits for it (if b is heard first, the
	// Spawn just finds it: the waiting itself is what the "nowhere" case
	// checks).
	sb := startSystem(t, "sys-b")
	b := startNode(t, "b", sb, remote.WithURL(nc.URL(1)))
	if err := remote.Register(b, "counter", counterKind("b", nil), remote.JSON[Msg]{}); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-spawned:
	case <-time.After(20 * time.Second):
		t.Fatal("Spawn still waiting 20 s after b started")
	}
	if r.err != nil {
		t.Fatalf("Spawn On a node that started meanwhile: %v", r.err)
	}
	if got := who(t, r.ref); got != "b" {
		t.Fatalf("runs on %q, want b", got)
	}

	// b leaves: it was heard, and is down now. A Spawn on it fails at
	// once, with ErrNodeDown, although the start timeout would let it
	// wait a minute.
	ev := watchEvents(t, a)
	if err := sup.TerminateChild("w"); err != nil {
		t.Fatal(err)
	}
	if err := sup.DeleteChild("w"); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, remote.NodeDown, "b", 10*time.Second)
	start := time.Now()
	_, err := remote.Spawn[Msg](sup, a, "x", "counter", remote.On("b"), actor.WithStartTimeout(60*time.Second))
	if !errors.Is(err, remote.ErrNodeDown) {
		t.Fatalf("Spawn On a node that is down = %v, want ErrNodeDown", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Spawn On a node that is down took %v, want at once", d)
	}

	// A node that never appears: ErrUnknownNode once half the start
	// timeout has passed, before the supervisor's own timeout.
	start = time.Now()
	_, err = remote.Spawn[Msg](sup, a, "y", "counter", remote.On("nowhere"), actor.WithStartTimeout(time.Second))
	if !errors.Is(err, remote.ErrUnknownNode) || errors.Is(err, supervisor.ErrStartTimeout) {
		t.Fatalf("Spawn On a node never heard of = %v, want ErrUnknownNode", err)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Fatalf("Spawn On a node never heard of failed after %v, want it to wait half the start timeout", d)
	}
}
