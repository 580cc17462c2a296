package remote

import (
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/internal/natstest"
)

// Spawn Any right after a node started passed that node over: its kinds
// had not reached the declaring node yet, so a child meant to spread went
// where the kind was already known (On waited for them since 0d081c6, Any
// did not). Now, when the node Any would choose is in its first heartbeat
// interval without the kind, the start waits for its kinds; a node whose
// kinds are settled without the kind is passed over at once.
//
// As in TestRegressionSpawnOnWaitsForTheKindsOfANewNode, the test sees the
// spawn wait (the node's change channel exists only while a placement
// waits) before b registers, so the order is certain; b's heartbeat
// interval is long, so that its kinds stay unsettled throughout.
func TestRegressionSpawnAnyWaitsForTheKindsOfANewNode(t *testing.T) {
	nc := natstest.Start(t, 2)
	long := WithHeartbeat(5*time.Second, 4)
	a, sup := echoHost(t, nc.URL(0), long)
	defer sup.Stop() // before the nodes close (Cleanup): its children stop in order
	placedOn := func(child string) string {
		t.Helper()
		for _, c := range a.Children() {
			if c.Name == child {
				return c.Node
			}
		}
		t.Fatalf("child %q not placed: %+v", child, a.Children())
		return ""
	}
	startTimeout := actor.WithStartTimeout(60 * time.Second) // a wait would be 30 s

	// c's kinds are settled without "echo": no candidate, not waited for.
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
	for _, name := range []string{"w1", "w2"} {
		if _, err := Spawn[string](sup, a, name, "echo", Any(), startTimeout); err != nil {
			t.Fatalf("Spawn %s Any: %v", name, err)
		}
		if got := placedOn(name); got != "a" {
			t.Fatalf("%s placed on %q, want a (the only node offering the kind)", name, got)
		}
	}

	b := kindNode(t, "b", WithURL(nc.URL(1)), long)
	until(t, "a hears b, its kinds unsettled", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		m := a.members["b"]
		return m != nil && m.info.Up && !m.settled
	})
	spawned := make(chan error, 1)
	go func() {
		_, err := Spawn[string](sup, a, "w3", "echo", Any(), startTimeout)
		spawned <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-spawned:
			t.Fatalf("Spawn Any returned before b, the node with the fewest children, registered the kind (w3 on %q): %v", placedOn("w3"), err)
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
		t.Fatalf("Spawn Any once b registered the kind: %v", err)
	}
	<-ran
	if got := placedOn("w3"); got != "b" {
		t.Fatalf("w3 placed on %q, want b", got)
	}
}

// The wait of Any for a node's kinds is bounded by the start's patience
// (half its start timeout): a node that stays in its first interval
// without the kind is then passed over for one that offers it.
func TestSpawnAnyWaitsOnlyItsPatience(t *testing.T) {
	nc := natstest.Start(t, 1) // one server: b's only early heartbeat reaches a
	// b's kinds stay unsettled for its first interval (a minute), and it
	// registers nothing: "echo" never comes. (a's window is as long: b is
	// not declared down meanwhile.)
	long := WithHeartbeat(time.Minute, 4)
	a, sup := echoHost(t, nc.URL(0), long)
	defer sup.Stop()
	_ = kindNode(t, "b", WithURL(nc.URL(0)), long)
	until(t, "a hears b, its kinds unsettled", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		m := a.members["b"]
		return m != nil && m.info.Up && !m.settled
	})
	began := time.Now()
	// "a" < "b" on a tie: w1 goes to a at once; w2 would go to b.
	for _, name := range []string{"w1", "w2"} {
		if _, err := Spawn[string](sup, a, name, "echo", Any(), actor.WithStartTimeout(time.Second)); err != nil {
			t.Fatalf("Spawn %s Any: %v", name, err)
		}
	}
	took := time.Since(began)
	for _, c := range a.Children() {
		if c.Node != "a" {
			t.Fatalf("%s placed on %q, want a", c.Name, c.Node)
		}
	}
	if took < 500*time.Millisecond {
		t.Fatalf("the spawns took %v: w2 did not wait its patience (500ms) for b's kinds", took)
	}
}
