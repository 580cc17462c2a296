package observe_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/observe"
	"github.com/airssys/rt/remote"
)

// Observe a node of a cluster: the snapshot (GET /api/tree), the live page
// and /metrics then show its members and where remote children run.
func ExampleWithCluster() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	sys := actor.NewSystem("app", actor.WithSystemLogger(quiet))
	_ = sys.Start(ctx)
	defer sys.Shutdown(ctx)
	node, err := remote.Start(ctx, "a", sys, remote.WithLogger(quiet)) // an embedded NATS server
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Close(ctx)

	obs, err := observe.NewForSystem(sys, observe.WithCluster(node))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer obs.Close()
	snap := obs.Snapshot()
	fmt.Println("seen from", snap.Cluster.Node)
	for _, m := range snap.Cluster.Members {
		fmt.Printf("%s up=%v self=%v\n", m.Name, m.Up, m.Self)
	}
	// Output:
	// seen from a
	// a up=true self=true
}
