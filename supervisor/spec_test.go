package supervisor

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestInvalidSpecs(t *testing.T) {
	ok := func() Child { return ChildFunc(func(ctx context.Context) error { <-ctx.Done(); return nil }) }
	cases := map[string]Spec{
		"empty name":        {New: ok},
		"nil New":           {Name: "x"},
		"bad restart":       {Name: "x", New: ok, Restart: 9},
		"negative restart":  {Name: "x", New: ok, Restart: -1},
		"graceful zero":     {Name: "x", New: ok, Shutdown: Graceful(0)},
		"graceful negative": {Name: "x", New: ok, Shutdown: Graceful(-time.Second)},
		"bad shutdown":      {Name: "x", New: ok, Shutdown: -7},
		"start timeout":     {Name: "x", New: ok, StartTimeout: -1},
		"health interval":   {Name: "x", New: ok, Health: HealthPolicy{Interval: -1}},
		"health timeout":    {Name: "x", New: ok, Health: HealthPolicy{Timeout: -1}},
		"health threshold":  {Name: "x", New: ok, Health: HealthPolicy{UnhealthyThreshold: -1}},
		"significant perm":  {Name: "x", New: ok, Significant: true, Restart: Permanent},
		"significant never": {Name: "x", New: ok, Significant: true, Restart: Transient},
		"source and New":    {Name: "x", New: ok, Source: &countingSource{}},
		"source and Dispose": {Name: "x", Source: &countingSource{},
			Dispose: func(error) {}},
	}
	for name, spec := range cases {
		s := New("root", OneForOne, Permanent, quiet)
		if err := s.StartChild(spec); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%s: StartChild = %v, want ErrInvalidSpec", name, err)
		}
	}
	// The same through the builders.
	s := New("root", OneForOne, Permanent, quiet)
	builders := map[string]error{
		"nil Spawn":        s.Child("a").Spawn(nil),
		"nil SpawnFunc":    s.Child("a").SpawnFunc(nil),
		"negative timeout": s.Child("a").ShutdownTimeout(-time.Second).SpawnFunc(ok),
		"negative start":   s.Child("a").StartTimeout(-time.Second).SpawnFunc(ok),
		"negative health":  s.Child("a").HealthCheckInterval(-time.Second).SpawnFunc(ok),
		"negative thresh":  s.Child("a").UnhealthyThreshold(-1).SpawnFunc(ok),
		"batch nil":        s.Children("w", 2).SpawnBatch(nil),
		"batch negative":   s.Children("w", -1).SpawnBatch(ok),
		"batch no prefix":  s.Children("", 2).SpawnBatch(ok),
		"nil supervisor":   s.AddSupervisor(nil),
		"nil child":        s.SpawnChild("x", nil),
	}
	for name, err := range builders {
		if !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%s = %v, want ErrInvalidSpec", name, err)
		}
	}
	if n := s.CountChildren(); n.Specs != 0 {
		t.Fatalf("invalid specs were recorded: %+v", n)
	}
}

func TestNewReturningNilOrPanickingIsAStartFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New("root", OneForOne, Permanent, quiet)
		mustStart(t, s)
		if err := s.StartChild(Spec{Name: "nil", New: func() Child { return nil }}); !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("nil New result: %v", err)
		}
		err := s.StartChild(Spec{Name: "p", New: func() Child { panic("no") }})
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Value != "no" {
			t.Fatalf("panicking New: %v", err)
		}
		mustStop(t, s)
	})
}

func TestInvalidOptions(t *testing.T) {
	cases := map[string]*Supervisor{
		"intensity":    New("s", OneForOne, Permanent, WithIntensity(-1, time.Second)),
		"period":       New("s", OneForOne, Permanent, WithIntensity(1, 0)),
		"backoff":      New("s", OneForOne, Permanent, WithBackoff(Backoff{Initial: -1})),
		"multiplier":   New("s", OneForOne, Permanent, WithBackoff(Backoff{Initial: 1, Multiplier: 0.5})),
		"jitter":       New("s", OneForOne, Permanent, WithBackoff(Backoff{Initial: 1, Jitter: 1})),
		"max":          New("s", OneForOne, Permanent, WithBackoff(Backoff{Initial: 2, Max: 1})),
		"autoshutdown": New("s", OneForOne, Permanent, WithAutoShutdown(7)),
		"logger":       New("s", OneForOne, Permanent, WithLogger(nil)),
		"handler":      New("s", OneForOne, Permanent, WithEventHandler(nil)),
		"strategy":     New("s", 5, Permanent),
		"restart":      New("s", OneForOne, 9),
	}
	for name, s := range cases {
		if err := s.Start(context.Background()); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: Start = %v, want ErrInvalidOption", name, err)
		}
	}
	//lint:ignore SA1012 a nil context is exactly the bad input under test
	if err := New("s", OneForOne, Permanent).Start(nil); !errors.Is(err, ErrInvalidOption) { //nolint:staticcheck
		t.Errorf("nil ctx: %v", err)
	}
}

func TestBuilderRecordsEverySetting(t *testing.T) {
	s := New("root", OneForOne, Permanent, quiet, WithAutoShutdown(AnySignificant))
	ok := func() Child { return ChildFunc(func(ctx context.Context) error { <-ctx.Done(); return nil }) }
	err := s.Child("w").RestartPolicy(Transient).ShutdownTimeout(3 * time.Second).StartTimeout(time.Second).
		Significant(true).HealthCheckInterval(time.Second).HealthCheckTimeout(time.Millisecond).
		UnhealthyThreshold(7).SpawnFunc(ok)
	if err != nil {
		t.Fatal(err)
	}
	c := s.children.byName.get("w")
	want := Spec{Name: "w", Restart: Transient, Shutdown: Graceful(3 * time.Second), StartTimeout: time.Second,
		Significant: true, Health: HealthPolicy{Interval: time.Second, Timeout: time.Millisecond, UnhealthyThreshold: 7}}
	got := c.public()
	got.New = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("spec\n got  %+v\n want %+v", got, want)
	}
	err = s.Children("pool", 3).RestartPolicy(Temporary).ShutdownPolicy(BrutalKill).StartTimeout(time.Second).
		Significant(true).HealthCheckInterval(time.Second).HealthCheckTimeout(time.Second).UnhealthyThreshold(2).
		ShutdownTimeout(time.Second).SpawnBatch(ok)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(s), ","); got != "w,pool-0,pool-1,pool-2" {
		t.Fatal(got)
	}
	if c := s.children.byName.get("pool-2"); c.restart() != Temporary || c.spec.shutdownPolicy() != Graceful(time.Second) || c.spec.health().UnhealthyThreshold != 2 {
		t.Fatalf("%+v", c.public())
	}
}

func TestSpawnReusesValueAndSpawnBatchWithIndexes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen []int
		s := New("root", OneForOne, Permanent, quiet)
		err := s.Children("w", 3).SpawnBatchWith(func(i int) Child {
			seen = append(seen, i)
			return ChildFunc(func(ctx context.Context) error { <-ctx.Done(); return nil })
		})
		if err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		if len(seen) != 3 || seen[0] != 0 || seen[2] != 2 {
			t.Fatalf("%v", seen)
		}
		mustStop(t, s)
	})
}

func TestStringers(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{OneForAll.String(), "OneForAll"}, {Strategy(9).String(), "Strategy(9)"},
		{Transient.String(), "Transient"}, {RestartPolicy(9).String(), "RestartPolicy(9)"},
		{Graceful(time.Second).String(), "Graceful(1s)"}, {BrutalKill.String(), "BrutalKill"},
		{Infinity.String(), "Infinity"}, {ShutdownPolicy(0).String(), "Default"},
		{ChildRestarting.String(), "restarting"}, {AllSignificant.String(), "AllSignificant"},
		{EventChildAbandoned.String(), "child_abandoned"}, {EventKind(99).String(), "EventKind(99)"},
		{(&PanicError{Value: 1}).Error(), "panic: 1"},
	} {
		if c.got != c.want {
			t.Errorf("%q != %q", c.got, c.want)
		}
	}
}

// TestObservableIsThereBetweenIncarnations: a spec's Observable reaches
// observers through ChildInfo whether an incarnation runs or not, each
// child its own, whatever its type (a map cannot be interned: no panic).
func TestObservableIsThereBetweenIncarnations(t *testing.T) {
	type tail struct{ lines []string }
	a, b := &tail{lines: []string{"a"}}, map[string]int{"b": 1}
	s := New("root", OneForOne, Permanent, quiet)
	idle := func() Child { return ChildFunc(func(ctx context.Context) error { <-ctx.Done(); return nil }) }
	for name, v := range map[string]any{"a": a, "b": b} {
		if err := s.StartChild(Spec{Name: name, New: idle, Observable: v}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.StartChild(Spec{Name: "plain", New: idle}); err != nil {
		t.Fatal(err)
	}
	check := func(when string, state ChildState) {
		t.Helper()
		for _, ci := range s.WhichChildren() {
			if ci.State != state {
				t.Fatalf("%s: %s is %v, want %v", when, ci.Name, ci.State, state)
			}
			switch got := ci.Observable; ci.Name {
			case "a":
				if got != any(a) {
					t.Errorf("%s: a's Observable is %v", when, got)
				}
			case "b":
				if m, ok := got.(map[string]int); !ok || m["b"] != 1 {
					t.Errorf("%s: b's Observable is %v", when, got)
				}
			default:
				if got != nil {
					t.Errorf("%s: %s has Observable %v, set none", when, ci.Name, got)
				}
			}
		}
	}
	check("before start", ChildStopped)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	check("running", ChildRunning)
	for _, name := range []string{"a", "b", "plain"} {
		if err := s.TerminateChild(name); err != nil {
			t.Fatal(err)
		}
	}
	check("terminated", ChildStopped)
}

// countingSource is a Source that counts its calls.
type countingSource struct {
	made     int
	disposed []error
}

func (c *countingSource) New() Child {
	c.made++
	return ChildFunc(func(ctx context.Context) error {
		if c.made == 1 {
			return errors.New("first incarnation fails")
		}
		<-ctx.Done()
		return nil
	})
}

func (c *countingSource) Dispose(reason error) { c.disposed = append(c.disposed, reason) }

// A Spec's Source stands for New and Dispose: its New makes every
// incarnation (restarts included), its Dispose hears of the end once, and
// WhichChildren's Spec gives the Source back.
func TestSpecSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{}
		s := New("root", OneForOne, Permanent, quiet)
		mustStart(t, s)
		if err := s.StartChild(Spec{Name: "a", Source: src, Restart: Temporary}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := s.StartChild(Spec{Name: "b", Source: src}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if src.made != 2 {
			t.Fatalf("New called %d times, want 2", src.made)
		}
		if len(src.disposed) != 1 || src.disposed[0] == nil {
			t.Fatalf("Dispose calls %v, want one, with the temporary child's error", src.disposed)
		}
		if got := names(s); len(got) != 1 || got[0] != "b" {
			t.Fatalf("children %v, want b", got)
		}
		s.children.mu.Lock()
		spec := s.children.byName.get("b").public()
		s.children.mu.Unlock()
		if spec.Source != Source(src) || spec.New != nil || spec.Dispose != nil {
			t.Fatalf("the record gives back %+v, want the Source alone", spec)
		}
		mustStop(t, s)
		if len(src.disposed) != 2 {
			t.Fatalf("Dispose calls %v, want a second at the end of the tree", src.disposed)
		}
	})
}
