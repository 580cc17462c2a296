package actor

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/airssys/rt/supervisor"
)

// receivePanics panics in Receive, a named function so the origin can be
// checked.
type receivePanics struct{}

func (receivePanics) Receive(*Context[int], int) error { panic("in Receive") }

// firstPanic spawns the actor factory makes under a OneForOne supervisor,
// sends it one message, and returns the child_failed event its panic
// causes and the event's PanicError, whose Value must be value.
func firstPanic(t *testing.T, factory func() Actor[int], value string) (supervisor.Event, *supervisor.PanicError) {
	t.Helper()
	failed := make(chan supervisor.Event, 1)
	sup := newSup(t, supervisor.OneForOne, supervisor.WithEventHandler(func(e supervisor.Event) {
		if e.Kind == supervisor.EventChildFailed {
			select {
			case failed <- e:
			default:
			}
		}
	}))
	ref, err := Spawn(sup, "a", factory)
	if err != nil {
		t.Fatal(err)
	}
	_ = ref.Send(1)
	e := <-failed
	var pe *supervisor.PanicError
	if !errors.As(e.Err, &pe) || pe.Value != value {
		t.Fatalf("failure %v", e.Err)
	}
	return e, pe
}

// An actor's panic carries the same cheap stack as a plain child's: its
// origin is the actor's own code, not the actor package's plumbing.
func TestPanicInReceiveNamesItsOrigin(t *testing.T) {
	e, pe := firstPanic(t, func() Actor[int] { return receivePanics{} }, "in Receive")
	if f, ok := pe.Origin(); !ok || !strings.HasSuffix(f.Function, "receivePanics.Receive") || !strings.HasSuffix(f.File, "panic_test.go") {
		t.Fatalf("origin %+v", f)
	}
	if !strings.Contains(e.String(), "receivePanics.Receive (") {
		t.Fatalf("event text %q", e.String())
	}
}

// A Func is called without its Receive method's frame (see receive): its
// panic still names the function it adapts, and its stack still shows
// where the actor package called it.
func TestPanicInFuncNamesItsOrigin(t *testing.T) {
	e, pe := firstPanic(t, func() Actor[int] {
		return Func[int](func(_ *Context[int], m int) error {
			panic("in a Func")
		})
	}, "in a Func")
	if f, ok := pe.Origin(); !ok || !strings.Contains(f.Function, "TestPanicInFuncNamesItsOrigin.func") || !strings.HasSuffix(f.File, "panic_test.go") {
		t.Fatalf("origin %+v", f)
	}
	if st := pe.Stack(); !strings.Contains(st, "actor.(*incarnation[...]).receive(...)") {
		t.Fatalf("stack without the actor's receive:\n%s", st)
	}
	if !strings.Contains(e.String(), "TestPanicInFuncNamesItsOrigin.func") {
		t.Fatalf("event text %q", e.String())
	}
}

// TestRegressionPanicWithErrShutdownIsACrash: a Receive that panicked with
// supervisor.ErrShutdown (or an error wrapping it) counted as a normal
// end, because the exit rule asked errors.Is and a PanicError unwraps to
// its value: the message counted as processed rather than as a dead
// letter, and a Transient actor was not restarted. A panic is a crash
// whatever its value.
func TestRegressionPanicWithErrShutdownIsACrash(t *testing.T) {
	for _, v := range []error{supervisor.ErrShutdown, fmt.Errorf("done: %w", supervisor.ErrShutdown)} {
		ended := make(chan supervisor.EventKind, 1)
		sup := newSup(t, supervisor.OneForOne, supervisor.WithEventHandler(func(e supervisor.Event) {
			if e.Kind == supervisor.EventChildFailed || e.Kind == supervisor.EventChildExited {
				ended <- e.Kind
			}
		}))
		var made atomic.Int32
		seen := make(chan Stats, 1)
		ref, err := Spawn(sup, "a", func() Actor[int] {
			made.Add(1)
			return Func[int](func(c *Context[int], n int) error {
				switch n {
				case 1:
					panic(v)
				case 3:
					seen <- c.Self().Stats() // 1 and 2 are accounted for
				}
				return nil
			})
		}, WithRestart(supervisor.Transient))
		if err != nil {
			t.Fatal(err)
		}
		_ = ref.Send(1)
		_ = ref.Send(2)
		_ = ref.Send(3)
		if k := <-ended; k != supervisor.EventChildFailed {
			t.Fatalf("panic(%v): %v, want %v", v, k, supervisor.EventChildFailed)
		}
		if st := <-seen; st.Processed != 1 || st.DeadLetters != 1 || made.Load() != 2 {
			t.Fatalf("panic(%v): stats %+v, made %d; want 1 processed, 1 dead letter, 2 incarnations", v, st, made.Load())
		}
	}
}
