package demo

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/supervisor"
)

// ErrInjected is the failure of a worker crashed by [Worker.Crash] or
// [Tree.Inject].
var ErrInjected = errors.New("injected fault")

// Timing of the fake workers. They are short so that a demo shows a health
// restart within a fraction of a second.
const (
	// WorkInterval is how often a worker does its unit of fake work.
	WorkInterval = 10 * time.Millisecond
	// HealthInterval is how often the supervisors check each worker.
	HealthInterval = 20 * time.Millisecond
	// UnhealthyThreshold is how many unhealthy checks in a row restart a worker.
	UnhealthyThreshold = 3
)

// Tree is the microservice supervision tree and handles on its workers.
type Tree struct {
	// Root is the top-level supervisor, "microservice". Start it, Stop it,
	// subscribe to it: sub-supervisors report their events to it.
	Root *supervisor.Supervisor

	workers []*Worker // in start order
	byPath  map[string]*Worker
}

// Microservice builds the tree, not started. opts configure the root
// supervisor only: the sub-supervisors use the root's logger and report
// their events to its handlers, and each keeps the default restart
// intensity (3 restarts in 5s) so that a worker that keeps crashing
// escalates to the root.
func Microservice(opts ...supervisor.Option) *Tree {
	t := &Tree{byPath: make(map[string]*Worker)}
	t.Root = supervisor.New("microservice", supervisor.OneForAll, supervisor.Permanent, opts...)

	// Request handlers are independent: one crashing must not disturb the
	// others.
	api := supervisor.New("http-api", supervisor.OneForOne, supervisor.Permanent)
	handlers := make([]*Worker, 3)
	for i := range handlers {
		// The batch builder names its children prefix-0 .. prefix-(n-1).
		handlers[i] = t.newWorker(api, "handler-"+strconv.Itoa(i))
	}
	must(api.Children("handler", len(handlers)).
		HealthCheckInterval(HealthInterval).UnhealthyThreshold(UnhealthyThreshold).
		SpawnBatchWith(func(i int) supervisor.Child { return handlers[i].incarnate() }))

	// Orders and payments share state that must agree: they restart together.
	logic := supervisor.New("business-logic", supervisor.OneForAll, supervisor.Permanent)
	t.spawn(logic, "order-service", "payment-service")

	// Each stage depends on the ones started before it: the cache fronts the
	// pool, the repository uses both.
	data := supervisor.New("data-layer", supervisor.RestForOne, supervisor.Permanent)
	t.spawn(data, "db-pool", "cache", "repository")

	for _, sub := range []*supervisor.Supervisor{api, logic, data} {
		must(t.Root.AddSupervisor(sub))
	}
	return t
}

// must panics on errors that cannot happen: the tree is fixed, so an error
// while adding a child to a supervisor that has not started is a bug here.
func must(err error) {
	if err != nil {
		panic("demo: building the tree: " + err.Error())
	}
}

// spawn adds one worker per name under sup.
func (t *Tree) spawn(sup *supervisor.Supervisor, names ...string) {
	for _, name := range names {
		w := t.newWorker(sup, name)
		must(sup.Child(name).
			HealthCheckInterval(HealthInterval).UnhealthyThreshold(UnhealthyThreshold).
			SpawnFunc(w.incarnate))
	}
}

// newWorker records the worker that will run as child name of sup.
func (t *Tree) newWorker(sup *supervisor.Supervisor, name string) *Worker {
	w := &Worker{path: sup.Name() + "/" + name, faults: make(chan error, 1)}
	t.workers = append(t.workers, w)
	t.byPath[w.path] = w
	return w
}

// Workers returns every worker, in the order the tree starts them.
func (t *Tree) Workers() []*Worker { return append([]*Worker(nil), t.workers...) }

// Worker returns the worker at path, such as "data-layer/cache", or nil.
func (t *Tree) Worker(path string) *Worker { return t.byPath[path] }

// Inject crashes a worker chosen by rng and says what it did. The fault
// reaches the worker's running incarnation, or its next one if it is
// restarting; a worker that has a fault pending already is left alone.
func (t *Tree) Inject(rng *rand.Rand) string {
	w := t.workers[rng.IntN(len(t.workers))]
	if !w.Crash(ErrInjected) {
		return w.Path() + " has a fault pending already"
	}
	return "crash " + w.Path()
}

// Worker is one fake worker of the tree. It outlives its incarnations: its
// supervisor builds a fresh incarnation on every (re)start, and Crash and
// SetHealth reach whichever one is running.
type Worker struct {
	path   string
	faults chan error // capacity 1: a fault waits for an incarnation to take it
	ops    atomic.Int64

	mu     sync.Mutex
	status health.Status
}

// Path returns the worker's place below the root, "data-layer/cache".
func (w *Worker) Path() string { return w.path }

// Crash makes the running incarnation fail with err, or the next one if
// none is running. It reports false, and does nothing, when a fault is
// pending already.
func (w *Worker) Crash(err error) bool {
	select {
	case w.faults <- err:
		return true
	default:
		return false
	}
}

// SetHealth sets what the running incarnation reports to its supervisor's
// health checks. It lasts until the incarnation ends: a restart brings a
// fresh, healthy incarnation, which is the point of restarting.
func (w *Worker) SetHealth(st health.Status) {
	w.mu.Lock()
	w.status = st
	w.mu.Unlock()
}

// Health returns what the worker reports to health checks.
func (w *Worker) Health() health.Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

// Ops returns the units of work done by all incarnations so far.
func (w *Worker) Ops() int64 { return w.ops.Load() }

// incarnate is the worker's factory (Spec.New): it runs on every (re)start.
func (w *Worker) incarnate() supervisor.Child {
	w.SetHealth(health.Healthy())
	return incarnation{w}
}

// incarnation is one run of a Worker, from a (re)start to its end.
type incarnation struct{ w *Worker }

// Serve does fake work until its supervisor stops it or a fault arrives.
func (in incarnation) Serve(ctx context.Context) error {
	tick := time.NewTicker(WorkInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-in.w.faults:
			return err
		case <-tick.C:
			in.w.ops.Add(1)
		}
	}
}

// CheckHealth reports the status set by SetHealth.
func (in incarnation) CheckHealth(context.Context) health.Status { return in.w.Health() }
