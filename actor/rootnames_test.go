package actor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/airssys/rt/supervisor"
)

// An actor spawned under its running System's root is registered once, in
// the root's table of children (stRootName), not in the System's
// registry as well; the System's views and errors stay what they were.
func TestRootNamesAreRegisteredOnce(t *testing.T) {
	sys, sub := systemWithSub(t)

	stopper := func() Actor[int] {
		return Func[int](func(*Context[int], int) error { return supervisor.ErrShutdown })
	}
	a, err := SpawnIn(sys, "a", stopper, WithRestart(supervisor.Temporary))
	if err != nil {
		t.Fatal(err)
	}
	if a.c.state.Load()&stRootName == 0 {
		t.Fatal("a spawn on the running root's lane did not take the one-registration path")
	}
	sys.mu.RLock()
	n := sys.names.len()
	sys.mu.RUnlock()
	if n != 0 {
		t.Fatalf("the System's registry holds %d names, want 0 (the root's table holds a)", n)
	}
	if got, err := Lookup[int](sys, "a"); err != nil || got != a {
		t.Fatalf("Lookup: %v, %v", got, err)
	}
	if _, err := Lookup[string](sys, "a"); !errors.Is(err, ErrWrongType) {
		t.Fatalf("Lookup with the wrong type: %v", err)
	}

	// Names are unique across the root's table and the registry, with the
	// errors a registration in the registry gave.
	_, err = SpawnIn(sys, "a", noop[int])
	if want := `actor "a": system "sys": actor name already taken`; err == nil || err.Error() != want || !errors.Is(err, ErrDuplicateName) {
		t.Fatalf("a duplicate on the lane: %v, want %q", err, want)
	}
	if _, err := Spawn(sub, "a", noop[int]); !errors.Is(err, ErrDuplicateName) {
		t.Fatalf("a duplicate deeper in the tree of a name on the lane: %v, want ErrDuplicateName", err)
	}
	if _, err := Spawn(sub, "deep", noop[int]); err != nil {
		t.Fatal(err)
	}
	_, err = SpawnIn(sys, "deep", noop[int])
	if want := `actor "deep": system "sys": actor name already taken`; err == nil || err.Error() != want {
		t.Fatalf("a duplicate on the lane of a name taken deeper: %v, want %q", err, want)
	}
	// A child of the root that is no actor of the System does not hold an
	// actor's name: the root refuses the duplicate itself, as before.
	if err := sys.Root().StartChild(supervisor.Spec{Name: "plain", Restart: supervisor.Temporary,
		New: func() supervisor.Child {
			return supervisor.ChildFunc(func(ctx context.Context) error { <-ctx.Done(); return nil })
		}}); err != nil {
		t.Fatal(err)
	}
	if _, err := SpawnIn(sys, "plain", noop[int]); !errors.Is(err, supervisor.ErrAlreadyStarted) || errors.Is(err, ErrDuplicateName) {
		t.Fatalf("a name held by a plain child of the root: %v, want ErrAlreadyStarted", err)
	}

	if got, want := fmt.Sprint(sys.Names()), "[a deep]"; got != want {
		t.Fatalf("Names = %s, want %s", got, want)
	}

	// Stopped for good: gone from every view by the time Done closes, and
	// the name is free for a successor at once.
	_ = a.Send(1) // it stops itself, for good
	<-a.Done()
	if _, err := Lookup[int](sys, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup after the stop: %v", err)
	}
	if got, want := fmt.Sprint(sys.Names()), "[deep]"; got != want {
		t.Fatalf("Names after the stop = %s, want %s", got, want)
	}
	if _, err := SpawnIn(sys, "a", noop[int]); err != nil {
		t.Fatalf("a successor under the name: %v", err)
	}
}

// Two actors of one name, one spawned on the root's lane and one joining
// the System deeper in the tree at the same time: exactly one gets it,
// whatever the order (the lane's check and the registry's claim are one
// step under the root's name lock).
func TestRootNamesRaceOneWins(t *testing.T) {
	sys, sub := systemWithSub(t)
	for i := range 200 {
		name := fmt.Sprintf("x%d", i)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for j := range errs {
			wg.Go(func() {
				if j%2 == 0 {
					_, errs[j] = SpawnIn(sys, name, noop[int])
				} else {
					_, errs[j] = Spawn(sub, name, noop[int])
				}
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrDuplicateName) && !errors.Is(err, supervisor.ErrAlreadyStarted) &&
				!errors.Is(err, supervisor.ErrAlreadyPresent):
				t.Fatalf("%s: %v", name, err)
			}
		}
		if won != 1 {
			t.Fatalf("%s: %d spawns won the name (%v), want 1", name, won, errs)
		}
	}
}

// After Shutdown a spawn under the root fails with ErrStopped, as the
// registration in the registry made it fail before.
func TestRootNamesAfterShutdown(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := sys.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := SpawnIn(sys, "late", noop[int]); !errors.Is(err, supervisor.ErrStopped) {
		t.Fatalf("SpawnIn after Shutdown: %v, want ErrStopped", err)
	}
}

// systemWithSub returns a running System, shut down when the test ends,
// and a running supervisor "sub" under its root: names live in the root's
// table (actors spawned on the root's lane) or in the System's registry
// (actors deeper in the tree, under sub).
func systemWithSub(t *testing.T) (*System, *supervisor.Supervisor) {
	t.Helper()
	sys := NewSystem("sys", WithSystemLogger(quiet))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Shutdown(context.Background()) })
	sub := supervisor.New("sub", supervisor.OneForOne, supervisor.Permanent, supervisor.WithLogger(quiet))
	if err := sys.Root().AddSupervisor(sub); err != nil {
		t.Fatal(err)
	}
	return sys, sub
}
