package demo_test

import (
	"bytes"
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
	strategies := map[string]supervisor.Strategy{}
	for _, c := range tree.Root.WhichChildren() {
		strategies[c.Name] = c.Supervisor.Strategy()
	}
	wantStrategies := map[string]supervisor.Strategy{
		"http-api": supervisor.OneForOne, "business-logic": supervisor.OneForAll, "data-layer": supervisor.RestForOne,
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
		if what != "crash "+path {
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
	await(t, events, "restart of data-layer", is(supervisor.EventChildRestarted, "microservice", "data-layer"))
	for _, c := range tree.Root.WhichChildren() {
		if c.Restarts != 1 || c.State != supervisor.ChildRunning {
			t.Errorf("%s: %v with %d restarts, want running with 1", c.Name, c.State, c.Restarts)
		}
	}
	if got := child(t, tree, "http-api/handler-0").Restarts; got != supervisor.DefaultMaxRestarts {
		t.Errorf("handler-0: %d restarts, want %d", got, supervisor.DefaultMaxRestarts)
	}
}

func TestPrinterMergesRuns(t *testing.T) {
	var buf bytes.Buffer
	p := demo.NewPrinter(&buf)
	ev := func(sup string, kind supervisor.EventKind, child string, err error) {
		p.Event(supervisor.Event{Supervisor: sup, Kind: kind, Child: child, Err: err})
	}
	const dl = "microservice/data-layer"
	ev(dl, supervisor.EventChildFailed, "cache", demo.ErrInjected)
	ev(dl, supervisor.EventChildStopped, "repository", nil)
	ev(dl, supervisor.EventChildRestarted, "cache", nil)
	ev(dl, supervisor.EventChildRestarted, "repository", nil)
	p.Printf("done")
	ev(dl, supervisor.EventSupervisorStopped, "", nil) // a sub-supervisor's routine event: left out
	ev("microservice", supervisor.EventChildStopped, "data-layer", nil)
	p.Flush()

	want := "" +
		"  data-layer      cache failed: injected fault\n" +
		"  data-layer      stopped repository\n" +
		"  data-layer      restarted cache, repository\n" +
		"done\n" +
		"  microservice    stopped data-layer\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestWriteTree(t *testing.T) {
	tree, events := start(t)
	tree.Worker("data-layer/cache").Crash(demo.ErrInjected)
	await(t, events, "restart of repository", is(supervisor.EventChildRestarted, "microservice/data-layer", "repository"))

	var buf bytes.Buffer
	if err := demo.WriteTree(&buf, tree.Root); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"microservice  ", "├── http-api", "│   └── handler-2", "└── data-layer",
		"    ├── cache", "restarts=1", "RestForOne",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tree lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 12 {
		t.Errorf("tree has %d lines, want 12:\n%s", n, out)
	}
}
