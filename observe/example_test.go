package observe_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/airssys/rt/observe"
	"github.com/airssys/rt/supervisor"
)

func worker(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Mount the observer in a program's own mux, under /observe/.
func ExampleNew() {
	root := supervisor.New("shop", supervisor.OneForOne, supervisor.Permanent,
		supervisor.WithLogger(slog.New(slog.DiscardHandler)))
	_ = root.Children("checkout", 2).SpawnBatch(func() supervisor.Child { return supervisor.ChildFunc(worker) })
	_ = root.Start(context.Background())
	defer root.Stop()

	obs, err := observe.New(root)
	if err != nil {
		panic(err)
	}
	defer obs.Close()
	mux := http.NewServeMux()
	mux.Handle("/observe/", http.StripPrefix("/observe", obs))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	res, err := http.Get(srv.URL + "/observe/api/tree")
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	var snap observe.Snapshot
	_ = json.NewDecoder(res.Body).Decode(&snap)
	for _, c := range snap.Root.Children {
		fmt.Println(c.Path, c.Kind, c.State)
	}
	// Output:
	// shop/checkout-0 worker running
	// shop/checkout-1 worker running
}

// Register the collector in a registry of your own; WithGatherer makes the
// observer's /metrics serve that registry too.
func ExampleObserver_Collector() {
	root := supervisor.New("shop", supervisor.OneForOne, supervisor.Permanent)
	reg := prometheus.NewRegistry()
	obs, err := observe.New(root, observe.WithGatherer(reg))
	if err != nil {
		panic(err)
	}
	defer obs.Close()
	reg.MustRegister(obs.Collector())
	families, _ := reg.Gather()
	fmt.Println(len(families) > 0)
	// Output: true
}

// Fault injection is off unless enabled with a token.
func ExampleWithFaultInjection() {
	root := supervisor.New("shop", supervisor.OneForOne, supervisor.Permanent)
	if _, err := observe.New(root, observe.WithFaultInjection("")); err != nil {
		fmt.Println(err)
	}
	obs, _ := observe.New(root, observe.WithFaultInjection("a-long-random-secret"))
	defer obs.Close()
	// Now POST /api/children/crash with "Authorization: Bearer a-long-random-secret"
	// and {"supervisor": "shop", "child": "cart"} crashes the actor cart.
	// Output: observe: invalid option: fault injection needs a non-empty token
}

func ExampleTakeSnapshot() {
	root := supervisor.New("shop", supervisor.RestForOne, supervisor.Permanent)
	_ = root.SpawnChild("db", supervisor.ChildFunc(worker))
	snap := observe.TakeSnapshot(root) // not started: the recorded specs
	fmt.Println(snap.Root.Strategy, snap.Root.Running, snap.Root.Children[0].Name, snap.Root.Children[0].State)
	// Output: RestForOne false db stopped
}
