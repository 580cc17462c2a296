package remote_test

import (
	"context"
	"testing"
	"time"

	"github.com/airssys/rt/remote"
)

// A NodeEvent callback that calls Close (a node that leaves when another
// comes or goes) could never succeed: Close waited for every Subscribe's
// callbacks to finish, this one included, so it failed when its ctx ended,
// and with context.Background() hung for good. Close now ends the
// subscriptions without waiting for a callback under way.
func TestRegressionCloseFromANodeEventCallback(t *testing.T) {
	sysA := startSystem(t, "a")
	a, err := remote.Start(context.Background(), "a", sysA, remote.WithListen("127.0.0.1:0"),
		remote.WithHeartbeat(hbInterval, hbMisses), remote.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close(context.Background()) }()
	closed := make(chan error, 1)
	calls := 0
	a.Subscribe(func(ev remote.NodeEvent) {
		calls++ // one goroutine at a time
		if calls > 1 {
			t.Errorf("event %v delivered after the Close it caused began", ev)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		closed <- a.Close(ctx)
	})
	startNode(t, "b", startSystem(t, "b"), remote.WithURL(a.ClientURL()))
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close from a NodeEvent callback: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no NodeUp for b")
	}
}
