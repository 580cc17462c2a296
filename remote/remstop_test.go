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

// frozenPair starts nodes a (on server 0) and b (on server 1), whose
// servers' route runs through a freeze proxy, with the counter kind on
// both; opts go to both nodes.
func frozenPair(t *testing.T, opts []remote.Option) (nc *natstest.Cluster, a, b *remote.Node, sysA, sysB *actor.System) {
	t.Helper()
	nc = natstest.Start(t, 2, natstest.WithProxy(0, 1))
	sysA, sysB = startSystem(t, "sys-a"), startSystem(t, "sys-b")
	a = startNode(t, "a", sysA, append([]remote.Option{remote.WithURL(nc.URL(0))}, opts...)...)
	b = startNode(t, "b", sysB, append([]remote.Option{remote.WithURL(nc.URL(1))}, opts...)...)
	for _, n := range []*remote.Node{a, b} {
		if err := remote.Register(n, "counter", counterKind(n.Name(), nil), remote.JSON[Msg]{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "a to see b's kind", func() bool {
		m := a.Nodes()
		return len(m) == 1 && m[0].Up && len(m[0].Kinds) == 1
	})
	return nc, a, b, sysA, sysB
}

// partitionedPair is frozenPair with a's child "w" running on b under
// sup; childOpts go to the child.
func partitionedPair(t *testing.T, opts []remote.Option, childOpts ...actor.Option) (nc *natstest.Cluster, a *remote.Node, sysA *actor.System, sup *supervisor.Supervisor, ev *supEvents, ref actor.Ref[Msg]) {
	t.Helper()
	nc, a, _, sysA, _ = frozenPair(t, opts)
	sup, ev = newSup(t, supervisor.OneForOne)
	ref, err := remote.Spawn[Msg](sup, a, "w", "counter", remote.On("b"), childOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if got := who(t, ref); got != "b" {
		t.Fatalf("w runs on %q, want b", got)
	}
	return nc, a, sysA, sup, ev, ref
}

// sendInFlight sends a message that a forwards to b's frozen route: it is
// in flight, never acknowledged.
func sendInFlight(t *testing.T, a *remote.Node, ref actor.Ref[Msg]) {
	t.Helper()
	sent := a.Metrics().Sent
	if err := ref.Send(Msg{Op: "add", N: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the message to leave a", func() bool { return a.Metrics().Sent > sent })
}

// Stopping a remote child whose node goes silent does not wait for an
// answer that cannot come: the stop ends when the node is declared down
// (here within the heartbeat window), with what was in flight a dead
// letter saying why (the NodeDown's reason). It used to wait out the stop
// timeout (twice the window) after the node was known down, and with a
// longer window the child's whole shutdown policy, which the supervisor
// then reported as an abandoned child.
func TestRegressionStopOfChildOnDeadNodeEndsAtNodeDown(t *testing.T) {
	// Infinity: the supervisor waits as long as the stop takes, so only
	// the node-down signal can end it before the stop timeout.
	nc, a, sysA, sup, ev, ref := partitionedPair(t, nil, actor.WithShutdown(supervisor.Infinity))
	evA := watchEvents(t, a)
	dead := collectDead(t, sysA)
	nc.Proxy(0, 1).Freeze()
	defer nc.Proxy(0, 1).Heal()
	sendInFlight(t, a, ref)

	began := time.Now()
	if err := sup.TerminateChild("w"); err != nil {
		t.Fatalf("TerminateChild: %v", err)
	}
	took := time.Since(began)
	down := evA.wait(t, remote.NodeDown, "b", 10*window)
	dl := dead.waitMatching(t, remote.ErrNodeDown, 1, 10*window)
	if !errors.Is(dl[0].Reason, down.Reason) {
		t.Fatalf("in-flight message's dead letter: %v; want it to wrap the NodeDown reason %q", dl[0].Reason, down.Reason)
	}
	for {
		select {
		case e := <-ev.ch:
			if e.Kind == supervisor.EventChildAbandoned {
				t.Fatalf("child abandoned: %v", e.Err)
			}
			continue
		default:
		}
		break
	}
	t.Logf("stop took %v (window %v); node down %v after the stop began", took, window, down.Time.Sub(began))
}

// When the node is merely silent for now (not declared down: a long
// heartbeat window), the child's ShutdownPolicy bounds the stop: the wait
// for the node's answer takes half of it, and the child stops, with what
// was in flight a dead letter wrapping ErrNodeDown, instead of being
// abandoned by its supervisor while it waits out the stop timeout.
func TestRegressionRemoteStopBoundedByShutdownPolicy(t *testing.T) {
	const grace = time.Second
	slow := []remote.Option{remote.WithHeartbeat(100*time.Millisecond, 100)} // a 10 s window
	nc, a, sysA, sup, ev, ref := partitionedPair(t, slow, actor.WithShutdown(supervisor.Graceful(grace)))
	dead := collectDead(t, sysA)
	nc.Proxy(0, 1).Freeze()
	defer nc.Proxy(0, 1).Heal()
	sendInFlight(t, a, ref)

	began := time.Now()
	err := sup.TerminateChild("w")
	took := time.Since(began)
	if err != nil {
		t.Fatalf("TerminateChild: %v", err)
	}
	for {
		select {
		case e := <-ev.ch:
			if e.Kind == supervisor.EventChildAbandoned {
				t.Fatalf("child abandoned after %v: %v", took, e.Err)
			}
			continue
		default:
		}
		break
	}
	dl := dead.waitMatching(t, remote.ErrNodeDown, 1, 10*time.Second)
	t.Logf("stop took %v (shutdown %v): %v", took, grace, dl[0].Reason)
}

// A Lookup or a Spawn whose request to a node goes unanswered ends when
// the node is declared down, with the NodeDown's reason, instead of
// waiting out its ctx (Lookup) or the spawn request's 10 s (Spawn) for an
// answer that cannot come.
func TestRegressionRequestsEndAtNodeDown(t *testing.T) {
	nc, a, b, _, sysB := frozenPair(t, nil)
	x, err := actor.SpawnIn(sysB, "x", counterKind("b", nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Expose(b, x, remote.JSON[Msg]{}); err != nil {
		t.Fatal(err)
	}
	evA := watchEvents(t, a)
	sup, _ := newSup(t, supervisor.OneForOne)
	nc.Proxy(0, 1).Freeze()
	defer nc.Proxy(0, 1).Heal()

	looked, spawned := make(chan error, 1), make(chan error, 1)
	began := time.Now()
	go func() {
		_, err := remote.Lookup(ctxT(t, time.Minute), a, "b", "x", remote.JSON[Msg]{})
		looked <- err
	}()
	go func() {
		_, err := remote.Spawn[Msg](sup, a, "w", "counter", remote.On("b"), actor.WithStartTimeout(time.Minute))
		spawned <- err
	}()
	down := evA.wait(t, remote.NodeDown, "b", 10*window)
	for what, ch := range map[string]chan error{"Lookup": looked, "Spawn": spawned} {
		var err error
		select {
		case err = <-ch:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s still waits 30 s after b was declared down", what)
		}
		// Both were asked before the NodeDown (On(b) finds b up, and
		// Lookup b known): the error is the NodeDown's, not a timeout.
		if !errors.Is(err, remote.ErrNodeDown) || !errors.Is(err, down.Reason) {
			t.Errorf("%s = %v; want it to wrap the NodeDown reason %q", what, err, down.Reason)
		}
	}
	t.Logf("both ended %v after they began (node down after %v)", time.Since(began), down.Time.Sub(began))
}
