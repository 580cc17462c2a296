package demo_test

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/internal/demo"
	"github.com/airssys/rt/supervisor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit only fails a test whose tree is really stuck: supervisors react
// in microseconds, even under the race detector.
const waitLimit = 10 * time.Second

// start builds and starts a tree whose events arrive on the returned
// channel, and stops it when the test ends.
func start(t *testing.T) (*demo.Tree, <-chan supervisor.Event) {
	t.Helper()
	events := make(chan supervisor.Event, 4096)
	tree := demo.Microservice(
		supervisor.WithLogger(slog.New(slog.DiscardHandler)),
		supervisor.WithEventHandler(func(e supervisor.Event) {
			select {
			case events <- e:
			default: // never block supervision; the buffer outlasts any test
			}
		}),
	)
	if err := tree.Root.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tree.Root.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return tree, events
}

func await(t *testing.T, events <-chan supervisor.Event, what string, match func(supervisor.Event) bool) supervisor.Event {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case e := <-events:
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s within %v", what, waitLimit)
		}
	}
}

func is(kind supervisor.EventKind, sup, child string) func(supervisor.Event) bool {
	return func(e supervisor.Event) bool {
		return e.Kind == kind && e.Supervisor == sup && e.Child == child
	}
}

// child finds the ChildInfo of a worker by its path below the root.
func child(t *testing.T, tree *demo.Tree, path string) supervisor.ChildInfo {
	t.Helper()
	supName, name, _ := strings.Cut(path, "/")
	for _, sub := range tree.Root.WhichChildren() {
		if sub.Name != supName {
			continue
		}
		for _, c := range sub.Supervisor.WhichChildren() {
			if c.Name == name {
				return c
			}
		}
	}
	t.Fatalf("no child %s in the tree", path)
	return supervisor.ChildInfo{}
}

func TestTreeShape(t *testing.T) {
	tree := demo.Microservice()
	want := []string{
		"http-api/handler-0", "http-api/handler-1", "http-api/handler-2",
		"business-logic/order-service", "business-logic/payment-service",
		"data-layer/db-pool", "data-layer/cache", "data-layer/repository",
	}
	var got []string
	for _, w := range tree.Workers() {
		got = append(got, w.Path())
		if tree.Worker(w.Path()) != w {
			t.Errorf("Worker(%q) does not find it", w.Path())
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("workers %v, want %v", got, want)
	}
	if a := tree.Actor("notifications/mailer"); a.Name() != "mailer" {
		t.Errorf("Actor(notifications/mailer) = %v", a)
	}
	strategies := map[string]supervisor.Strategy{}
	for _, c := range tree.Root.WhichChildren() {
		strategies[c.Name] = c.Supervisor.Strategy()
	}
	wantStrategies := map[string]supervisor.Strategy{
		"http-api": supervisor.OneForOne, "business-logic": supervisor.OneForAll, "data-layer": supervisor.RestForOne,
		"notifications": supervisor.OneForOne,
	}
	for name, s := range wantStrategies {
		if strategies[name] != s {
			t.Errorf("%s: strategy %v, want %v", name, strategies[name], s)
		}
	}
	if tree.Root.Strategy() != supervisor.OneForAll {
		t.Errorf("root strategy %v", tree.Root.Strategy())
	}
}

// TestInjectRestarts injects random faults and sees each crashed worker
// come back, counted in WhichChildren.
func TestInjectRestarts(t *testing.T) {
	tree, events := start(t)
	rng := rand.New(rand.NewPCG(7, 11))
	// Three faults cannot exceed any supervisor's intensity (3 in 5s).
	for range 3 {
		what := tree.Inject(rng)
		failed := await(t, events, "injected failure", func(e supervisor.Event) bool {
			return e.Kind == supervisor.EventChildFailed && errors.Is(e.Err, demo.ErrInjected)
		})
		path := strings.TrimPrefix(failed.Supervisor, "microservice/") + "/" + failed.Child
		if what != "crash "+path && what != "poison for "+path && what != "panic in "+path {
			t.Errorf("Inject said %q, but %s failed", what, path)
		}
		restarted := await(t, events, "restart of "+path, is(supervisor.EventChildRestarted, failed.Supervisor, failed.Child))
		if got := child(t, tree, path).Restarts; got < restarted.Restarts || got == 0 {
			t.Errorf("%s: WhichChildren says %d restarts, the event %d", path, got, restarted.Restarts)
		}
	}
}

// TestStrategies crashes one worker per sub-supervisor and checks who was
// restarted with it.
func TestStrategies(t *testing.T) {
	tree, events := start(t)
	crash := func(path, last string) {
		t.Helper()
		if !tree.Worker(path).Crash(demo.ErrInjected) {
			t.Fatalf("%s had a fault pending", path)
		}
		sup, _, _ := strings.Cut(path, "/")
		await(t, events, "restart of "+last, is(supervisor.EventChildRestarted, "microservice/"+sup, last))
	}
	crash("http-api/handler-1", "handler-1")
	crash("business-logic/payment-service", "payment-service")
	crash("data-layer/cache", "repository")

	want := map[string]int{
		"http-api/handler-0": 0, "http-api/handler-1": 1, "http-api/handler-2": 0,
		"business-logic/order-service": 1, "business-logic/payment-service": 1,
		"data-layer/db-pool": 0, "data-layer/cache": 1, "data-layer/repository": 1,
	}
	for path, n := range want {
		if got := child(t, tree, path).Restarts; got != n {
			t.Errorf("%s: %d restarts, want %d", path, got, n)
		}
	}
}

// TestHealth degrades a worker (reported, not acted on), then makes it
// unhealthy until its supervisor restarts it.
func TestHealth(t *testing.T) {
	tree, events := start(t)
	const sup = "microservice/data-layer"
	db := tree.Worker("data-layer/db-pool")

	db.SetHealth(health.Degraded("slow queries"))
	e := await(t, events, "degraded db-pool", is(supervisor.EventHealthChanged, sup, "db-pool"))
	if e.Health.State != health.StateDegraded {
		t.Fatalf("health changed to %v, want degraded", e.Health)
	}

	db.SetHealth(health.Unhealthy("connection refused"))
	await(t, events, "health restart of db-pool", is(supervisor.EventHealthRestart, sup, "db-pool"))
	await(t, events, "restart of repository", is(supervisor.EventChildRestarted, sup, "repository"))
	if got := db.Health(); got.State != health.StateHealthy {
		t.Errorf("a fresh incarnation reports %v, want healthy", got)
	}
	if c := child(t, tree, "data-layer/db-pool"); c.Restarts != 1 {
		t.Errorf("db-pool: %d restarts, want 1", c.Restarts)
	}
}

// TestEscalation crashes a handler until http-api gives up, and sees the
// root restart every subsystem.
func TestEscalation(t *testing.T) {
	tree, events := start(t)
	const api = "microservice/http-api"
	h := tree.Worker("http-api/handler-0")
	for {
		h.Crash(demo.ErrInjected)
		e := await(t, events, "restart of handler-0 or escalation", func(e supervisor.Event) bool {
			return is(supervisor.EventChildRestarted, api, "handler-0")(e) ||
				e.Kind == supervisor.EventIntensityExceeded && e.Supervisor == api
		})
		if e.Kind == supervisor.EventIntensityExceeded {
			break
		}
	}
	await(t, events, "restart of notifications", is(supervisor.EventChildRestarted, "microservice", "notifications"))
	for _, c := range tree.Root.WhichChildren() {
		if c.Restarts != 1 || c.State != supervisor.ChildRunning {
			t.Errorf("%s: %v with %d restarts, want running with 1", c.Name, c.State, c.Restarts)
		}
	}
	if got := child(t, tree, "http-api/handler-0").Restarts; got != supervisor.DefaultMaxRestarts {
		t.Errorf("handler-0: %d restarts, want %d", got, supervisor.DefaultMaxRestarts)
	}
}

// TestActors: the actors hear of the workers' work, and poison makes one
// fail and restart, its mailbox kept, the poison a dead letter.
func TestActors(t *testing.T) {
	tree, events := start(t)
	audit := tree.Actor("notifications/audit")
	// A note of ours, then the poison: the mailbox is in order, so the
	// note has been processed once audit fails on the poison.
	if err := audit.Send(demo.Note{From: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := tree.Poison("notifications/audit"); err != nil {
		t.Fatal(err)
	}
	failed := await(t, events, "audit failing on poison", is(supervisor.EventChildFailed, "microservice/notifications", "audit"))
	if !errors.Is(failed.Err, demo.ErrInjected) {
		t.Errorf("audit failed with %v", failed.Err)
	}
	await(t, events, "restart of audit", is(supervisor.EventChildRestarted, "microservice/notifications", "audit"))
	if st := audit.Stats(); st.DeadLetters == 0 || st.Processed == 0 {
		t.Errorf("audit's stats %+v: want the note processed and the poison a dead letter", st)
	}
	if c := child(t, tree, "notifications/mailer"); c.Restarts != 0 || c.Kind != "actor" {
		t.Errorf("mailer: %+v; want an actor untouched by audit's failure (OneForOne)", c)
	}
	if err := tree.Poison("notifications/nobody"); err == nil {
		t.Error("poison for no actor: no error")
	}
}

// TestPanic: a worker told to panic fails with a *supervisor.PanicError,
// and is restarted like any failed worker.
func TestPanic(t *testing.T) {
	tree, events := start(t)
	if !tree.Worker("data-layer/cache").Panic(demo.ErrInjected) {
		t.Fatal("a fault was pending")
	}
	e := await(t, events, "cache failing", is(supervisor.EventChildFailed, "microservice/data-layer", "cache"))
	var p *supervisor.PanicError
	if !errors.As(e.Err, &p) || !errors.Is(e.Err, demo.ErrInjected) {
		t.Errorf("cache failed with %#v, want a PanicError of ErrInjected", e.Err)
	}
	await(t, events, "restart of repository", is(supervisor.EventChildRestarted, "microservice/data-layer", "repository"))
}
