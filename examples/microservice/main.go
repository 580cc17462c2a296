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

// Paths of the supervisors, as events name them.
const (
	root  = "microservice"
	api   = root + "/http-api"
	logic = root + "/business-logic"
	data  = root + "/data-layer"
)

// run starts the tree, injects the faults, waiting after each until the
// supervisors are done with it and then for pause, and stops the tree.
func run(ctx context.Context, w io.Writer, pause time.Duration) error {
	s := &show{ctx: ctx, out: demo.NewPrinter(w), events: make(chan supervisor.Event, 1024), pause: pause}
	s.tree = demo.Microservice(
		supervisor.WithLogger(slog.New(slog.DiscardHandler)), // the printer says it all
		supervisor.WithEventHandler(s.event),
	)

	s.out.Printf("AirsSys-RT: the microservice supervision tree of the patterns guide.")
	s.out.Printf("Each indented line is an event: the supervisor, then what it did.")
	s.out.Printf("\nStarting: every supervisor starts its children in order, depth first.")
	if err := s.tree.Root.Start(ctx); err != nil {
		return err
	}
	err := s.perform()
	// Whatever happened, the tree must be stopped.
	s.out.Printf("\nStopping: children stop one at a time, newest first.")
	if stopErr := s.tree.Root.Stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return err
	}
	s.out.Printf("Stopped cleanly: every worker has returned.")
	return nil
}

// show drives the tree through its faults and tells the story.
type show struct {
	ctx    context.Context
	tree   *demo.Tree
	out    *demo.Printer
	events chan supervisor.Event // every event, for await
	pause  time.Duration
}

// event is the tree's event handler: it prints the event, then passes it on
// so that await can see the end of the supervisors' reaction to a fault.
// The send never blocks: a handler must not hold up the events behind it.
func (s *show) event(e supervisor.Event) {
	s.out.Event(e)
	select {
	case s.events <- e:
	default:
	}
}

// perform runs the acts on a started tree.
func (s *show) perform() error {
	if err := s.await(is(supervisor.EventSupervisorStarted, root, "")); err != nil {
		return err
	}
	s.printTree("The tree is up:")
	for _, a := range s.acts() {
		s.out.Printf("\n%s", a.story)
		if err := a.fault(); err != nil {
			return err
		}
		s.out.Flush()
		if err := s.sleep(); err != nil {
			return err
		}
	}
	s.printTree("The tree now; a child's restarts add up over the whole run:")
	return nil
}

// An act is one fault: its story, told before it happens, and the fault,
// which returns once the supervisors are done with it.
type act struct {
	story string
	fault func() error
}

func (s *show) acts() []act {
	return []act{{
		story: `1. A request handler crashes. http-api is OneForOne: the handlers are
   independent, so only the one that crashed restarts.`,
		fault: func() error {
			return s.crash("http-api/handler-1", is(supervisor.EventChildRestarted, api, "handler-1"))
		},
	}, {
		story: `2. The payment service crashes. business-logic is OneForAll: orders and
   payments must agree, so both restart with clean state.`,
		fault: func() error {
			return s.crash("business-logic/payment-service", is(supervisor.EventChildRestarted, logic, "payment-service"))
		},
	}, {
		story: `3. The cache crashes. data-layer is RestForOne: the repository, started
   after the cache, depends on it and restarts too; db-pool is untouched.`,
		fault: func() error {
			// RestForOne restarts up to the last child, the repository.
			return s.crash("data-layer/cache", is(supervisor.EventChildRestarted, data, "repository"))
		},
	}, {
		story: fmt.Sprintf(`4. The database pool slows down, then stops answering. A degraded health
   check is only reported; %d unhealthy ones in a row restart db-pool as if it
   had crashed, and RestForOne restarts what was started after it.`, demo.UnhealthyThreshold),
		fault: s.sickenDBPool,
	}, {
		story: fmt.Sprintf(`5. A handler crashes again and again. http-api allows %s;
   at one more it gives up and fails itself: escalation. Its parent, the root,
   is OneForAll, so every subsystem restarts from a clean slate.`, s.intensity("http-api")),
		fault: s.escalate,
	}}
}

// crash injects a fault into the worker at path and waits for settled, the
// event that ends the supervisor's reaction.
func (s *show) crash(path string, settled func(supervisor.Event) bool) error {
	if !s.tree.Worker(path).Crash(demo.ErrInjected) {
		return fmt.Errorf("%s has a fault pending already", path)
	}
	return s.await(settled)
}

// sickenDBPool makes db-pool degraded, then unhealthy until it is restarted.
func (s *show) sickenDBPool() error {
	db := s.tree.Worker("data-layer/db-pool")
	db.SetHealth(health.Degraded("slow queries"))
	if err := s.await(is(supervisor.EventHealthChanged, data, "db-pool")); err != nil {
		return err
	}
	db.SetHealth(health.Unhealthy("connection refused"))
	return s.await(is(supervisor.EventChildRestarted, data, "repository"))
}

// escalate crashes handler-0 after each of its restarts until http-api
// gives up, then waits for the root to restart every subsystem.
func (s *show) escalate() error {
	for {
		var gaveUp bool
		err := s.crash("http-api/handler-0", func(e supervisor.Event) bool {
			gaveUp = e.Kind == supervisor.EventIntensityExceeded && e.Supervisor == api
			return gaveUp || is(supervisor.EventChildRestarted, api, "handler-0")(e)
		})
		if err != nil {
			return err
		}
		if gaveUp {
			// The root restarts its children in order: data-layer is last.
			return s.await(is(supervisor.EventChildRestarted, root, "data-layer"))
		}
	}
}

// intensity describes the restart intensity of the root's child name.
func (s *show) intensity(name string) string {
	for _, c := range s.tree.Root.WhichChildren() {
		if c.Name == name && c.Supervisor != nil {
			n, period := c.Supervisor.Intensity()
			return fmt.Sprintf("%d restarts in %v", n, period)
		}
	}
	return "a few restarts"
}

// await returns once an event matches. The printer has it, and every event
// before it, by then.
func (s *show) await(match func(supervisor.Event) bool) error {
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	for {
		select {
		case e := <-s.events:
			if match(e) {
				return nil
			}
		case <-timeout.C:
			return fmt.Errorf("the supervisors did not finish reacting within %v", waitLimit)
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
	}
}

// sleep gives a human reader a moment between acts.
func (s *show) sleep() error {
	if s.pause <= 0 {
		return nil
	}
	t := time.NewTimer(s.pause)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

func (s *show) printTree(title string) {
	var buf bytes.Buffer
	_ = demo.WriteTree(&buf, s.tree.Root) // a bytes.Buffer does not fail
	s.out.Printf("\n%s\n%s", title, bytes.TrimRight(buf.Bytes(), "\n"))
}

// is matches the event of one kind, supervisor path and child.
func is(kind supervisor.EventKind, sup, child string) func(supervisor.Event) bool {
	return func(e supervisor.Event) bool {
		return e.Kind == kind && e.Supervisor == sup && e.Child == child
	}
}
