package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
)

// panicLine is set by panicker to the line of its panic.
var panicLine int

type panicker struct{ kind string }

func (p panicker) Serve(ctx context.Context) error {
	_, _, line, _ := runtime.Caller(0)
	panicLine = line + 5
	var m map[string]int
	switch p.kind {
	case "value":
		panic("oops") // panicLine
	case "runtime":
		m["x"] = 1 // a runtime error, raised inside the runtime
	}
	return nil
}

// failOnce runs c once under a supervisor and returns the error of its
// first incarnation.
func failOnce(t *testing.T, c Child) error {
	t.Helper()
	var err error
	synctest.Test(t, func(t *testing.T) {
		var ev eventLog
		s := New("root", OneForOne, Temporary, quiet, WithEventHandler(ev.handler))
		if e := s.SpawnChild("p", c); e != nil {
			t.Fatal(e)
		}
		mustStart(t, s)
		synctest.Wait()
		e, ok := ev.find(EventChildFailed)
		if !ok {
			t.Fatal("no child_failed event")
		}
		err = e.Err
		mustStop(t, s)
	})
	return err
}

func TestPanicErrorNamesItsOrigin(t *testing.T) {
	cases := []struct {
		name, kind string
		line       int // offset from panicLine
	}{
		{"value", "value", 0},
		{"runtime error", "runtime", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := failOnce(t, panicker{kind: tc.kind})
			var pe *PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("%v is not a *PanicError", err)
			}
			f, ok := pe.Origin()
			if !ok || !strings.HasSuffix(f.Function, "panicker.Serve") || !strings.HasSuffix(f.File, "panic_test.go") || f.Line != panicLine+tc.line {
				t.Fatalf("origin %s %s:%d, want panicker.Serve at line %d", f.Function, f.File, f.Line, panicLine+tc.line)
			}
			if want := fmt.Sprintf("panic_test.go:%d)", panicLine+tc.line); !strings.HasSuffix(pe.At(), want) {
				t.Fatalf("At %q, want a suffix %q", pe.At(), want)
			}
			stack := pe.Stack()
			if !strings.Contains(stack, "panicker.Serve(...)\n\t") || strings.Contains(stack, "NewPanicError") {
				t.Fatalf("stack:\n%s", stack)
			}
			if frames := pe.Frames(); len(frames) == 0 || strings.Contains(frames[0].Function, "gopanic") {
				t.Fatalf("frames %v", frames)
			}
		})
	}
}

// A ChildFunc is plumbing: the origin is the function it adapts.
func TestPanicErrorOriginSkipsAdapters(t *testing.T) {
	err := failOnce(t, ChildFunc(func(ctx context.Context) error { panic("in a func") }))
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatal(err)
	}
	if f, _ := pe.Origin(); !strings.Contains(f.Function, "TestPanicErrorOriginSkipsAdapters.func") {
		t.Fatalf("origin %s, want the test's closure", f.Function)
	}
	if !strings.Contains(pe.Stack(), "ChildFunc.Serve") {
		t.Fatalf("the stack lost the adapter's frame:\n%s", pe.Stack())
	}
}

// A PanicError built by hand has no stack, and says so without failing.
func TestPanicErrorWithoutStack(t *testing.T) {
	pe := &PanicError{Value: 1}
	if _, ok := pe.Origin(); ok || pe.At() != "" || pe.Stack() != "" || pe.Frames() != nil {
		t.Fatalf("%+v", pe)
	}
	if got := (Event{Kind: EventChildFailed, Err: pe}).String(); strings.Contains(got, " at ") {
		t.Fatal(got)
	}
}

// The stack of a panic was captured with debug.Stack at every recover and
// then shown nowhere: the child_failed line now names the function and
// file:line it came from and carries the stack, and so does the event's
// text.
func TestRegressionPanicStackInChildFailedLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		var ev eventLog
		logger := slog.New(slog.NewJSONHandler(&buf, nil))
		s := New("root", OneForOne, Temporary, WithLogger(logger), WithEventHandler(ev.handler))
		if err := s.SpawnChild("p", panicker{kind: "value"}); err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		synctest.Wait()
		mustStop(t, s)
		want := fmt.Sprintf("panic_test.go:%d)", panicLine)
		var line map[string]any
		for _, l := range buf.lines() {
			if l["msg"] == "child_failed" {
				line = l
			}
		}
		at, _ := line["at"].(string)
		stack, _ := line["stack"].(string)
		if !strings.Contains(at, "panicker.Serve (") || !strings.HasSuffix(at, want) || !strings.Contains(stack, "panicker.Serve(...)") {
			t.Fatalf("child_failed line %v", line)
		}
		if e, _ := ev.find(EventChildFailed); !strings.HasSuffix(e.String(), want) {
			t.Fatalf("event text %q", e.String())
		}
	})
}

// TestRegressionPanicWithErrShutdownIsACrash: a child that panicked with
// ErrShutdown, or with an error wrapping it, ended normally, because the
// exit rule asked errors.Is and a PanicError unwraps to its value: a
// Transient child stayed down and the event said child_exited. A panic is
// a crash whatever its value (the exit-reason rules in the package doc).
func TestRegressionPanicWithErrShutdownIsACrash(t *testing.T) {
	cases := []struct {
		name  string
		fail  func() error
		crash bool
	}{
		{"panic(ErrShutdown)", func() error { panic(ErrShutdown) }, true},
		{"panic(an error wrapping ErrShutdown)", func() error { panic(fmt.Errorf("done: %w", ErrShutdown)) }, true},
		{"a returned error wrapping a PanicError of ErrShutdown", func() error {
			return fmt.Errorf("relayed: %w", &PanicError{Value: ErrShutdown})
		}, true},
		{"return ErrShutdown", func() error { return ErrShutdown }, false},
		{"return an error wrapping ErrShutdown", func() error { return fmt.Errorf("done: %w", ErrShutdown) }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var ev eventLog
				s := New("root", OneForOne, Transient, quiet, WithEventHandler(ev.handler))
				runs := 0
				err := s.SpawnChild("c", ChildFunc(func(ctx context.Context) error {
					if runs++; runs == 1 {
						return tc.fail()
					}
					<-ctx.Done()
					return nil
				}))
				if err != nil {
					t.Fatal(err)
				}
				mustStart(t, s)
				synctest.Wait()
				kinds := ev.kinds("c")
				_, failed := ev.find(EventChildFailed)
				_, exited := ev.find(EventChildExited)
				if tc.crash && (runs != 2 || !failed || exited) || !tc.crash && (runs != 1 || failed || !exited) {
					t.Fatalf("%d runs, events %v; want a crash: %v", runs, kinds, tc.crash)
				}
				if e, _ := ev.find(EventChildFailed); tc.crash && !errors.Is(e.Err, ErrShutdown) {
					t.Fatalf("the failure %v hides its value from errors.Is", e.Err)
				}
				mustStop(t, s)
			})
		})
	}
}
