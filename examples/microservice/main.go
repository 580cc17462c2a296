// Command microservice runs a hierarchical supervision tree and breaks it on
// purpose, one fault at a time, telling what each supervisor does about it:
//
//	go run ./examples/microservice
//
// The tree, built by buildTree below, has a different strategy at each
// level:
//
//	microservice (OneForAll)
//	├── http-api (OneForOne)          handler-0, handler-1, handler-2
//	├── business-logic (OneForAll)    order-service, payment-service
//	└── data-layer (RestForOne)       db-pool, cache, repository
//
// The faults show OneForOne, OneForAll and RestForOne at work, a restart
// triggered by health checks, and escalation: a supervisor that restarts
// too often gives up, and its parent deals with it.
//
// Every leaf is a fake worker: it does a little work on a ticker, reports
// the health it is told to, and fails when told to. The faults come from
// the outside (worker.crash, worker.setHealth) so that the program can
// show what each supervisor does about them.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/observe"
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

// How the fake workers behave, and how often they are checked. Short, so
// that a health restart takes a fraction of a second.
const (
	workInterval       = 10 * time.Millisecond // a unit of fake work
	healthInterval     = 20 * time.Millisecond // between health checks
	unhealthyThreshold = 3                     // unhealthy checks in a row that restart a worker
)

// buildTree builds the tree, not started, and returns its root and its
// workers by path below the root ("data-layer/cache"). opts configure the
// root only: the sub-supervisors use the root's logger and report their
// events to its handlers, and each keeps the default restart intensity (3
// restarts in 5s), so that a worker that keeps failing escalates.
func buildTree(opts ...supervisor.Option) (*supervisor.Supervisor, map[string]*worker, error) {
	workers := map[string]*worker{}
	// add adds a checked worker called name to sup: the spec builds a fresh
	// incarnation on every (re)start, which Serve runs and CheckHealth asks.
	add := func(sup *supervisor.Supervisor, name string) error {
		w := &worker{faults: make(chan error, 1)}
		workers[sup.Name()+"/"+name] = w
		return sup.Child(name).
			HealthCheckInterval(healthInterval).UnhealthyThreshold(unhealthyThreshold).
			SpawnFunc(w.incarnate)
	}
	root := supervisor.New("microservice", supervisor.OneForAll, supervisor.Permanent, opts...)

	// Request handlers are independent: one failing must not disturb the
	// others.
	api := supervisor.New("http-api", supervisor.OneForOne, supervisor.Permanent)
	for i := range 3 {
		if err := add(api, "handler-"+strconv.Itoa(i)); err != nil {
			return nil, nil, err
		}
	}
	// Orders and payments share state that must agree: they restart
	// together.
	logic := supervisor.New("business-logic", supervisor.OneForAll, supervisor.Permanent)
	for _, name := range []string{"order-service", "payment-service"} {
		if err := add(logic, name); err != nil {
			return nil, nil, err
		}
	}
	// Each stage depends on the ones started before it: the cache fronts the
	// pool, the repository uses both. The order of the children is the
	// order of the dependencies, which RestForOne relies on.
	data := supervisor.New("data-layer", supervisor.RestForOne, supervisor.Permanent)
	for _, name := range []string{"db-pool", "cache", "repository"} {
		if err := add(data, name); err != nil {
			return nil, nil, err
		}
	}
	// The root starts the subsystems in this order and stops them in the
	// reverse one.
	for _, sub := range []*supervisor.Supervisor{api, logic, data} {
		if err := root.AddSupervisor(sub); err != nil {
			return nil, nil, err
		}
	}
	return root, workers, nil
}

// worker is one fake worker of the tree. It outlives its incarnations: its
// supervisor calls incarnate on every (re)start, and crash and setHealth
// reach whichever incarnation is running.
type worker struct {
	faults chan error // capacity 1: a fault waits for an incarnation to take it

	mu     sync.Mutex
	status health.Status
}

// crash makes the running incarnation fail with err, or the next one if
// none is running. It reports false when a fault is pending already.
func (w *worker) crash(err error) bool {
	select {
	case w.faults <- err:
		return true
	default:
		return false
	}
}

// setHealth sets what the running incarnation reports to health checks. It
// lasts until the incarnation ends: a restart brings a fresh, healthy
// incarnation, which is the point of restarting.
func (w *worker) setHealth(st health.Status) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.status = st
}

func (w *worker) health() health.Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

// incarnate is the worker's factory (the spec's New): fresh state on every
// (re)start.
func (w *worker) incarnate() supervisor.Child {
	w.setHealth(health.Healthy())
	return incarnation{w}
}

// incarnation is one run of a worker, from a (re)start to its end.
type incarnation struct{ w *worker }

// Serve does fake work until its supervisor stops it or a fault arrives.
func (in incarnation) Serve(ctx context.Context) error {
	tick := time.NewTicker(workInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-in.w.faults:
			return err // let it crash: the supervisor knows what to do
		case <-tick.C:
		}
	}
}

// CheckHealth reports the status set by setHealth. Implementing it is what
// makes the spec's health checks possible.
func (in incarnation) CheckHealth(context.Context) health.Status { return in.w.health() }

// errInjected is the failure of a worker crashed on purpose.
var errInjected = errors.New("injected fault")

// api is http-api's path, as its events name it.
const api = "microservice/http-api"

// run starts the tree, injects the faults, waiting after each until the
// supervisors are done with it and then for pause, and stops the tree.
func run(ctx context.Context, w io.Writer, pause time.Duration) error {
	s := &show{ctx: ctx, out: observe.NewNarrator(w), events: make(chan supervisor.Event, 1024), pause: pause}
	var err error
	s.root, s.workers, err = buildTree(
		supervisor.WithLogger(slog.New(slog.DiscardHandler)), // the narrator says it all
		// Sub-supervisors report their events to the root's handlers.
		supervisor.WithEventHandler(tell(s.out, s.events)),
	)
	if err != nil {
		return err
	}

	s.out.Printf("AirsSys-RT: a microservice's supervision tree, broken on purpose.")
	s.out.Printf("Each indented line is an event: the supervisor, then what it did.")
	s.out.Printf("\nStarting: every supervisor starts its children in order, depth first.")
	if err := s.root.Start(ctx); err != nil {
		return err
	}
	err = s.perform()
	// Whatever happened, the tree must be stopped.
	s.out.Printf("\nStopping: children stop one at a time, newest first.")
	if stopErr := s.root.Stop(); err == nil {
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
	ctx     context.Context
	root    *supervisor.Supervisor
	workers map[string]*worker // by path below the root
	out     *observe.Narrator
	events  chan supervisor.Event // every event, for await
	pause   time.Duration
}

// perform runs the acts on a started tree.
func (s *show) perform() error {
	if err := s.await(is(supervisor.EventSupervisorStarted, "")); err != nil {
		return err
	}
	s.printTree("The tree is up:")
	for _, a := range s.acts() {
		s.out.Printf("\n%s", a.story)
		if err := a.fault(); err != nil {
			return err
		}
		s.out.Flush()
		if err := sleep(s.ctx, s.pause); err != nil {
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
			return s.crash("http-api/handler-1", is(supervisor.EventChildRestarted, "handler-1"))
		},
	}, {
		story: `2. The payment service crashes. business-logic is OneForAll: orders and
   payments must agree, so both restart with clean state.`,
		fault: func() error {
			return s.crash("business-logic/payment-service", is(supervisor.EventChildRestarted, "payment-service"))
		},
	}, {
		story: `3. The cache crashes. data-layer is RestForOne: the repository, started
   after the cache, depends on it and restarts too; db-pool is untouched.`,
		fault: func() error {
			// RestForOne restarts up to the last child, the repository.
			return s.crash("data-layer/cache", is(supervisor.EventChildRestarted, "repository"))
		},
	}, {
		story: fmt.Sprintf(`4. The database pool slows down, then stops answering. A degraded health
   check is only reported; %d unhealthy ones in a row restart db-pool as if it
   had crashed, and RestForOne restarts what was started after it.`, unhealthyThreshold),
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
	if !s.workers[path].crash(errInjected) {
		return fmt.Errorf("%s has a fault pending already", path)
	}
	return s.await(settled)
}

// sickenDBPool makes db-pool degraded, then unhealthy until it is restarted.
func (s *show) sickenDBPool() error {
	db := s.workers["data-layer/db-pool"]
	db.setHealth(health.Degraded("slow queries"))
	if err := s.await(is(supervisor.EventHealthChanged, "db-pool")); err != nil {
		return err
	}
	db.setHealth(health.Unhealthy("connection refused"))
	return s.await(is(supervisor.EventChildRestarted, "repository"))
}

// escalate crashes handler-0 after each of its restarts until http-api
// gives up, then waits for the root to restart every subsystem.
func (s *show) escalate() error {
	for {
		var gaveUp bool
		err := s.crash("http-api/handler-0", func(e supervisor.Event) bool {
			gaveUp = e.Kind == supervisor.EventIntensityExceeded && e.Supervisor == api
			return gaveUp || is(supervisor.EventChildRestarted, "handler-0")(e)
		})
		if err != nil {
			return err
		}
		if gaveUp {
			// The root restarts its children in order: data-layer is last.
			return s.await(is(supervisor.EventChildRestarted, "data-layer"))
		}
	}
}

// intensity describes the restart intensity of the root's child name.
func (s *show) intensity(name string) string {
	for _, c := range s.root.WhichChildren() {
		if c.Name == name && c.Supervisor != nil {
			n, period := c.Supervisor.Intensity()
			return fmt.Sprintf("%d restarts in %v", n, period)
		}
	}
	return "a few restarts"
}

// await returns once an event matches: the narrator has told it, and every
// event before it, by then.
func (s *show) await(match func(supervisor.Event) bool) error {
	return await(s.ctx, s.events, match)
}

// printTree shows the tree under a title, one line per supervisor and
// child, as WhichChildren describes them:
//
//	microservice        OneForAll   running
//	├── http-api        OneForOne   running  restarts=0
//	│   ├── handler-0               running  restarts=1
//
// The supervisors are asked one after the other, so a tree that is busy
// restarting may be shown half before and half after a transition.
func (s *show) printTree(title string) {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t%v\t%s\n", s.root.Name(), s.root.Strategy(), "running")
	var walk func(children []supervisor.ChildInfo, indent string)
	walk = func(children []supervisor.ChildInfo, indent string) {
		for i, c := range children {
			branch, next := "├── ", "│   "
			if i == len(children)-1 {
				branch, next = "└── ", "    "
			}
			strategy := ""
			var sub []supervisor.ChildInfo
			if c.Supervisor != nil {
				strategy, sub = c.Supervisor.Strategy().String(), c.Supervisor.WhichChildren()
			}
			line := fmt.Sprintf("%s%s%s\t%s\t%s\trestarts=%d", indent, branch, c.Name, strategy, c.State, c.Restarts)
			if c.Health.State != health.StateHealthy {
				line += "  " + c.Health.String()
			}
			fmt.Fprintln(tw, line)
			walk(sub, indent+next)
		}
	}
	walk(s.root.WhichChildren(), "")
	_ = tw.Flush() // a bytes.Buffer does not fail
	s.out.Printf("\n%s\n%s", title, bytes.TrimRight(buf.Bytes(), "\n"))
}
