package supervisor

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"unsafe"
)

// Sentinel errors, matched with errors.Is. Errors returned by this package
// wrap them with the name of the supervisor and child involved.
var (
	// ErrShutdown is returned (or wrapped) by a child to end normally.
	ErrShutdown = errors.New("shutdown")
	// ErrIntensityExceeded ends a supervisor that restarted too often; it
	// wraps the last failure as well.
	ErrIntensityExceeded = errors.New("restart intensity exceeded")
	// ErrAlreadyStarted: a child of that name is running, or the supervisor
	// is already running.
	ErrAlreadyStarted = errors.New("already started")
	// ErrAlreadyPresent: a child of that name is known but not running.
	ErrAlreadyPresent = errors.New("already present")
	// ErrNotFound: no child of that name. The actor package's ErrNotFound
	// is this value, so the text names no kind of thing.
	ErrNotFound = errors.New("not found")
	// ErrRunning: the operation needs a child that is not running.
	ErrRunning = errors.New("child is running")
	// ErrRestarting: the child is waiting for a restart.
	ErrRestarting = errors.New("child is restarting")
	// ErrInvalidSpec: a spec (or builder setting) is invalid.
	ErrInvalidSpec = errors.New("invalid child spec")
	// ErrInvalidOption: a supervisor option is invalid; Start reports it.
	ErrInvalidOption = errors.New("invalid supervisor option")
	// ErrStopped: the supervisor has ended and was not restarted. The
	// actor package's ErrStopped (an actor stopped for good) is this value,
	// so the text names no kind of thing.
	ErrStopped = errors.New("stopped")
	// ErrStartTimeout: a child's Start outlived its StartTimeout.
	ErrStartTimeout = errors.New("start timeout")
	// ErrUnhealthy: a child reached its UnhealthyThreshold and was
	// restarted as if it had failed. It is the failure recorded for that
	// incarnation (ChildInfo.LastErr, the EventHealthRestart's Err, and
	// ErrIntensityExceeded's last failure when that restart was one too many).
	ErrUnhealthy = errors.New("unhealthy")
)

// PanicError is the failure of a child that panicked, in Serve, Start,
// New, Launch, Kill or CheckHealth (and, through [NewPanicError], in an
// actor's Receive and hooks).
//
// The stack is recorded as program counters when the panic is recovered,
// and turned into text only when someone looks: [PanicError.Stack] for
// the whole of it, [PanicError.Origin] and [PanicError.At] for the
// function and line that panicked, as the child_failed log line and
// [Event.String] show it. (Stack used to be a []byte field filled by
// debug.Stack at every recover, which cost tens of microseconds per crash
// whether or not anyone read it.)
//
// Panics with the same value (the same dynamic type and the same data
// word: a sentinel error, a string constant, the runtime's nil
// dereference) from the same stack may be reported as one *PanicError,
// which a child crashing in a loop then does not allocate again for each
// crash. Its fields are not written once it is returned: match it with
// errors.Is and errors.As, not by pointer.
type PanicError struct {
	Value any // the value passed to panic

	// stk is where the panic came from; nil for a PanicError made by
	// hand. PanicErrors with the same stack share one (see internStack).
	stk *panicStack
}

// panicStack is the stack of a panic as program counters: pcs[:n], from
// the deferred function that recovered on. n, fp and pcs are written once,
// by the NewPanicError that captures it, and only read once published.
type panicStack struct {
	n   int32
	fp  bool // pcs were read off the frame-pointer chain (see fpSame)
	pcs [maxPanicDepth]uintptr

	// last is the PanicError made last with this stack, which the next
	// panic of the same value from the same stack returns again.
	last atomic.Pointer[PanicError]
}

// maxPanicDepth bounds the frames a PanicError records: the panic site is
// at the top, which is what a reader needs; deeper frames are cut.
const maxPanicDepth = 32

// NewPanicError returns the failure for v, a value just recovered, with
// the stack of the panic. Call it from the deferred function that called
// recover, as the supervisor does, so that the stack it records is the
// panicking goroutine's: packages that run children's code on goroutines
// of their own (the actor package) build the same error this way. The
// stack of a panic in Go code called back from C is recorded down to the
// C frames.
func NewPanicError(v any) *PanicError {
	// This runs on top of the panicking goroutine's stack, often a small
	// one (an actor's activation starts with the runtime's minimum), and
	// deep in it: the panic's own frames sit above the child's. Growing
	// that stack copies and rewrites every frame on it, which cost more
	// than the rest of a restart, so nothing here may need more stack than
	// a few words: the error comes ready-made from the spares (refilled
	// by the supervisor's goroutine, see refillPanicSpares) and the program
	// counters are read off the frame-pointer chain.
	//
	// A child that crashes in a loop panics from the same place each
	// time: when the frame-pointer chain from here is the stack of the
	// last panic, nothing is captured, and when the value is that panic's
	// too, its PanicError is the answer (loads only: no locked instruction
	// and no allocation). A fault never matches: its chain holds
	// runtime.sigpanic, and a stack captured at a fault is not marked fp.
	stk := lastStack.Load()
	if !fastCallers || stk == nil || !fpSame(&stk.pcs, int(stk.n)) {
		st := stackSpare.Swap(nil)
		if st == nil {
			st = new(panicStack)
		}
		st.n, st.fp = 0, false
		if fastCallers {
			st.n, st.fp = int32(fpCallers(st.pcs[:])), true
		}
		if _, rt := v.(runtime.Error); st.n == 0 || rt && faulted(st.pcs[:st.n]) {
			st.n, st.fp = int32(runtime.Callers(2, st.pcs[:])), false // from the caller of NewPanicError on
		}
		stk = internStack(st)
	}
	if e := stk.last.Load(); e != nil && sameValue(e.Value, v) {
		return e
	}
	e := takePanicSpare()
	if e == nil {
		e = new(PanicError)
	}
	e.Value, e.stk = v, stk
	stk.last.Store(e) // e is written: published
	if stk.fp && lastStack.Load() != stk {
		lastStack.Store(stk)
	}
	return e
}

// lastStack is the stack NewPanicError made its last PanicError with,
// when that stack was read off the frame-pointer chain.
var lastStack atomic.Pointer[panicStack]

// sameValue reports whether a and b hold the same value by identity: the
// same dynamic type and the same data word (the same pointer, or the same
// boxed copy, which an interface never writes again). It is ==, without
// its panic on types that are not comparable and without calling into
// the runtime; values equal but boxed apart are not the same. It is
// nosplit and not inlined for NewPanicError's frame (see internStack): the
// copies of a and b it needs to take their addresses live in its own.
//
//go:nosplit
//go:noinline
func sameValue(a, b any) bool {
	type eface struct{ typ, data unsafe.Pointer }
	return *(*eface)(unsafe.Pointer(&a)) == *(*eface)(unsafe.Pointer(&b))
}

// A child that keeps crashing crashes the same way, with the same stack
// each time: its PanicErrors share one panicStack instead of carrying a
// copy each (a 264-byte copy was half of what a restart after a panic
// allocated, and the garbage collector, running twice as often for it,
// slowed the restarts down). stackTable holds the stacks seen last, one
// per slot, picked by a hash of the program counters; a stack that
// collides with another replaces it. NewPanicError captures into
// stackSpare, a buffer of no PanicError's, and hands it back when the
// stack it captured is in the table already.
var (
	stackTable [stackTableLen]atomic.Pointer[panicStack]
	stackSpare atomic.Pointer[panicStack]
)

// stackTableLen bounds what the table keeps alive: 64 stacks of 272
// bytes, and with each the PanicError made last with it (see
// panicStack.last), its batch of spares (392 bytes) and its panic value.
const stackTableLen = 64

// internStack returns the stack in stackTable equal to st, giving st back
// as the spare, or else publishes st in the table and returns it.
//
// It is nosplit, as is sameStack: called from NewPanicError, deep in a
// panic on what is often a fresh 2 KB stack, a frame of its own pushed
// that stack over its limit (measured: the restart after a panic took
// twice as long, copying the stack). A nosplit function runs in the
// stack's guard area instead, which the runtime keeps for such small
// leaf frames and the linker checks they fit; both call nothing but
// atomic operations, which compile to single instructions.
//
//go:nosplit
func internStack(st *panicStack) *panicStack {
	h := uint64(st.n)
	for _, pc := range st.pcs[:st.n] {
		h = (h ^ uint64(pc)) * 0x100000001b3 // FNV-1a's prime, a word at a time
	}
	slot := &stackTable[h>>(64-6)] // 64 slots: the hash's high bits
	if old := slot.Load(); old != nil && old.n == st.n && sameStack(old, st) {
		stackSpare.CompareAndSwap(nil, st) // or another panic's spare took the place: st is garbage
		return old
	}
	slot.Store(st) // published: nobody writes st again
	return st
}

// sameStack compares the program counters of two stacks of the same
// depth. See internStack for why it is nosplit.
//
//go:nosplit
func sameStack(a, b *panicStack) bool {
	for i := range a.n {
		if a.pcs[i] != b.pcs[i] {
			return false
		}
	}
	return true
}

// faulted reports whether a runtime error's panic is a hardware fault (a
// nil dereference, say), from its stack pcs: the faulting function may
// have no frame of its own, which the frame-pointer chain skips, and only
// the runtime's unwinder attributes the faulting instruction exactly.
// Other runtime errors (an index out of range, a nil map) are raised by a
// call, which the chain records like any other. NewPanicError calls it
// only for runtime errors: its frame is large, and the small stacks of
// panics by value must not grow for it.
func faulted(pcs []uintptr) bool {
	frames := runtime.CallersFrames(pcs[:min(len(pcs), maxFaultDepth)])
	for {
		f, more := frames.Next()
		if f.Function == "runtime.sigpanic" {
			return true
		}
		if !more {
			return false
		}
	}
}

// maxFaultDepth bounds where runtime.sigpanic is looked for: innermost
// first, the chain holds the deferred function that called NewPanicError,
// runtime.gopanic (which called it), and then the caller of gopanic, which
// for a fault is runtime.sigpanic, or a function it inlined.
const maxFaultDepth = 8

// panicSpares holds PanicErrors made in advance for NewPanicError, so
// that the panicking goroutine need not allocate one. They are made
// panicBatchLen at a time, in one allocation, which a restart after a
// panic would otherwise pay each time on the supervisor's goroutine; a
// PanicError kept alive keeps its siblings' memory with it (384 bytes in
// all: the stack is not in them, see internStack).
var panicSpares atomic.Pointer[panicBatch]

type panicBatch struct {
	taken atomic.Int32 // errs[:taken] are handed out
	errs  [panicBatchLen]PanicError
}

const (
	panicBatchLen  = 16
	panicSparesLow = 4 // a batch is replaced when fewer remain
)

// takePanicSpare returns a spare PanicError, or nil if none is left. It
// calls nothing, so it needs no stack beyond its own few words.
func takePanicSpare() *PanicError {
	b := panicSpares.Load()
	if b == nil {
		return nil
	}
	for {
		i := b.taken.Load()
		if i >= panicBatchLen {
			return nil
		}
		if b.taken.CompareAndSwap(i, i+1) {
			return &b.errs[i]
		}
	}
}

// refillPanicSpares makes new spares when few are left. The supervisor
// calls it on its own goroutine, whose stack has room, when it handles a
// failure, after the restart: the restarted child may panic again before
// that (on another processor), so the batch is replaced while a few spares
// remain rather than when the last is taken. Without spares NewPanicError
// allocates on the panicking goroutine, and the allocator's slow path (a
// fresh span) grew that goroutine's stack (TestCrashPathFitsTheStartingStack
// met it once in ~200,000 restarts).
func refillPanicSpares() {
	if b := panicSpares.Load(); b == nil || b.taken.Load() > panicBatchLen-panicSparesLow {
		panicSpares.CompareAndSwap(b, new(panicBatch))
	}
	if stackSpare.Load() == nil {
		stackSpare.CompareAndSwap(nil, new(panicStack))
	}
}

// Error describes the panic value; the stack is kept for Stack and Origin.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error, so errors.Is sees it.
// A panic is a crash whatever its value: one with ErrShutdown (or an error
// wrapping it) is not a normal exit, though errors.Is finds ErrShutdown.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// Frames returns the stack of the panic, innermost first: from the frame
// that called panic (or, for a runtime error, the runtime's frames that
// raised it) to the goroutine's start. It is empty for a PanicError made
// without NewPanicError.
func (e *PanicError) Frames() []runtime.Frame {
	if e.stk == nil || e.stk.n == 0 {
		return nil
	}
	frames := make([]runtime.Frame, 0, e.stk.n)
	it := runtime.CallersFrames(e.stk.pcs[:e.stk.n])
	for {
		f, more := it.Next()
		if !isWrapper(f) {
			frames = append(frames, f)
		}
		if !more {
			break
		}
	}
	// The frames up to runtime.gopanic are the recovery's, not the panic's:
	// the innermost gopanic, which raised the panic recovered. A panic
	// raised while another unwinds (in a deferred function, or a re-panic
	// after a recover there) has the first one's gopanic deeper down.
	for i, f := range frames {
		if f.Function == "runtime.gopanic" {
			return frames[i+1:]
		}
	}
	// Not made in a recover: from the caller of NewPanicError on.
	for i, f := range frames {
		if f.Function == newPanicErrorFunc {
			return frames[i+1:]
		}
	}
	return frames
}

// isWrapper tells the wrappers the compiler makes (a method called
// through an interface on a value receiver, a method value, the function
// a go or defer statement runs, and runtime.deferreturn, which calls the
// deferred functions that are not open-coded: in a loop, under -race),
// which runtime.Callers leaves out but a frame-pointer walk sees.
func isWrapper(f runtime.Frame) bool {
	if f.File == "<autogenerated>" || strings.HasSuffix(f.Function, "-fm") ||
		f.Function == "runtime.deferreturn" { // marked a wrapper by the compiler: runs defers not open-coded
		return true
	}
	i := strings.LastIndexByte(f.Function, '.')
	name := strings.TrimRight(f.Function[i+1:], "0123456789")
	return len(name) < len(f.Function[i+1:]) && (name == "gowrap" || name == "deferwrap")
}

// newPanicErrorFunc is NewPanicError's name in frames.
const newPanicErrorFunc = "github.com/airssys/rt/supervisor.NewPanicError"

// Origin returns the frame the panic came from: the first of Frames that
// is neither the runtime's nor this module's plumbing between a child and
// its code (a ChildFunc, an actor's Func). ok is false when no stack was
// recorded.
func (e *PanicError) Origin() (f runtime.Frame, ok bool) {
	frames := e.Frames()
	first := -1
	for i, fr := range frames {
		if strings.HasPrefix(fr.Function, "runtime.") {
			continue
		}
		if first < 0 {
			first = i
		}
		if !isPlumbing(fr) {
			return fr, true
		}
	}
	if first >= 0 {
		return frames[first], true
	}
	return runtime.Frame{}, false
}

// isPlumbing tells the supervisor's and actor's own frames (not their
// tests') from the code they call.
func isPlumbing(f runtime.Frame) bool {
	if strings.HasSuffix(f.File, "_test.go") {
		return false
	}
	return strings.HasPrefix(f.Function, "github.com/airssys/rt/supervisor.") ||
		strings.HasPrefix(f.Function, "github.com/airssys/rt/actor.")
}

// At names where the panic came from, "pkg.(*T).Method (file.go:42)",
// or returns "" when no stack was recorded.
func (e *PanicError) At() string {
	f, ok := e.Origin()
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s (%s:%d)", f.Function, f.File, f.Line)
}

// Stack formats the stack of the panic as Go prints a goroutine's
// traceback: a function per line, its file and line indented below.
func (e *PanicError) Stack() string {
	var b strings.Builder
	for _, f := range e.Frames() {
		fmt.Fprintf(&b, "%s(...)\n\t%s:%d\n", f.Function, f.File, f.Line)
	}
	if e.stk != nil && e.stk.n == maxPanicDepth {
		b.WriteString("...additional frames elided...\n")
	}
	return b.String()
}
