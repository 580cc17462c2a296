package supervisor

// Adversarial cases for the stacks NewPanicError reads off the
// frame-pointer chain (errors.go, fpcallers_amd64.s), beyond those of
// TestPanicErrorStackMatchesRuntime: panics during a panic, re-panics,
// panics from deferred functions, method values, goroutines started with
// go, closures over generic code. Each must give the frames the runtime's
// unwinder gives from the same recovering function, starting at the
// function that raised the panic recovered.

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

type counterT struct{ n int }

//go:noinline
func (c *counterT) bump(f func()) { c.n++; nested(1, f) }

//go:noinline
func deferPanics(f func()) {
	defer func() { panic("from defer") }()
	f()
}

// deferInLoopPanics defers in a loop, so its defers are not open-coded:
// runtime.deferreturn runs them, a frame the runtime's unwinder hides.
//
//go:noinline
func deferInLoopPanics(f func()) {
	for i := range 2 {
		defer func() {
			if i == 0 {
				panic("from a defer in a loop")
			}
		}()
	}
	f()
}

//go:noinline
func rePanics(f func()) {
	defer func() {
		v := recover()
		panic(v) // the same value again, from here
	}()
	f()
}

//go:noinline
func genericClosure[T any](v T) func() {
	return func() { nested(1, func() { panic(v) }) }
}

// comparePanicFrames checks pe's frames against want, the runtime's.
func comparePanicFrames(t *testing.T, pe *PanicError, want []runtime.Frame) {
	t.Helper()
	got := pe.Frames()
	if len(got) == 0 {
		t.Fatal("no frames")
	}
	if pe.stk.n != maxPanicDepth && len(got) != len(want) || len(got) > len(want) {
		t.Fatalf("%d frames, want %d:\n%s\nwant:\n%s", len(got), len(want), show(got), show(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Function != w.Function || g.File != w.File || g.Line != w.Line {
			t.Fatalf("frame %d is %s (%s:%d), want %s (%s:%d)\ngot:\n%s\nwant:\n%s",
				i, g.Function, g.File, g.Line, w.Function, w.File, w.Line, show(got), show(want))
		}
	}
}

// TestRegressionPanicErrorStackOfNestedPanics: Frames cut the stack at the
// outermost runtime.gopanic, so a panic raised in a deferred function while
// another panic unwound (or a re-panic after a recover there) lost its own
// frames, and At named the first panic's site instead of the one recovered.
// A deferred function run by runtime.deferreturn (a defer in a loop, or any
// defer under -race) had that runtime frame, which the runtime's unwinder
// hides, in its stack. The other cases (a method value, a generic closure)
// passed before and guard the frame-pointer walk.
func TestRegressionPanicErrorStackOfNestedPanics(t *testing.T) {
	c := &counterT{}
	bump := c.bump // a method value
	cases := []struct {
		name   string
		f      func()
		origin string // a part of At's function
	}{
		{"panic in a defer while panicking", func() { deferPanics(func() { panic("first") }) }, "deferPanics"},
		{"panic in a defer on return", func() { deferPanics(func() {}) }, "deferPanics"},
		{"panic in a defer in a loop on return", func() { deferInLoopPanics(func() {}) }, "deferInLoopPanics"},
		{"re-panic after recover", func() { rePanics(func() { nested(2, func() { panic("orig") }) }) }, "rePanics"},
		{"method value", func() { bump(func() { panic("mv") }) }, "TestRegressionPanicErrorStackOfNestedPanics"},
		{"generic closure", func() { genericClosure(3)() }, "genericClosure"},
		{"nil map in a defer while panicking", func() {
			deferRuntimeErr(func() { panic("first") })
		}, "deferRuntimeErr"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pe, want := recordPanic(tc.f)
			comparePanicFrames(t, pe, want)
			if at := pe.At(); !strings.Contains(at, tc.origin) {
				t.Fatalf("At() = %q, want the panic raised in %s\n%s", at, tc.origin, pe.Stack())
			}
		})
	}
}

//go:noinline
func deferRuntimeErr(f func()) {
	defer func() {
		var m map[int]int
		m[1] = 1
	}()
	f()
}

// TestPanicErrorStackInAGoroutine: a panic in a goroutine started with a go statement (the compiler wraps
// its call), recovered there.
func TestPanicErrorStackInAGoroutine(t *testing.T) {
	var pe *PanicError
	var want []runtime.Frame
	done := make(chan struct{})
	go recordInto(&pe, &want, done, func() { nested(2, func() { panic(errors.New("in go")) }) })
	<-done
	comparePanicFrames(t, pe, want)
}

//go:noinline
func recordInto(pe **PanicError, want *[]runtime.Frame, done chan struct{}, f func()) {
	defer close(done)
	*pe, *want = recordPanic(f)
}
