package actor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/airssys/rt/supervisor"
)

// Issue 7 item 1: Spawn under a System's root did not make the actor a
// member (only SpawnIn and WithSystem did): Lookup said "not found" and
// its dead letters went to DefaultDeadLetters. Now the root's actors join
// at Spawn, before and while the System runs.
func TestRegressionSpawnUnderTheRootJoinsTheSystem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		early, err := Spawn(sys.Root(), "early", noop[int])
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Lookup[int](sys, "early"); err != nil || got != early {
			t.Fatalf("Lookup before Start: %v, %v", got, err)
		}
		if _, err := Spawn(sys.Root(), "early", noop[int]); !errors.Is(err, ErrDuplicateName) {
			t.Fatalf("duplicate under the root: %v, want ErrDuplicateName", err)
		}
		if err := sys.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer sys.Shutdown(context.Background())
		letters := collect(t, sys.DeadLetters())
		late, err := Spawn(sys.Root(), "late", func() Actor[int] {
			return Func[int](func(ctx *Context[int], _ int) error {
				if ctx.System() != sys {
					t.Errorf("Context.System() = %v", ctx.System())
				}
				return errBoom
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Lookup[int](sys, "late"); err != nil || got != late {
			t.Fatalf("Lookup while running: %v, %v", got, err)
		}
		_ = late.Send(1) // a crash: the message is a dead letter of sys
		synctest.Wait()
		select {
		case dl := <-letters:
			if dl.Target != "late" || !errors.Is(dl.Reason, errBoom) {
				t.Fatalf("dead letter %+v", dl)
			}
		default:
			t.Fatal("the crash's dead letter did not reach the System")
		}
	})
}

// Issue 7 item 1: the same for actors below the root, however deep,
// whether spawned before the System starts, while it runs, or under a
// supervisor added to the tree after the actor was spawned under it.
func TestRegressionSpawnBelowTheRootJoinsTheSystem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		mid := idleSup("mid", supervisor.OneForOne)
		deep := idleSup("deep", supervisor.OneForOne)
		if err := mid.AddSupervisor(deep); err != nil {
			t.Fatal(err)
		}
		if err := sys.Root().AddSupervisor(mid); err != nil {
			t.Fatal(err)
		}
		before, err := Spawn(deep, "before", noop[int])
		if err != nil {
			t.Fatal(err)
		}
		if err := sys.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer sys.Shutdown(context.Background())
		if got, err := Lookup[int](sys, "before"); err != nil || got != before {
			t.Fatalf("Lookup of an actor spawned deep before Start: %v, %v", got, err)
		}

		// While running: joined before Spawn returns; PreStart sees it.
		var seen *System
		during, err := Spawn(deep, "during", func() Actor[int] {
			return &preStartProbe{onPreStart: func(ctx *Context[int]) { seen = ctx.System() }}
		})
		if err != nil {
			t.Fatal(err)
		}
		if seen != sys {
			t.Fatalf("Context.System() in PreStart = %v, want the System", seen)
		}
		if got, err := Lookup[int](sys, "during"); err != nil || got != during {
			t.Fatalf("Lookup while running: %v, %v", got, err)
		}
		if _, err := Spawn(mid, "during", noop[int]); !errors.Is(err, ErrDuplicateName) {
			t.Fatalf("duplicate of a name taken deeper in the tree: %v, want ErrDuplicateName", err)
		}
		if _, err := Spawn(sys.Root(), "before", noop[string]); !errors.Is(err, ErrDuplicateName) {
			t.Fatalf("duplicate under the root of a name taken deep: %v, want ErrDuplicateName", err)
		}

		// A supervisor built apart and added to the running tree.
		later := idleSup("later", supervisor.OneForOne)
		added, err := Spawn(later, "added", noop[int])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Lookup[int](sys, "added"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Lookup before its supervisor joined the tree: %v", err)
		}
		if err := mid.AddSupervisor(later); err != nil {
			t.Fatal(err)
		}
		if got, err := Lookup[int](sys, "added"); err != nil || got != added {
			t.Fatalf("Lookup after its supervisor joined the tree: %v, %v", got, err)
		}
		if names := strings.Join(sys.Names(), ","); names != "added,before,during" {
			t.Fatalf("Names %s", names)
		}
	})
}

type preStartProbe struct{ onPreStart func(*Context[int]) }

func (p *preStartProbe) PreStart(ctx *Context[int]) error { p.onPreStart(ctx); return nil }
func (p *preStartProbe) Receive(*Context[int], int) error { return nil }

// Actors outside every System's tree stay out of them, even while a
// System runs: their dead letters go to DefaultDeadLetters.
func TestActorsOutsideAnySystemTree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		if err := sys.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer sys.Shutdown(context.Background())
		sup := newSup(t, supervisor.OneForOne)
		got := make(chan *System, 1)
		ref, err := Spawn(sup, "outsider", func() Actor[int] {
			return Func[int](func(ctx *Context[int], _ int) error { got <- ctx.System(); return nil })
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = ref.Send(1)
		if s := <-got; s != nil {
			t.Fatalf("Context.System() = %v, want nil", s)
		}
		if _, err := Lookup[int](sys, "outsider"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Lookup of an outsider: %v", err)
		}
	})
}

// Issue 7 item 1: Lookup said "not found" with no hint. It says why when
// the System's phase suggests it.
func TestRegressionLookupNotFoundHint(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	_, err := Lookup[int](sys, "x")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "has not started") {
		t.Fatalf("before Start: %v", err)
	}
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = Lookup[int](sys, "x")
	if want := `system "sys": actor "x": not found`; err == nil || err.Error() != want {
		t.Fatalf("while running: %v, want %q", err, want)
	}
	_ = sys.Shutdown(context.Background())
	_, err = Lookup[int](sys, "x")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "shut down") {
		t.Fatalf("after Shutdown: %v", err)
	}
}

// Issue 7 item 7: names containing "/" (the path separator of observers,
// metrics and Lookup) are refused. The supervisor refuses them at
// StartChild; the actor package says so at once, so that a Spec's Ref is
// already stopped with ErrInvalidSpec, as for an empty name, and no System
// ever registers such a name.
func TestRegressionSlashInActorNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec, ref := Spec("a/b", noop[int])
		if err := ref.Err(); !errors.Is(err, ErrInvalidSpec) || !errors.Is(err, ErrStopped) {
			t.Fatalf("Ref of a Spec named a/b: Err = %v, want ErrStopped and ErrInvalidSpec", err)
		}
		sup := newSup(t, supervisor.OneForOne)
		if err := sup.StartChild(spec); !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("StartChild: %v", err)
		}
		if _, err := Spawn(sup, "a/b", noop[int]); !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("Spawn: %v", err)
		}
		sys := NewSystem("sys", WithSystemLogger(quiet))
		if _, err := SpawnIn(sys, "x/y", noop[int]); !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("SpawnIn: %v", err)
		}
		if names := sys.Names(); len(names) != 0 {
			t.Fatalf("registered %v", names)
		}
	})
}
