package observe_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

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

// Tell what a tree does in plain words: here a payment worker that fails
// once, is restarted, and is stopped with its tree.
func ExampleNarrator() {
	n := observe.NewNarrator(os.Stdout)
	stopped := make(chan struct{})
	fails := make(chan error, 1)
	fails <- errors.New("card network timeout")
	shop := supervisor.New("shop", supervisor.OneForOne, supervisor.Permanent,
		supervisor.WithLogger(slog.New(slog.DiscardHandler)), // the narrator says it all
		supervisor.WithEventHandler(func(e supervisor.Event) {
			n.Event(e)
			if e.Kind == supervisor.EventSupervisorStopped {
				close(stopped)
			}
		}))
	restarted := make(chan struct{})
	_ = shop.Child("payments").SpawnFunc(func() supervisor.Child {
		return supervisor.ChildFunc(func(ctx context.Context) error {
			select {
			case err := <-fails: // the first incarnation fails
				return err
			case <-ctx.Done():
				return nil
			}
		})
	})
	defer shop.Subscribe(func(e supervisor.Event) {
		if e.Kind == supervisor.EventChildRestarted {
			close(restarted)
		}
	})()
	_ = shop.Start(context.Background())
	<-restarted
	_ = shop.Stop()
	<-stopped
	n.Printf("done")
	// Output:
	//   shop            started payments
	//   shop            started
	//   shop            payments failed: card network timeout
	//   shop            restarted payments
	//   shop            stopped payments
	//   shop            stopped
	// done
}
