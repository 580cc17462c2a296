// Command microservice runs the patterns guide's hierarchical supervision
// tree and breaks it on purpose, one fault at a time, printing what each
// supervisor does about it:
//
//	go run ./examples/microservice
//
// The tree (built by internal/demo) has a different strategy at each level:
//
//	microservice (OneForAll)
//	├── http-api (OneForOne)          handler-0, handler-1, handler-2
//	├── business-logic (OneForAll)    order-service, payment-service
//	└── data-layer (RestForOne)       db-pool, cache, repository
//
// The faults show OneForOne, OneForAll and RestForOne at work, a restart
// triggered by health checks, and escalation: a supervisor that restarts
// too often gives up, and its parent deals with it.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/internal/demo"
	"github.com/airssys/rt/supervisor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// The pause between faults is for a human reader; the test runs without.
	if err := run(ctx, os.Stdout, 300*time.Millisecond); err != nil {
		fmt.Fprintln(os.Stderr, "microservice:", err)
		os.Exit(1)
	}
}

// waitLimit bounds each wait for the supervisors to finish reacting to a
// fault. They take microseconds; reaching the limit means a bug.
const waitLimit = 5 * time.Second

// run starts the tree, injects the faults, waiting after each until the
// supervisors are done with it and then for pause, and stops the tree.
func run(ctx context.Context, w io.Writer, pause time.Duration) error {
	out := demo.NewPrinter(w)
	// The handler prints every event, then passes it on so that run can wait
	// for the one that ends the supervisors' reaction to a fault. The send
	// never blocks: a handler must not hold up the events behind it.
	events := make(chan supervisor.Event, 1024)
	tree := demo.Microservice(
		supervisor.WithLogger(slog.New(slog.DiscardHandler)), // the printer says it all
		supervisor.WithEventHandler(func(e supervisor.Event) {
			out.Event(e)
			select {
			case events <- e:
			default:
			}
		}),
	)
	const (
		root  = "microservice"
		api   = root + "/http-api"
		logic = root + "/business-logic"
		data  = root + "/data-layer"
	)
	await := func(match func(supervisor.Event) bool) error {
		timeout := time.NewTimer(waitLimit)
		defer timeout.Stop()
		for {
			select {
			case e := <-events:
				if match(e) {
					return nil
				}
			case <-timeout.C:
				return fmt.Errorf("the supervisors did not finish reacting within %v", waitLimit)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	crash := func(path string) error {
		if !tree.Worker(path).Crash(demo.ErrInjected) {
			return fmt.Errorf("%s has a fault pending already", path)
		}
		return nil
	}
	// act prints a fault's story, makes it happen, waits for the supervisors
	// to be done with it, and gives the reader a moment.
	act := func(story string, fault func() error) error {
		out.Printf("\n%s", story)
		if err := fault(); err != nil {
			return err
		}
		out.Flush()
		select {
		case <-time.After(pause):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	printTree := func(title string) {
		var buf bytes.Buffer
		_ = demo.WriteTree(&buf, tree.Root) // a bytes.Buffer does not fail
		out.Printf("\n%s\n%s", title, bytes.TrimRight(buf.Bytes(), "\n"))
	}

	out.Printf("AirsSys-RT: the microservice supervision tree of the patterns guide.")
	out.Printf("Each indented line is an event: the supervisor, then what it did.")
	out.Printf("\nStarting: every supervisor starts its children in order, depth first.")
	if err := tree.Root.Start(ctx); err != nil {
		return err
	}
	// From here on the tree must be stopped whatever happens.
	err := func() error {
		if err := await(is(supervisor.EventSupervisorStarted, root, "")); err != nil {
			return err
		}
		printTree("The tree is up:")

		err := act(`1. A request handler crashes. http-api is OneForOne: the handlers are
   independent, so only the one that crashed restarts.`, func() error {
			if err := crash("http-api/handler-1"); err != nil {
				return err
			}
			return await(is(supervisor.EventChildRestarted, api, "handler-1"))
		})
		if err != nil {
			return err
		}

		err = act(`2. The payment service crashes. business-logic is OneForAll: orders and
   payments must agree, so both restart with clean state.`, func() error {
			if err := crash("business-logic/payment-service"); err != nil {
				return err
			}
			return await(is(supervisor.EventChildRestarted, logic, "payment-service"))
		})
		if err != nil {
			return err
		}

		err = act(`3. The cache crashes. data-layer is RestForOne: the repository, started
   after the cache, depends on it and restarts too; db-pool is untouched.`, func() error {
			if err := crash("data-layer/cache"); err != nil {
				return err
			}
			return await(is(supervisor.EventChildRestarted, data, "repository"))
		})
		if err != nil {
			return err
		}

		err = act(fmt.Sprintf(`4. The database pool slows down, then stops answering. A degraded health
   check is only reported; %d unhealthy ones in a row restart db-pool as if it
   had crashed, and RestForOne restarts what was started after it.`, demo.UnhealthyThreshold), func() error {
			db := tree.Worker("data-layer/db-pool")
			db.SetHealth(health.Degraded("slow queries"))
			if err := await(is(supervisor.EventHealthChanged, data, "db-pool")); err != nil {
				return err
			}
			db.SetHealth(health.Unhealthy("connection refused"))
			return await(is(supervisor.EventChildRestarted, data, "repository"))
		})
		if err != nil {
			return err
		}

		var maxRestarts int
		var period time.Duration
		for _, c := range tree.Root.WhichChildren() {
			if c.Name == "http-api" {
				maxRestarts, period = c.Supervisor.Intensity()
			}
		}
		err = act(fmt.Sprintf(`5. A handler crashes again and again. http-api allows %d restarts in %v;
   at one more it gives up and fails itself: escalation. Its parent, the root,
   is OneForAll, so every subsystem restarts from a clean slate.`, maxRestarts, period), func() error {
			gaveUp := func(e supervisor.Event) bool {
				return e.Kind == supervisor.EventIntensityExceeded && e.Supervisor == api
			}
			for {
				if err := crash("http-api/handler-0"); err != nil {
					return err
				}
				var escalated bool
				err := await(func(e supervisor.Event) bool {
					escalated = gaveUp(e)
					return escalated || is(supervisor.EventChildRestarted, api, "handler-0")(e)
				})
				if err != nil {
					return err
				}
				if escalated {
					// The root restarts its children in order: data-layer is last.
					return await(is(supervisor.EventChildRestarted, root, "data-layer"))
				}
			}
		})
		if err != nil {
			return err
		}

		printTree("The tree now; a child's restarts add up over the whole run:")
		return nil
	}()

	out.Printf("\nStopping: children stop one at a time, newest first.")
	if stopErr := tree.Root.Stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return err
	}
	out.Printf("Stopped cleanly: every worker has returned.")
	return nil
}

// is matches the event of one kind, supervisor path and child.
func is(kind supervisor.EventKind, sup, child string) func(supervisor.Event) bool {
	return func(e supervisor.Event) bool {
		return e.Kind == kind && e.Supervisor == sup && e.Child == child
	}
}
