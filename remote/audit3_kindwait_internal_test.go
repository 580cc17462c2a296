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

// A Spawn On(b) waiting for the kinds of b, heard from but not settled
// (0d081c6), must not outwait b: when b leaves before registering the
// kind, the Spawn fails at once with the node's end (ErrNodeDown or
// ErrUnknownNode), not after its patience (30 s here) or its start timeout
// (60 s). Catches a kind wait that only a change of b's kinds wakes.
func TestAudit3SpawnOnWaitingForKindsEndsWhenTheNodeLeaves(t *testing.T) {
	nc := natstest.Start(t, 1)
	long := WithHeartbeat(5*time.Second, 4)
	a, sup := echoHost(t, nc.URL(0), long)
	defer sup.Stop()

	bsys := actor.NewSystem("sys-b", actor.WithSystemLogger(slog.New(slog.DiscardHandler)))
	if err := bsys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer bsys.Shutdown(context.Background())
	b, err := Start(context.Background(), "b", bsys, WithURL(nc.URL(0)), long, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	until(t, "a hears b, unsettled", func() bool {
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
	until(t, "the Spawn waits for b's kinds", func() bool {
		select {
		case err := <-spawned:
			t.Fatalf("Spawn returned before b left: %v", err)
		default:
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.changed != nil
	})
	start := time.Now()
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-spawned:
		if err == nil || !(errors.Is(err, ErrNodeDown) || errors.Is(err, ErrUnknownNode) || errors.Is(err, ErrUnknownKind)) {
			t.Fatalf("Spawn On a node that left while it waited: %v", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("Spawn returned %v after b left", d)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("Spawn On a node that left still waits 25 s later")
	}
}

// A Spawn On(b) waiting for b's kinds fails as soon as b's kinds settle
// without the kind (b's first heartbeat interval ends, 300 ms here), not
// after its patience (30 s): catches a wait woken only by a change in
// the list of kinds.
func TestAudit3SpawnOnWaitingForKindsEndsWhenTheySettleWithout(t *testing.T) {
	nc := natstest.Start(t, 1)
	a := kindNode(t, "a", WithURL(nc.URL(0)), WithHeartbeat(5*time.Second, 4))
	if err := Register(a, "echo", echoKind(nil), JSON[string]{}); err != nil {
		t.Fatal(err)
	}
	sup := supervisor.New("sup", supervisor.OneForOne, supervisor.Permanent, supervisor.WithLogger(slog.New(slog.DiscardHandler)))
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sup.Stop()
	kindNode(t, "b", WithURL(nc.URL(0)), WithHeartbeat(300*time.Millisecond, 4))
	spawned := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := Spawn[string](sup, a, "w", "echo", On("b"), actor.WithStartTimeout(60*time.Second))
		spawned <- err
	}()
	select {
	case err := <-spawned:
		if !errors.Is(err, ErrUnknownKind) {
			t.Fatalf("Spawn On a node settled without the kind: %v, want ErrUnknownKind", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("Spawn failed %v after it began, want about b's first interval", d)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("Spawn On a node settled without the kind still waits 25 s later")
	}
}
