package actor

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airssys/rt/supervisor"
)

// logBuffer is a slog destination that tests can read while others write.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// Issue 7 item 6: actor.ErrStopped and supervisor.ErrStopped were two
// values, so a System's Start after Shutdown (the supervisor's) did not
// match actor.ErrStopped, nor an actor's Send supervisor.ErrStopped. The
// same for ErrNotFound. Now each is one value.
func TestRegressionOneErrStoppedAndErrNotFound(t *testing.T) {
	if !errors.Is(ErrStopped, supervisor.ErrStopped) || !errors.Is(supervisor.ErrStopped, ErrStopped) {
		t.Fatal("ErrStopped differs between actor and supervisor")
	}
	if !errors.Is(ErrNotFound, supervisor.ErrNotFound) || !errors.Is(supervisor.ErrNotFound, ErrNotFound) {
		t.Fatal("ErrNotFound differs between actor and supervisor")
	}
	sys := NewSystem("sys", WithSystemLogger(quiet))
	ref, err := SpawnIn(sys, "a", noop[int])
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := sys.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := sys.Start(context.Background()); !errors.Is(err, ErrStopped) {
		t.Errorf("Start after Shutdown = %v, want actor.ErrStopped", err)
	}
	if err := ref.Send(1); !errors.Is(err, supervisor.ErrStopped) {
		t.Errorf("Send after Shutdown = %v, want supervisor.ErrStopped", err)
	}
	if _, err := Lookup[int](sys, "a"); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("Lookup after Shutdown = %v, want supervisor.ErrNotFound", err)
	}
	sup := newSup(t, supervisor.OneForOne)
	if err := sup.TerminateChild("nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("TerminateChild(unknown) = %v, want actor.ErrNotFound", err)
	}
}

// Issue 7 item 6: a panic in a dead-letter subscriber was recovered and
// forgotten. Now it is logged at Error level with its stack, and delivery
// goes on.
func TestRegressionDeadLetterSubscriberPanicIsLogged(t *testing.T) {
	var logs logBuffer
	sys := NewSystem("sys", WithSystemLogger(logs.logger()))
	got := make(chan any, 1)
	defer sys.DeadLetters().Subscribe(func(dl DeadLetter) {
		if dl.Message == 1 {
			panic("subscriber bug")
		}
		got <- dl.Message
	})()
	deadLetter(sys.DeadLetters(), "x", 1, errBoom)
	deadLetter(sys.DeadLetters(), "x", 2, errBoom)
	if m := <-got; m != 2 {
		t.Fatalf("got %v", m)
	}
	out := logs.String()
	for _, want := range []string{"level=ERROR", "dead-letter subscriber panicked", "subscriber bug", "stack=", "TestRegressionDeadLetterSubscriberPanicIsLogged"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
}

// Issue 7 item 7b: a panic in a Watch callback, or in the message function
// of Monitor, ran on a bare goroutine and killed the process. Now it is
// recovered and logged with its stack, like event handlers' panics.
func TestRegressionWatchAndMonitorPanicsAreRecovered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs logBuffer
		sup := newSup(t, supervisor.OneForOne)
		target, err := Spawn(sup, "target", noop[int], WithRestart(supervisor.Temporary), WithLogger(logs.logger()))
		if err != nil {
			t.Fatal(err)
		}
		watcher, err := Spawn(sup, "watcher", noop[string])
		if err != nil {
			t.Fatal(err)
		}
		target.Watch(func(error) { panic("watch bug") })
		Monitor(watcher, target, func(error) string { panic("monitor bug") })
		_ = sup.TerminateChild("target") // Temporary: removed, stopped for good
		<-target.Done()
		synctest.Wait()
		out := logs.String()
		if n := strings.Count(out, "Watch callback panicked"); n != 2 {
			t.Errorf("%d panics logged, want 2: %q", n, out)
		}
		for _, want := range []string{"watch bug", "monitor bug", "level=ERROR", "stack="} {
			if !strings.Contains(out, want) {
				t.Errorf("log %q lacks %q", out, want)
			}
		}
	})
}

// Issue 7 item 6: Monitor ignored its Send's error, so a watcher whose
// Bounded(Fail) mailbox was full lost the notice without a trace. Now the
// refused notice is a dead letter of the watcher, wrapping ErrMailboxFull.
func TestRegressionMonitorNoticeRefusedIsADeadLetter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		letters := collect(t, sys.DeadLetters())
		gate := make(chan struct{})
		watcher, err := SpawnIn(sys, "watcher", func() Actor[string] {
			return Func[string](func(ctx *Context[string], _ string) error {
				select {
				case <-gate:
				case <-ctx.Context().Done():
				}
				return nil
			})
		}, WithMailbox(Bounded(1, Fail)))
		if err != nil {
			t.Fatal(err)
		}
		target, err := SpawnIn(sys, "target", noop[int], WithRestart(supervisor.Temporary))
		if err != nil {
			t.Fatal(err)
		}
		if err := sys.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer sys.Shutdown(context.Background())
		defer close(gate)
		_ = watcher.Send("busy")
		synctest.Wait() // in Receive, held by gate
		if err := watcher.Send("full"); err != nil {
			t.Fatal(err) // the one slot
		}
		Monitor(watcher, target, func(reason error) string { return "down" })
		_ = sys.Root().TerminateChild("target")
		<-target.Done()
		synctest.Wait()
		select {
		case dl := <-letters:
			if dl.Message != "down" || dl.Target != "watcher" || !errors.Is(dl.Reason, ErrMailboxFull) {
				t.Fatalf("dead letter %+v, want the refused notice", dl)
			}
		default:
			t.Fatal("the refused notice is no dead letter")
		}
	})
}

// Issue 7 item 7b: Shutdown after a failed Start waited for a root that
// had never run, forever. It returns at once now.
func TestRegressionShutdownAfterFailedStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		if _, err := SpawnIn(sys, "bad", func() Actor[int] { return failingPreStart{} }); err != nil {
			t.Fatal(err)
		}
		if err := sys.Start(context.Background()); !errors.Is(err, errBoom) {
			t.Fatalf("Start = %v, want the PreStart failure", err)
		}
		for i := range 2 {
			if err := sys.Shutdown(context.Background()); err != nil {
				t.Fatalf("Shutdown #%d = %v", i+1, err)
			}
		}
	})
}

type failingPreStart struct{}

func (failingPreStart) PreStart(*Context[int]) error     { return errBoom }
func (failingPreStart) Receive(*Context[int], int) error { return nil }

// Issue 7 item 7b: a second Shutdown of a System that never started waited
// for the root's end, which never came. Shutdown is idempotent, as
// documented.
func TestRegressionSecondShutdownOfNeverStartedSystem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		ref, err := SpawnIn(sys, "a", noop[int])
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if err := sys.Shutdown(context.Background()); err != nil {
				t.Fatalf("Shutdown #%d = %v", i+1, err)
			}
		}
		if !errors.Is(ref.Err(), ErrStopped) {
			t.Fatalf("actor of a System shut down before it started: Err = %v", ref.Err())
		}
	})
}

// Issue 7 item 4: Shutdown cancelled the root's ctx and returned when the
// root was done, before the event handlers had been given the tree's last
// events. It returns after them now, as Stop does.
func TestRegressionShutdownWaitsForEventHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var seen []supervisor.EventKind
		handler := func(e supervisor.Event) {
			time.Sleep(time.Second) // a slow handler
			mu.Lock()
			seen = append(seen, e.Kind)
			mu.Unlock()
		}
		sys := NewSystem("sys", WithSystemLogger(quiet), WithSupervisorOptions(supervisor.WithEventHandler(handler)))
		if _, err := SpawnIn(sys, "a", noop[int]); err != nil {
			t.Fatal(err)
		}
		if err := sys.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 || seen[len(seen)-1] != supervisor.EventSupervisorStopped {
			t.Fatalf("handler had seen %v when Shutdown returned, want it to end with %v", seen, supervisor.EventSupervisorStopped)
		}
	})
}

// Issue 7 item 7b: an actor.Spec given to a second supervisor while the
// first ran it failed to start there, and that failure disposed of the
// actor: it stopped for good under the first supervisor too. Now the
// second start fails with ErrInvalidSpec and the actor keeps running,
// restarts included.
func TestRegressionSpecReusedInSecondSupervisor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProbe(func(_ int, _ *Context[int], msg int) error {
			if msg < 0 {
				return errBoom
			}
			return nil
		})
		spec, ref := Spec("a", p.factory)
		first := newSup(t, supervisor.OneForOne)
		if err := first.StartChild(spec); err != nil {
			t.Fatal(err)
		}
		second := newSup(t, supervisor.OneForOne)
		if err := second.StartChild(spec); !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("second StartChild = %v, want ErrInvalidSpec", err)
		}
		if err := ref.Err(); err != nil {
			t.Fatalf("the actor stopped: %v", err)
		}
		_ = ref.Send(-1) // crash: the first supervisor restarts it
		_ = ref.Send(7)
		synctest.Wait()
		if err := ref.Err(); err != nil {
			t.Fatalf("the actor stopped at its restart: %v", err)
		}
		if n := p.incarnations(); n != 2 {
			t.Fatalf("%d incarnations, want 2", n)
		}
		p.mu.Lock()
		last := p.got[len(p.got)-1]
		p.mu.Unlock()
		if last.inc != 2 || last.msg != 7 {
			t.Fatalf("last delivery %+v, want 7 to incarnation 2", last)
		}
	})
}

// Issue 7 item 4, the other way to end: when the root had already given up
// by itself (intensity exceeded), Shutdown returned at once, while the
// event handlers were still being given the tree's last events. It waits
// for them too now.
func TestRegressionShutdownAfterTheRootGaveUpWaitsForEventHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var seen []supervisor.EventKind
		handler := func(e supervisor.Event) {
			time.Sleep(time.Second) // a slow handler
			mu.Lock()
			seen = append(seen, e.Kind)
			mu.Unlock()
		}
		sys := NewSystem("sys", WithSystemLogger(quiet), WithSupervisorOptions(
			supervisor.WithIntensity(0, time.Second), supervisor.WithEventHandler(handler)))
		ref, err := SpawnIn(sys, "a", func() Actor[int] {
			return Func[int](func(*Context[int], int) error { return errBoom })
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := sys.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		_ = ref.Send(1) // the crash is one restart too many: the root gives up
		<-sys.Done()
		if err := sys.Shutdown(context.Background()); !errors.Is(err, supervisor.ErrIntensityExceeded) {
			t.Fatalf("Shutdown = %v, want the root's ErrIntensityExceeded", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 || seen[len(seen)-1] != supervisor.EventSupervisorStopped {
			t.Fatalf("handler had seen %v when Shutdown returned, want it to end with %v", seen, supervisor.EventSupervisorStopped)
		}
	})
}

// Issue 7 item 7b (Shutdown promptness): Shutdown called while Start was
// still starting the tree (a slow PreStart) returned at once, while the
// tree came up. Now it waits for the Start, then stops what it started.
func TestRegressionShutdownDuringStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		stopped := make(chan struct{})
		ref, err := SpawnIn(sys, "slow", func() Actor[int] {
			return &slowStart{stopped: stopped}
		})
		if err != nil {
			t.Fatal(err)
		}
		started := make(chan error, 1)
		go func() { started <- sys.Start(context.Background()) }()
		time.Sleep(time.Second) // Start is in PreStart
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
		select {
		case <-stopped:
		default:
			t.Fatal("Shutdown returned before the actor it started had stopped")
		}
		if err := <-started; err != nil {
			t.Fatalf("Start = %v", err)
		}
		if !errors.Is(ref.Err(), ErrStopped) {
			t.Fatalf("Err = %v", ref.Err())
		}
	})
}

type slowStart struct{ stopped chan struct{} }

func (s *slowStart) PreStart(*Context[int]) error     { time.Sleep(2 * time.Second); return nil }
func (s *slowStart) Receive(*Context[int], int) error { return nil }
func (s *slowStart) PostStop(*Context[int])           { close(s.stopped) }

// Done closed before the actor's name was released: dispose closed it under
// the cell's lock and unregistered the name afterwards, so a program that
// waited for Done and spawned a successor under the same name could get
// ErrDuplicateName, and System.Names still listed the stopped actor. The
// name now goes before Done closes.
func TestRegressionNameReleasedBeforeDone(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet), WithSupervisorOptions(supervisor.WithLogger(quiet)))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sys.Shutdown(context.Background()) }()
	stopOnFirst := func() Actor[int] {
		return Func[int](func(*Context[int], int) error { return supervisor.ErrShutdown })
	}
	for i := range 2000 {
		ref, err := SpawnIn(sys, "a", stopOnFirst, WithRestart(supervisor.Temporary))
		if err != nil {
			t.Fatalf("round %d: SpawnIn after the predecessor's Done: %v", i, err)
		}
		_ = ref.Send(1)
		<-ref.Done()
		if names := sys.Names(); len(names) != 0 {
			t.Fatalf("round %d: Names after Done = %v, want none", i, names)
		}
	}
}

// An actor that stops normally, with nobody having asked for Done, a
// watcher or its logger, records no error (stopLocked spares it the
// allocations): Err makes one when asked, and a later Watch gets one.
func TestErrAfterQuietNormalStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sup := supervisor.New("root", supervisor.OneForOne, supervisor.Temporary, supervisor.WithLogger(quiet))
		if err := sup.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ref, err := Spawn(sup, "a", func() Actor[int] {
			return Func[int](func(*Context[int], int) error { return supervisor.ErrShutdown })
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = ref.Send(1)
		synctest.Wait()
		if ref.c.rare.Load() != nil {
			t.Fatal("a quiet normal stop made a cellRare")
		}
		err = ref.Err()
		if !errors.Is(err, ErrStopped) || err.Error() != `actor "a": stopped` {
			t.Fatalf("Err = %v", err)
		}
		got := make(chan error, 1)
		ref.Watch(func(err error) { got <- err })
		if err := <-got; !errors.Is(err, ErrStopped) {
			t.Fatalf("Watch after the stop got %v", err)
		}
		if err := sup.Stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// Found by TestBoundedPoliciesWithManySenders (Block, about one run in
// four under -race): Stats read MailboxLen under the cell's lock and
// Processed after releasing it, so an activation waiting for the lock
// could take and handle the whole mailbox in between, and one Stats
// counted the same messages both as waiting and as handled. Every
// snapshot must count each message sent at most once.
func TestRegressionStatsCountsEachMessageOnce(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	ref, err := Spawn(sup, "a", func() Actor[int] {
		return Func[int](func(*Context[int], int) error { return nil })
	}, WithMailbox(Bounded(8, Block)))
	if err != nil {
		t.Fatal(err)
	}
	const n = 50_000
	var sent atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			if err := ref.Send(i); err != nil {
				t.Error(err)
				return
			}
			sent.Add(1)
		}
	})
	for {
		st := ref.Stats()
		// At most one message is sent and not yet in sent: the one
		// whose Send is under way.
		if most := uint64(sent.Load()) + 1; uint64(st.MailboxLen)+st.Processed > most {
			t.Errorf("MailboxLen %d + Processed %d > %d messages sent", st.MailboxLen, st.Processed, most)
			break
		}
		if st.Processed == n {
			break
		}
	}
	wg.Wait()
}
