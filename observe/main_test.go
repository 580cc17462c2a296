package observe

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/airssys/rt/supervisor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errBoom = errors.New("boom")

// fakeActor stands in for an actor until the actor package exists: it has
// the methods observe looks for, and Crash makes it fail as an actor does.
type fakeActor struct {
	crash chan error
}

func newFakeActor() supervisor.Child { return &fakeActor{crash: make(chan error, 1)} }

func (a *fakeActor) Serve(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-a.crash:
		return err
	}
}

func (a *fakeActor) MailboxLen() int         { return 3 }
func (a *fakeActor) Processed() uint64       { return 42 }
func (a *fakeActor) DeadLetterCount() uint64 { return 1 }

func (a *fakeActor) Crash(err error) {
	select {
	case a.crash <- err:
	default: // already crashing
	}
}

// failing returns a worker that runs until ctx ends or fail delivers an
// error, which it returns: a fault the test controls.
func failing(fail <-chan error) func() supervisor.Child {
	return func() supervisor.Child {
		return supervisor.ChildFunc(func(ctx context.Context) error {
			select {
			case <-ctx.Done():
				return nil
			case err := <-fail:
				return err
			}
		})
	}
}

// idle is a worker that runs until stopped.
func idle() supervisor.Child {
	return supervisor.ChildFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	})
}

var quiet = supervisor.WithLogger(slog.New(slog.DiscardHandler))

// testTree is the tree most tests observe:
//
//	root (OneForOne)
//	├── api (OneForOne): handler-0, handler-1, handler-2
//	├── actors (OneForOne): counter, mailer (fake actors)
//	└── db (a worker that fails when told to)
type testTree struct {
	root   *supervisor.Supervisor
	dbFail chan error
}

func startTree(t testing.TB) *testTree {
	t.Helper()
	tt := &testTree{dbFail: make(chan error)}
	root := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet,
		supervisor.WithIntensity(1000, time.Minute))
	api := supervisor.New("api", supervisor.OneForOne, supervisor.Permanent)
	actors := supervisor.New("actors", supervisor.OneForOne, supervisor.Permanent,
		supervisor.WithIntensity(1000, time.Minute))
	must(t, api.Children("handler", 3).SpawnBatch(idle))
	must(t, actors.Child("counter").SpawnFunc(newFakeActor))
	must(t, actors.Child("mailer").SpawnFunc(newFakeActor))
	must(t, root.AddSupervisor(api))
	must(t, root.AddSupervisor(actors))
	must(t, root.Child("db").SpawnFunc(failing(tt.dbFail)))
	must(t, root.Start(context.Background()))
	t.Cleanup(func() { _ = root.Stop() })
	tt.root = root
	return tt
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newObserver starts an Observer and a test server for it; both are closed
// at the end of the test, the observer first so open streams end.
func newObserver(t testing.TB, root *supervisor.Supervisor, opts ...Option) (*Observer, *httptest.Server) {
	t.Helper()
	o, err := New(root, opts...)
	must(t, err)
	srv := httptest.NewServer(o)
	t.Cleanup(func() {
		o.Close()
		srv.Close()
	})
	return o, srv
}

// waitEvent subscribes to root and returns a function that waits for the
// first later event matching match, failing the test after a generous
// timeout (it only bounds a hang; passing runs never reach it).
func waitEvent(t testing.TB, root *supervisor.Supervisor, match func(supervisor.Event) bool) func() supervisor.Event {
	t.Helper()
	ch := make(chan supervisor.Event, 1)
	cancel := root.Subscribe(func(e supervisor.Event) {
		if match(e) {
			select {
			case ch <- e:
			default:
			}
		}
	})
	t.Cleanup(cancel)
	return func() supervisor.Event {
		t.Helper()
		select {
		case e := <-ch:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("timed out waiting for an event")
			return supervisor.Event{}
		}
	}
}

func isKind(k supervisor.EventKind, child string) func(supervisor.Event) bool {
	return func(e supervisor.Event) bool { return e.Kind == k && e.Child == child }
}

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	id, event, data string
	comment         string
}

// sseReader reads server-sent events from a response body.
type sseReader struct {
	t  testing.TB
	sc *bufio.Scanner
}

func (r *sseReader) next() sseEvent {
	r.t.Helper()
	var e sseEvent
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case line == "":
			if e != (sseEvent{}) {
				return e
			}
		case strings.HasPrefix(line, ":"):
			e.comment = strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, "id: "):
			e.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			e.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			e.data = line[6:]
		case strings.HasPrefix(line, "retry: "):
		default:
			r.t.Fatalf("unexpected SSE line %q", line)
		}
	}
	r.t.Fatalf("stream ended: %v", r.sc.Err())
	return e
}

// openStream connects to /api/events with the given Last-Event-ID header
// (none if empty) and returns once the server says the stream is live.
func openStream(t testing.TB, base, lastID, query string) (*sseReader, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/events"+query, nil)
	must(t, err)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("GET /api/events: %s", res.Status)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	r := &sseReader{t: t, sc: bufio.NewScanner(res.Body)}
	if e := r.next(); e.comment != "connected" {
		t.Fatalf("first event %+v, want the connected comment", e)
	}
	closeFn := func() {
		cancel()
		res.Body.Close()
	}
	t.Cleanup(closeFn)
	return r, closeFn
}
