package remote_test

import (
	"context"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/remote"
)

// An actor a node served (Expose, or a remote child it declared) kept a
// Watch whose callback held the node after Close, until the actor stopped:
// a long-lived actor kept every closed node it had been exposed by (its
// connection, tables and logger), one more at each restart of a node. Close
// now cancels those Watches.
func TestRegressionClosedNodeIsNotHeldByItsServedActors(t *testing.T) {
	sys := startSystem(t, "s")
	ref, err := actor.SpawnIn(sys, "kept", func() actor.Actor[string] {
		return actor.Func[string](func(*actor.Context[string], string) error { return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	gone := func() weak.Pointer[remote.Node] {
		n, err := remote.Start(context.Background(), "a", sys, remote.WithHeartbeat(hbInterval, hbMisses), remote.WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Expose(n, ref, remote.Codec[string](remote.JSON[string]{})); err != nil {
			t.Fatal(err)
		}
		if err := n.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		return weak.Make(n)
	}()
	// The goroutines of its closed connection end soon after Close: until
	// then they may hold it.
	deadline := time.Now().Add(5 * time.Second)
	for gone.Value() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the closed node is still reachable while the actor it served runs")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if err := ref.Send("still here"); err != nil {
		t.Fatal(err)
	}
}
