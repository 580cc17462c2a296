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
	vals := make([]error, n*panicBatchLen) // a value of its own each: no PanicError to share
	for i := range vals {
		vals[i] = fmt.Errorf("boom %d: %w", i, errBoom)
	}
	got := make([]*PanicError, 0, n*panicBatchLen)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range n {
		panicSpares.Store(batches[i])
		for j := range panicBatchLen {
			func() {
				defer func() { got = append(got, NewPanicError(recover())) }()
				panic(vals[i*panicBatchLen+j])
			}()
		}
	}
	runtime.ReadMemStats(&after)
	if m := after.Mallocs - before.Mallocs; m >= n {
		t.Fatalf("%d allocations for %d panics", m, n*panicBatchLen)
	}
	for i, pe := range got {
		if pe != &batches[i/panicBatchLen].errs[i%panicBatchLen] || pe.Value != vals[i] || !errors.Is(pe, errBoom) ||
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
	vals := []error{errors.New("again 0"), errors.New("again 1"), errors.New("again 2"), errors.New("again 3")}
	var v error
	crash := func() { nested(2, func() { panic(v) }) }
	var first *PanicError
	var want []runtime.Frame
	for i := range vals {
		refillPanicSpares()
		v = vals[i]
		again, w := recordPanic(crash) // one call site: the same program counters each time
		if i == 0 {
			first, want = again, w
			continue
		}
		if again.stk != first.stk {
			t.Fatalf("stack not shared: %p and %p", again.stk, first.stk)
		}
		if again == first || again.Value != vals[i] || first.Value != vals[0] {
			t.Fatalf("%p %v, first %p %v", again, again.Value, first, first.Value)
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

// A child crashing in a loop panics with the same value from the same
// place each time: those panics get one PanicError, which allocates
// nothing after the first and still names the stack; a different value,
// or the same value from elsewhere, gets a PanicError of its own.
func TestRepeatedIdenticalPanicsShareOnePanicError(t *testing.T) {
	errLoop := errors.New("loop")
	var v any
	crash := func() { nested(2, func() { panic(v) }) }
	// panicAt panics with val from the one call site, or from another
	// place when elsewhere is set.
	panicAt := func(val any, elsewhere bool) (*PanicError, []runtime.Frame) {
		v = val
		if elsewhere {
			return recordPanic(func() { nested(3, func() { panic(v) }) })
		}
		return recordPanic(crash)
	}
	errOther := errors.New("loop") // equal text, another value
	sl := []int{1}
	m := map[string]int{}
	steps := []struct {
		val       any
		elsewhere bool
	}{
		{errLoop, false}, {errLoop, false}, {errLoop, false}, // 0-2: one PanicError
		{errOther, false},        // 3: another value
		{errLoop, true},          // 4: the first value from another place
		{errLoop, false},         // 5: back at the first place
		{sl, false}, {sl, false}, // 6, 7: not comparable, boxed anew each time
		{m, false}, {m, false}, // 8, 9: a map is a pointer: the same value
	}
	pes := make([]*PanicError, len(steps))
	for i, st := range steps {
		var want []runtime.Frame
		pes[i], want = panicAt(st.val, st.elsewhere) // one call site (two places)
		comparePanicFrames(t, pes[i], want)
		if i < 6 && pes[i].Value != st.val {
			t.Fatalf("step %d: value %v, want %v", i, pes[i].Value, st.val)
		}
	}
	for _, c := range []struct {
		a, b int
		same bool
	}{{0, 1, true}, {0, 2, true}, {0, 3, false}, {0, 4, false}, {3, 4, false}, {6, 7, false}, {8, 9, true}, {0, 8, false}} {
		if (pes[c.a] == pes[c.b]) != c.same {
			t.Fatalf("steps %d and %d: %p and %p, want the same one: %v", c.a, c.b, pes[c.a], pes[c.b], c.same)
		}
	}
	if pes[3].stk != pes[0].stk || pes[4].stk == pes[0].stk || pes[5].stk != pes[0].stk {
		t.Fatal("stacks not shared as they should be")
	}
	if pes[0].Value != errLoop {
		t.Fatalf("the first PanicError was written again: %v", pes[0].Value)
	}
	v = errLoop
	recordPanicOnly(crash)
	if allocs := testing.AllocsPerRun(100, func() { recordPanicOnly(crash) }); allocs != 0 {
		t.Fatalf("%v allocations per identical panic", allocs)
	}
}

// recordPanicOnly is recordPanic without the frames it reads for
// comparison (which allocate).
func recordPanicOnly(f func()) (pe *PanicError) {
	defer func() { pe = NewPanicError(recover()) }()
	f()
	return nil
}

// Runtime errors repeat too (a nil dereference is always the same value):
// faults, whose stacks come from the runtime's unwinder, and calls that
// raise them share a PanicError as panics by value do, and keep their
// stacks exact.
func TestRepeatedRuntimeErrorsShareOnePanicError(t *testing.T) {
	var nilPtr *struct{ x int }
	var nilMap map[string]int
	for _, f := range []func(){
		func() { nested(2, func() { nilPtr.x++ }) },
		func() { nested(2, func() { sinkInt = leafLoad(nilPtr) }) },
		func() { nested(2, func() { nilMap["x"] = 1 }) },
	} {
		var first *PanicError
		for i := range 3 {
			pe, want := recordPanic(f) // one call site: the same stack each time
			comparePanicFrames(t, pe, want)
			if i == 0 {
				first = pe
			} else if pe != first {
				t.Fatalf("%v: %p, then %p", pe.Value, first, pe)
			}
		}
	}
}

// Panics on many goroutines at once, from one place, with values that
// repeat and values that do not: each PanicError holds the value its
// panic raised and the stack it came from (run with -race).
func TestConcurrentPanicsKeepTheirValues(t *testing.T) {
	errSame := errors.New("same")
	const goroutines, each = 4, 500
	done := make(chan error, goroutines)
	for g := range goroutines {
		go func() {
			for i := range each {
				var v any = errSame
				if i%3 == 0 {
					v = fmt.Errorf("own %d/%d", g, i)
				}
				refillPanicSpares()
				pe := recordPanicOnly(func() { nested(1, func() { panic(v) }) })
				if pe.Value != v || !strings.Contains(pe.At(), "TestConcurrentPanicsKeepTheirValues") {
					done <- fmt.Errorf("goroutine %d, panic %d: %v at %q", g, i, pe.Value, pe.At())
					return
				}
			}
			done <- nil
		}()
	}
	for range goroutines {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
