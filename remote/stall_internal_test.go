package remote

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// A stall of this node (a GC pause, a starved processor) is not its
// peers' silence: the first membership check after a stall longer than
// the window sees a peer's last heartbeat that old, but it is one check,
// and the heartbeats of the stall are still unread. The peer stays up
// until misses checks have passed without a heartbeat. (Failed without
// the count of checks: the peer went down at the first check; under CI's
// load this was TestSilentPartition's "2 NodeDown" and the false NodeDowns
// of TestNodeDeath and others.)
func TestRegressionOwnStallIsNotAPeersSilence(t *testing.T) {
	ctx := context.Background()
	// An hour's interval: the node's own ticker never checks during the
	// test, which makes each check the test's.
	n, err := Start(ctx, "a", quietSystem(t), WithListen("127.0.0.1:0"), WithHeartbeat(time.Hour, 3), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = n.Close(ctx) }()
	t0 := time.Now()
	n.mu.Lock()
	n.members["b"] = &member{info: NodeInfo{Name: "b", Up: true, LastHeartbeat: t0}}
	n.mu.Unlock()
	up := func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.members["b"].info.Up
	}

	// The first check after a stall of ten windows.
	now := t0.Add(10 * n.window())
	n.checkMembers(now)
	if !up() {
		t.Fatal("b declared down by the first check after this node's own stall")
	}
	// A heartbeat read after the stall: b was never silent.
	n.mu.Lock()
	n.members["b"].info.LastHeartbeat, n.members["b"].checks = now, 0
	n.mu.Unlock()

	// b silent from now on: down at the check that completes both the
	// window and misses checks, not before.
	for i := 1; i <= 3; i++ {
		now = now.Add(n.interval + time.Millisecond)
		n.checkMembers(now)
		if want := i < 3; up() != want {
			t.Fatalf("check %d of a silent peer: up %v, want %v", i, up(), want)
		}
	}
}
