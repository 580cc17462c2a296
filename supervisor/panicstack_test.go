package supervisor

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// The stack NewPanicError records (read off the frame-pointer chain where
// it can be) must name the same frames, lines included, as the runtime's
// own unwinder: through calls the compiler inlined, wrappers it made,
// generic code, closures, runtime errors, and stacks deeper than a
// PanicError keeps.

//go:noinline
func nested(n int, f func()) {
	if n == 0 {
		f()
		return
	}
	nested(n-1, f)
}

// small enough to be inlined into its callers
func inlinedCall(f func()) { f() }

//go:noinline
func callsInlined(f func()) { inlinedCall(f) }

type valueDoer struct{}

// Called through an interface on a value receiver: the compiler adds a
// pointer-receiver wrapper frame.
func (valueDoer) Do(f func()) { nested(1, f) }

type doer interface{ Do(func()) }

// A leaf with no frame of its own: a nil p faults inside it, and the
// frame-pointer chain would skip its caller.
//
//go:noinline
func leafLoad(p *struct{ x int }) int { return p.x }

//go:noinline
func genericCall[T any](_ T, f func()) { f() }

var sinkInt int

// recordPanic runs f and returns the PanicError of its panic, with the
// frames the runtime's unwinder sees from the same deferred function.
func recordPanic(f func()) (pe *PanicError, want []runtime.Frame) {
	defer func() {
		v := recover()
		pe = NewPanicError(v)
		pcs := make([]uintptr, 256)
		n := runtime.Callers(1, pcs)
		want = framesAfterPanic(pcs[:n])
	}()
	f()
	return nil, nil
}

func framesAfterPanic(pcs []uintptr) []runtime.Frame {
	var frames []runtime.Frame
	it := runtime.CallersFrames(pcs)
	for {
		f, more := it.Next()
		frames = append(frames, f)
		if !more {
			break
		}
	}
	for i, f := range frames {
		if f.Function == "runtime.gopanic" {
			return frames[i+1:]
		}
	}
	return frames
}

func TestPanicErrorStackMatchesRuntime(t *testing.T) {
	var doit doer = valueDoer{}
	var nilMap map[string]int
	var nilPtr *struct{ x int }
	cases := []struct {
		name string
		f    func()
	}{
		{"direct", func() { panic("direct") }},
		{"nested", func() { nested(3, func() { panic(errors.New("nested")) }) }},
		{"inlined", func() { callsInlined(func() { panic(1) }) }},
		{"wrapper", func() { doit.Do(func() { panic("wrapped") }) }},
		{"generic", func() { genericCall("s", func() { panic("generic") }) }},
		{"runtime error", func() { nested(2, func() { nilMap["x"] = 1 }) }},
		{"nil dereference", func() { nested(2, func() { nilPtr.x++ }) }},
		{"nil dereference in a frameless leaf", func() { nested(2, func() { sinkInt = leafLoad(nilPtr) }) }},
		{"index out of range", func() { nested(2, func() { sinkInt = []int{1}[sinkInt+5] }) }},
		{"type assertion", func() { nested(1, func() { var v any = "s"; sinkInt = v.(int) }) }},
		{"deep", func() { nested(3*maxPanicDepth, func() { panic("deep") }) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pe, want := recordPanic(tc.f)
			got := pe.Frames()
			if len(got) == 0 {
				t.Fatal("no frames")
			}
			deep := pe.stk.n == maxPanicDepth
			if !deep && len(got) != len(want) || len(got) > len(want) {
				t.Fatalf("%d frames, want %d:\n%s\nwant:\n%s", len(got), len(want), show(got), show(want))
			}
			for i := range got {
				g, w := got[i], want[i]
				if g.Function != w.Function || g.File != w.File || g.Line != w.Line {
					t.Fatalf("frame %d is %s (%s:%d), want %s (%s:%d)\ngot:\n%s\nwant:\n%s",
						i, g.Function, g.File, g.Line, w.Function, w.File, w.Line, show(got), show(want))
				}
			}
			if !strings.Contains(got[0].Function, "TestPanicErrorStackMatchesRuntime") &&
				!strings.HasPrefix(got[0].Function, "runtime.") {
				t.Fatalf("innermost frame %s, want the test's closure", got[0].Function)
			}
		})
	}
}

func show(frames []runtime.Frame) string {
	var b strings.Builder
	for _, f := range frames {
		fmt.Fprintf(&b, "  %s (%s:%d)\n", f.Function, f.File, f.Line)
	}
	return b.String()
}

// NewPanicError made outside a recover records the stack from its caller.
func TestPanicErrorOutsideRecover(t *testing.T) {
	pe := NewPanicError("not recovered")
	frames := pe.Frames()
	if len(frames) == 0 || !strings.HasSuffix(frames[0].Function, "TestPanicErrorOutsideRecover") {
		t.Fatalf("frames:\n%s", show(frames))
	}
}

// With its spares made beforehand (the supervisor makes them when it
// handles a failure), NewPanicError allocates nothing on the panicking
// goroutine, whose small stack an allocation's frames would have to grow.
func TestNewPanicErrorTakesASpare(t *testing.T) {
	const n = 100
	batches := make([]*panicBatch, n)
	for i := range batches {
		batches[i] = new(panicBatch)
	}
	errBoom := errors.New("boom")
	got := make([]*PanicError, 0, n*panicBatchLen)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range n {
		panicSpares.Store(batches[i])
		for range panicBatchLen {
			func() {
				defer func() { got = append(got, NewPanicError(recover())) }()
				panic(errBoom)
			}()
		}
	}
	runtime.ReadMemStats(&after)
	if m := after.Mallocs - before.Mallocs; m >= n {
		t.Fatalf("%d allocations for %d panics", m, n*panicBatchLen)
	}
	for i, pe := range got {
		if pe != &batches[i/panicBatchLen].errs[i%panicBatchLen] || !errors.Is(pe, errBoom) ||
			!strings.Contains(pe.At(), "TestNewPanicErrorTakesASpare") {
			t.Fatalf("panic %d: %p %v at %q", i, pe, pe, pe.At())
		}
	}
	// All taken: the next one is made on the spot, and a refill brings
	// a fresh batch.
	if takePanicSpare() != nil {
		t.Fatal("a spare beyond the batch")
	}
	if pe := NewPanicError("x"); pe == nil || pe.Value != "x" {
		t.Fatalf("%v", pe)
	}
	refillPanicSpares()
	if b := panicSpares.Load(); b == batches[n-1] || b.taken.Load() != 0 {
		t.Fatal("no fresh batch after the refill")
	}
	refillPanicSpares()
	if takePanicSpare() == nil {
		t.Fatal("the refill made no spares")
	}
}

// Only hardware faults take the runtime's unwinder; other runtime errors,
// raised by a call, keep the frame-pointer walk.
func TestPanicErrorFaultsOnly(t *testing.T) {
	if !fastCallers {
		t.Skip("no frame-pointer walk on this platform")
	}
	var nilMap map[string]int
	var nilPtr *struct{ x int }
	cases := []struct {
		name  string
		f     func()
		fault bool
	}{
		{"value", func() { panic("v") }, false},
		{"nil map", func() { nilMap["x"] = 1 }, false},
		{"index out of range", func() { sinkInt = []int{1}[sinkInt+5] }, false},
		{"nil dereference", func() { nilPtr.x++ }, true},
		{"nil dereference in a frameless leaf", func() { sinkInt = leafLoad(nilPtr) }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got bool
			func() {
				defer func() {
					v := recover()
					var pcs [maxPanicDepth]uintptr
					n := fpCallers(pcs[:])
					_, rt := v.(runtime.Error)
					got = rt && faulted(pcs[:n])
				}()
				tc.f()
			}()
			if got != tc.fault {
				t.Fatalf("faulted = %v, want %v", got, tc.fault)
			}
		})
	}
}

// Panics with the same stack share it (see internStack), and each still
// reads as the runtime's own unwinder sees it; a panic from elsewhere
// gets a stack of its own.
func TestPanicErrorsShareIdenticalStacks(t *testing.T) {
	crash := func() { nested(2, func() { panic("again") }) }
	var first *PanicError
	var want []runtime.Frame
	for i := range 4 {
		refillPanicSpares()
		again, w := recordPanic(crash) // one call site: the same program counters each time
		if i == 0 {
			first, want = again, w
			continue
		}
		if again.stk != first.stk {
			t.Fatalf("stack not shared: %p and %p", again.stk, first.stk)
		}
		if again == first || again.Value != "again" {
			t.Fatalf("%p %v", again, again.Value)
		}
		comparePanicFrames(t, again, want)
	}
	other, otherWant := recordPanic(func() { nested(3, func() { panic("elsewhere") }) })
	if other.stk == first.stk {
		t.Fatal("a different stack shared")
	}
	comparePanicFrames(t, other, otherWant)
	comparePanicFrames(t, first, want) // untouched by the panics after it
}

// A child crashing in a loop allocates for each panic only its share of
// a batch of PanicErrors, not a copy of its stack (which doubled what a
// restart after a panic allocated).
func TestRepeatedPanicsAllocateLittle(t *testing.T) {
	crash := func() error { panic("loop") }
	run := func() (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = NewPanicError(v)
			}
		}()
		return crash()
	}
	const n = 1000
	errs := make([]error, n) // kept alive, as a supervisor keeps the last
	_ = run()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range errs {
		refillPanicSpares() // as the supervisor does when it handles each failure
		errs[i] = run()
	}
	runtime.ReadMemStats(&after)
	perPanic := (after.TotalAlloc - before.TotalAlloc) / n
	if perPanic > 64 {
		t.Fatalf("%d bytes allocated per panic, want at most 64", perPanic)
	}
	var first, last *PanicError
	if !errors.As(errs[0], &first) || !errors.As(errs[n-1], &last) || first.stk != last.stk || !strings.Contains(last.At(), "TestRepeatedPanicsAllocateLittle") {
		t.Fatalf("%v %v", errs[0], errs[n-1])
	}
}
