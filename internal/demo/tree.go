package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airssys/rt/actor"
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

// Tree is the microservice supervision tree and handles on its workers and
// actors.
type Tree struct {
	// Root is the top-level supervisor, "microservice". Start it, Stop it,
	// subscribe to it: sub-supervisors report their events to it.
	Root *supervisor.Supervisor

	workers []*Worker // in start order
	byPath  map[string]*Worker
	actors  map[string]actor.Ref[Note] // by path below the root
}

// Note is what the actors of the tree receive: news of a unit of work done
// by a worker, or poison, which makes the actor fail (see [Tree.Poison]).
type Note struct {
	From   string // the worker's path below the root
	Poison bool
}

// ActorNames are the actors of the notifications subsystem, in start order.
var ActorNames = []string{"audit", "mailer"}

// RootIntensity is the root's restart intensity unless opts set another:
// the root does not give up short of a hundred escalations a second. If it
// did, its actors would stop for good with it (the tree has ended), and
// the demo would have no actors to show.
var RootIntensity = supervisor.WithIntensity(1000, 10*time.Second)

// Microservice builds the tree, not started. opts configure the root
// supervisor only, after RootIntensity: the sub-supervisors use the root's
// logger and report their events to its handlers, and each keeps the
// default restart intensity (3 restarts in 5s) so that a worker that keeps
// crashing escalates to the root.
func Microservice(opts ...supervisor.Option) *Tree {
	t := &Tree{byPath: make(map[string]*Worker), actors: make(map[string]actor.Ref[Note])}
	t.Root = supervisor.New("microservice", supervisor.OneForAll, supervisor.Permanent,
		append([]supervisor.Option{RootIntensity}, opts...)...)

	// The actors come first, so that the workers can hold their Refs; they
	// start last, as the root's last child.
	notes := supervisor.New("notifications", supervisor.OneForOne, supervisor.Permanent)
	for _, name := range ActorNames {
		ref, err := actor.Spawn(notes, name, func() actor.Actor[Note] { return actor.Func[Note](receive) })
		must(err)
		t.actors["notifications/"+name] = ref
	}
	audit, mailer := t.actors["notifications/audit"], t.actors["notifications/mailer"]

	// Request handlers are independent: one crashing must not disturb the
	// others. Each tells audit of every request.
	api := supervisor.New("http-api", supervisor.OneForOne, supervisor.Permanent)
	handlers := make([]*Worker, 3)
	for i := range handlers {
		// The batch builder names its children prefix-0 .. prefix-(n-1).
		handlers[i] = t.newWorker(api, "handler-"+strconv.Itoa(i), audit)
	}
	must(api.Children("handler", len(handlers)).
		HealthCheckInterval(HealthInterval).UnhealthyThreshold(UnhealthyThreshold).
		SpawnBatchWith(func(i int) supervisor.Child { return handlers[i].incarnate() }))

	// Orders and payments share state that must agree: they restart
	// together. The order service tells the mailer of every order.
	logic := supervisor.New("business-logic", supervisor.OneForAll, supervisor.Permanent)
	t.spawn(logic, "order-service", mailer)
	t.spawn(logic, "payment-service", actor.Ref[Note]{})

	// Each stage depends on the ones started before it: the cache fronts the
	// pool, the repository uses both.
	data := supervisor.New("data-layer", supervisor.RestForOne, supervisor.Permanent)
	for _, name := range []string{"db-pool", "cache", "repository"} {
		t.spawn(data, name, actor.Ref[Note]{})
	}

	for _, sub := range []*supervisor.Supervisor{api, logic, data, notes} {
		must(t.Root.AddSupervisor(sub))
	}
	return t
}

// receive is the actors' behaviour: take note, or fail on poison.
func receive(_ *actor.Context[Note], n Note) error {
	if n.Poison {
		return ErrInjected
	}
	return nil
}

// must panics on errors that cannot happen: the tree is fixed, so an error
// while adding a child to a supervisor that has not started is a bug here.
func must(err error) {
	if err != nil {
		panic("demo: building the tree: " + err.Error())
	}
}

// spawn adds a worker called name under sup; it tells notify of its work
// unless notify is the zero Ref.
func (t *Tree) spawn(sup *supervisor.Supervisor, name string, notify actor.Ref[Note]) {
	w := t.newWorker(sup, name, notify)
	must(sup.Child(name).
		HealthCheckInterval(HealthInterval).UnhealthyThreshold(UnhealthyThreshold).
		SpawnFunc(w.incarnate))
}

// newWorker records the worker that will run as child name of sup.
func (t *Tree) newWorker(sup *supervisor.Supervisor, name string, notify actor.Ref[Note]) *Worker {
	w := &Worker{path: sup.Name() + "/" + name, faults: make(chan error, 1), notify: notify}
	t.workers = append(t.workers, w)
	t.byPath[w.path] = w
	return w
}

// Workers returns every worker, in the order the tree starts them.
func (t *Tree) Workers() []*Worker { return append([]*Worker(nil), t.workers...) }

// Worker returns the worker at path, such as "data-layer/cache", or nil.
func (t *Tree) Worker(path string) *Worker { return t.byPath[path] }

// Actor returns the Ref of the actor at path, such as
// "notifications/audit", or the zero Ref.
func (t *Tree) Actor(path string) actor.Ref[Note] { return t.actors[path] }

// Poison sends the actor at path a message that makes it fail, as a bug
// triggered by bad input would: the message goes to dead letters, and the
// actor's supervisor restarts it.
func (t *Tree) Poison(path string) error {
	ref, ok := t.actors[path]
	if !ok {
		return fmt.Errorf("demo: no actor %s", path)
	}
	return ref.Send(Note{Poison: true})
}

// Inject makes a child chosen by rng fail and says what it did: a worker
// crashes (returns an error, or panics), or an actor gets poison. The fault reaches a worker's running
// incarnation, or its next one if it is restarting; a worker that has a
// fault pending already is left alone.
func (t *Tree) Inject(rng *rand.Rand) string {
	i := rng.IntN(len(t.workers) + len(ActorNames))
	if i >= len(t.workers) {
		path := "notifications/" + ActorNames[i-len(t.workers)]
		if err := t.Poison(path); err != nil {
			return "poison for " + path + ": " + err.Error()
		}
		return "poison for " + path
	}
	w := t.workers[i]
	if rng.IntN(3) == 0 {
		if !w.Panic(ErrInjected) {
			return w.Path() + " has a fault pending already"
		}
		return "panic in " + w.Path()
	}
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
	notify actor.Ref[Note] // told of every unit of work, unless zero

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

// Panic makes the running incarnation panic with v, or the next one if
// none is running: a bug rather than an error returned, which the
// supervisor recovers as a *supervisor.PanicError with the stack. It
// reports false, and does nothing, when a fault is pending already.
func (w *Worker) Panic(v any) bool { return w.Crash(panicking{v}) }

// panicking is a fault that the incarnation raises as a panic.
type panicking struct{ v any }

func (p panicking) Error() string { return fmt.Sprint("panic: ", p.v) }

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
			if p, ok := err.(panicking); ok {
				panic(p.v)
			}
			return err
		case <-tick.C:
			in.w.ops.Add(1)
			if in.w.notify != (actor.Ref[Note]{}) {
				// Best effort: an actor that has stopped for good (the
				// tree ended) refuses notes, and a demo has no use for them.
				_ = in.w.notify.Send(Note{From: in.w.path})
			}
		}
	}
}

// CheckHealth reports the status set by SetHealth.
func (in incarnation) CheckHealth(context.Context) health.Status { return in.w.Health() }
