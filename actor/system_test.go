package actor

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airssys/rt/supervisor"
)

func noop[M any]() Actor[M] { return Func[M](func(*Context[M], M) error { return nil }) }

func TestLookup(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	ref, err := SpawnIn(sys, "counter", noop[int])
	if err != nil {
		t.Fatal(err)
	}
	// Deep in the tree: under a sub-supervisor, joined with WithSystem.
	sub := idleSup("sub", supervisor.OneForOne)
	deep, err := Spawn(sub, "deep", noop[string], WithSystem(sys))
	if err != nil {
		t.Fatal(err)
	}
	_ = sys.Root().AddSupervisor(sub)
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sys.Shutdown(context.Background())

	if got, err := Lookup[int](sys, "counter"); err != nil || got != ref {
		t.Fatalf("Lookup: %v, %v", got, err)
	}
	if got, err := Lookup[string](sys, "deep"); err != nil || got != deep {
		t.Fatalf("Lookup deep: %v, %v", got, err)
	}
	if _, err := Lookup[string](sys, "counter"); !errors.Is(err, ErrWrongType) {
		t.Fatalf("wrong type: %v", err)
	} else if want := `system "sys": actor "counter" takes int, not string: actor has another message type`; err.Error() != want {
		t.Fatalf("wrong type text: %q", err)
	}
	if _, err := Lookup[int](sys, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := Lookup[int](nil, "counter"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("nil System: %v", err)
	}
	if names := sys.Names(); !slices.Equal(names, []string{"counter", "deep"}) {
		t.Fatalf("Names %v", names)
	}
	_ = sys.Root().TerminateChild("sub")
	_ = sys.Root().DeleteChild("sub") // the subtree is gone for good
	<-deep.Done()
	if _, err := Lookup[string](sys, "deep"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after stop: %v", err)
	}
}

func TestDuplicateNames(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	if _, err := SpawnIn(sys, "x", noop[int]); err != nil {
		t.Fatal(err)
	}
	sub := idleSup("sub", supervisor.OneForOne)
	if _, err := Spawn(sub, "x", noop[string], WithSystem(sys)); !errors.Is(err, ErrDuplicateName) {
		t.Fatalf("Spawn: %v", err)
	}
	// A Spec registers when first started: the duplicate is a start failure.
	_ = sys.Start(context.Background())
	defer sys.Shutdown(context.Background())
	spec, ref := Spec("x", noop[int], WithSystem(sys))
	if err := sub.StartChild(spec); err != nil {
		t.Fatal(err) // recorded: sub has not started
	}
	if err := sys.Root().AddSupervisor(sub); !errors.Is(err, ErrDuplicateName) {
		t.Fatalf("starting the subtree: %v", err)
	}
	<-ref.Done()
	if !errors.Is(ref.Err(), ErrDuplicateName) {
		t.Fatalf("Err: %v", ref.Err())
	}
	if _, err := Lookup[int](sys, "x"); err != nil {
		t.Fatalf("the first x lost its name: %v", err)
	}
}

func TestSystemShutdownInReverseOrder(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	var mu sync.Mutex
	var order []string
	for _, name := range []string{"first", "second", "third"} {
		_, err := SpawnIn(sys, name, func() Actor[int] { return &stopRecorder{name: name, mu: &mu, order: &order} })
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := sys.Start(context.Background()); !errors.Is(err, supervisor.ErrAlreadyStarted) {
		t.Fatalf("second Start: %v", err)
	}
	if err := sys.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []string{"third", "second", "first"}) {
		t.Fatalf("PostStop order %v", order)
	}
	if err := sys.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if err := sys.Start(context.Background()); !errors.Is(err, supervisor.ErrStopped) {
		t.Fatalf("Start after Shutdown: %v", err)
	}
	if _, err := SpawnIn(sys, "late", noop[int]); err == nil {
		t.Fatal("SpawnIn after Shutdown succeeded")
	}
	select {
	case <-sys.Done():
	default:
		t.Fatal("Done not closed")
	}
}

type stopRecorder struct {
	name  string
	mu    *sync.Mutex
	order *[]string
}

func (s *stopRecorder) Receive(*Context[int], int) error { return nil }
func (s *stopRecorder) PostStop(*Context[int]) {
	s.mu.Lock()
	*s.order = append(*s.order, s.name)
	s.mu.Unlock()
}

func TestSystemShutdownContextExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		release := make(chan struct{})
		_ = sys.Root().Child("stubborn").ShutdownPolicy(supervisor.Infinity).Spawn(
			supervisor.ChildFunc(func(ctx context.Context) error {
				<-ctx.Done()
				<-release // takes its time to stop
				return nil
			}))
		ref, _ := SpawnIn(sys, "a", noop[int])
		_ = sys.Start(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := sys.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v", err)
		}
		select {
		case <-ref.Done():
			t.Fatal("stopped for good before its tree ended")
		default:
		}
		close(release) // the shutdown goes on in the background
		<-sys.Done()
		<-ref.Done()
	})
}

func TestSystemNeverStarted(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	ref, _ := SpawnIn(sys, "a", noop[int])
	_ = ref.Send(1)
	if err := sys.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-ref.Done()
	if sys.DeadLetters().Count() != 1 {
		t.Fatal("the queued message is not a dead letter")
	}
}

func TestSystemOptions(t *testing.T) {
	sys := NewSystem("sys", WithRootStrategy(supervisor.OneForAll), WithRootRestart(supervisor.Transient),
		WithSupervisorOptions(supervisor.WithIntensity(0, time.Minute)), WithSystemLogger(quiet))
	if sys.Root().Strategy() != supervisor.OneForAll || sys.Name() != "sys" || sys.Logger() != quiet {
		t.Fatal("options not applied")
	}
	ref, _ := SpawnIn(sys, "a", func() Actor[int] { return Func[int](func(*Context[int], int) error { return errBoom }) })
	_ = sys.Start(context.Background())
	_ = ref.Send(1) // intensity 0: the root gives up
	<-sys.Done()
	if err := sys.Start(context.Background()); !errors.Is(err, supervisor.ErrStopped) {
		t.Fatalf("Start after the root gave up: %v", err)
	}
	if err := sys.Shutdown(context.Background()); !errors.Is(err, supervisor.ErrIntensityExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := ref.Err(); !errors.Is(err, errBoom) {
		t.Fatalf("Err: %v", err)
	}
	bad := NewSystem("bad", WithRootStrategy(supervisor.Strategy(42)), nil)
	if err := bad.Start(context.Background()); !errors.Is(err, supervisor.ErrInvalidOption) {
		t.Fatalf("bad strategy: %v", err)
	}
	if err := bad.Start(nil); err == nil { //nolint:staticcheck // a nil ctx is bad input, reported
		t.Fatal("nil ctx accepted")
	}
	if NewSystem("plain").Logger() == nil {
		t.Fatal("no default logger")
	}
}

func TestBadInput(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	cases := []struct {
		name string
		call func() error
	}{
		{"nil supervisor", func() error { _, err := Spawn(nil, "a", noop[int]); return err }},
		{"nil System", func() error { _, err := SpawnIn[int](nil, "a", noop[int]); return err }},
		{"nil factory", func() error { _, err := Spawn[int](sup, "a", nil); return err }},
		{"empty name", func() error { _, err := Spawn(sup, "", noop[int]); return err }},
		{"negative capacity", func() error { _, err := Spawn(sup, "a", noop[int], WithMailbox(Bounded(-1, Block))); return err }},
		{"zero capacity", func() error { _, err := Spawn(sup, "a", noop[int], WithMailbox(Bounded(0, Fail))); return err }},
		{"unknown policy", func() error { _, err := Spawn(sup, "a", noop[int], WithMailbox(Bounded(1, Overflow(7)))); return err }},
		{"zero throughput", func() error { _, err := Spawn(sup, "a", noop[int], WithThroughput(0)); return err }},
		{"bad shutdown", func() error {
			_, err := Spawn(sup, "a", noop[int], WithShutdown(supervisor.Graceful(-time.Second)))
			return err
		}},
		{"nil actor", func() error {
			_, err := Spawn(sup, "a", func() Actor[int] { return nil })
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("got %v, want ErrInvalidSpec", err)
			}
		})
	}
	// The Spec shape reports through the supervisor, and the Ref knows.
	spec, ref := Spec[int]("a", nil)
	if err := sup.StartChild(spec); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("StartChild: %v", err)
	}
	if !errors.Is(ref.Err(), ErrInvalidSpec) || !errors.Is(ref.Err(), ErrStopped) {
		t.Fatalf("Err: %v", ref.Err())
	}
	if err := ref.Send(1); !errors.Is(err, ErrStopped) {
		t.Fatalf("Send: %v", err)
	}
	// A panicking factory is a start failure too.
	_, err := Spawn(sup, "p", func() Actor[int] { panic("factory bug") })
	var pe *supervisor.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("panicking factory: %v", err)
	}
	// nil options are ignored.
	if _, err := Spawn(sup, "ok", noop[int], nil); err != nil {
		t.Fatal(err)
	}
}

func TestMailboxString(t *testing.T) {
	if s := Unbounded().String(); s != "Unbounded" {
		t.Fatal(s)
	}
	mb := Bounded(8, DropOldest)
	if mb.String() != "Bounded(8, DropOldest)" || mb.Capacity() != 8 || mb.Policy() != DropOldest {
		t.Fatal(mb.String())
	}
	if s := Overflow(9).String(); s != "Overflow(9)" {
		t.Fatal(s)
	}
	if b, _ := Fail.MarshalText(); string(b) != "Fail" {
		t.Fatal(string(b))
	}
}
