package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// quiet keeps test output free of the default slog lines.
var quiet = WithLogger(slog.New(slog.DiscardHandler))

var errBoom = errors.New("boom")

// journal records what children do, in order, across goroutines.
type journal struct {
	mu  sync.Mutex
	log []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	j.log = append(j.log, fmt.Sprintf(format, args...))
	j.mu.Unlock()
}

// take returns the entries since the last take.
func (j *journal) take() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := j.log
	j.log = nil
	return out
}

func (j *journal) expect(t *testing.T, want ...string) {
	t.Helper()
	got := j.take()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("journal:\n got  %q\n want %q", got, want)
	}
}

// rig builds controllable workers: each records "start NAME" when its Start
// runs and "stop NAME" when it returns after cancellation; a value sent on
// its fail channel makes the running incarnation return it.
type rig struct {
	j     journal
	fails sync.Map // name -> chan error
	// startErr makes the next starts of a name fail (consumed one per start).
	mu       sync.Mutex
	startErr map[string][]error
}

func newRig() *rig { return &rig{startErr: map[string][]error{}} }

func (r *rig) failChan(name string) chan error {
	ch, _ := r.fails.LoadOrStore(name, make(chan error))
	return ch.(chan error)
}

// failStarts makes the next len(errs) starts of name fail with errs in order.
func (r *rig) failStarts(name string, errs ...error) {
	r.mu.Lock()
	r.startErr[name] = append(r.startErr[name], errs...)
	r.mu.Unlock()
}

// crash makes the running incarnation of name return err; it blocks until
// one receives it.
func (r *rig) crash(name string, err error) { r.failChan(name) <- err }

type rigWorker struct {
	r    *rig
	name string
}

func (w *rigWorker) Start(ctx context.Context) error {
	w.r.mu.Lock()
	var err error
	if errs := w.r.startErr[w.name]; len(errs) > 0 {
		err, w.r.startErr[w.name] = errs[0], errs[1:]
	}
	w.r.mu.Unlock()
	if err != nil {
		w.r.j.add("startfail %s", w.name)
		return err
	}
	w.r.j.add("start %s", w.name)
	return nil
}

func (w *rigWorker) Serve(ctx context.Context) error {
	select {
	case <-ctx.Done():
		w.r.j.add("stop %s", w.name)
		return ctx.Err()
	case err := <-w.r.failChan(w.name):
		w.r.j.add("exit %s", w.name)
		if p, ok := err.(panicked); ok {
			panic(p.v)
		}
		return err
	}
}

// panicked asks a rig worker to panic with v instead of returning.
type panicked struct{ v any }

func (p panicked) Error() string { return "panicked" }

func (r *rig) spec(name string, restart RestartPolicy) Spec {
	return Spec{Name: name, Restart: restart, New: func() Child { return &rigWorker{r: r, name: name} }}
}

// add adds rig workers with the supervisor's default policy.
func (r *rig) add(t *testing.T, s *Supervisor, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := s.StartChild(r.spec(n, DefaultRestart)); err != nil {
			t.Fatal(err)
		}
	}
}

func mustStart(t *testing.T, s *Supervisor) {
	t.Helper()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func mustStop(t *testing.T, s *Supervisor) {
	t.Helper()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func childInfo(t *testing.T, s *Supervisor, name string) ChildInfo {
	t.Helper()
	for _, ci := range s.WhichChildren() {
		if ci.Name == name {
			return ci
		}
	}
	t.Fatalf("no child %q in %v", name, names(s))
	return ChildInfo{}
}

func names(s *Supervisor) []string {
	var out []string
	for _, ci := range s.WhichChildren() {
		out = append(out, ci.Name)
	}
	return out
}

// events collects a supervisor's events for assertions.
type eventLog struct {
	mu sync.Mutex
	ev []Event
}

func (l *eventLog) handler(e Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) kinds(child string) []EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []EventKind
	for _, e := range l.ev {
		if e.Child == child {
			out = append(out, e.Kind)
		}
	}
	return out
}

func (l *eventLog) find(kind EventKind) (Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.ev {
		if e.Kind == kind {
			return e, true
		}
	}
	return Event{}, false
}

// rigLauncher is a rig worker without a Start step that runs without a
// goroutine of the supervisor's (a Launcher, as actors are): a running
// OneForOne supervisor starts it on its lane.
type rigLauncher struct{ w rigWorker }

func (l *rigLauncher) Serve(ctx context.Context) error { return l.w.Serve(ctx) }

// Launch journals the start at once, as Start does for a rigWorker, and
// serves on a goroutine of its own.
func (l *rigLauncher) Launch(ctx context.Context, exit func(error)) {
	l.w.r.j.add("start %s", l.w.name)
	go func() {
		var err error
		defer func() {
			if v := recover(); v != nil {
				err = NewPanicError(v)
			}
			exit(err)
		}()
		err = l.w.Serve(ctx)
	}()
}

// launcherSpec is spec for a rigLauncher.
func (r *rig) launcherSpec(name string, restart RestartPolicy) Spec {
	return Spec{Name: name, Restart: restart, New: func() Child { return &rigLauncher{rigWorker{r: r, name: name}} }}
}
