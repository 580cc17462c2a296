package actor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
)

// Reply is the answer slot of one Ask: the request message carries it, and
// the actor answers through it with Send or Fail. Only the first answer
// counts; later ones are ignored, as is any answer after Ask gave up. The
// zero Reply ignores everything, so a request type can also be sent with
// plain Send when nobody waits.
type Reply[R any] struct {
	s *replySlot[R]
}

// replySlot holds one answer: a 1-buffered channel, so answering never
// blocks, and Ask needs no goroutine while it waits. Its first field is
// the askHeader through which a lost request fails it (see lostReplies).
type replySlot[R any] struct {
	askHeader
	ch chan replyResult[R]
	// fwd, for a Reply decoded from another process, sends the answer
	// back there, at most once (see ReplyPort).
	fwd func(R, error)
}

// askHeader is the part of a replySlot that does not depend on R, so that
// code that finds a Reply[R] of unknown R in a message can still fail it.
type askHeader struct {
	slot interface{ lose(reason error) } // the replySlot itself
}

// lose answers with the reason the request will never be handled, unless
// an answer came first.
func (s *replySlot[R]) lose(reason error) { Reply[R]{s}.put(replyResult[R]{err: &lostError{reason}}) }

type replyResult[R any] struct {
	v   R
	err error
}

var errNilFail = errors.New("request failed (Reply.Fail with a nil error)")

// Send answers with v.
func (r Reply[R]) Send(v R) { r.put(replyResult[R]{v: v}) }

// Fail answers with err, which Ask returns as it is. A nil err is replaced
// by a generic error, so that a failure never reads as success.
func (r Reply[R]) Fail(err error) {
	if err == nil {
		err = errNilFail
	}
	r.put(replyResult[R]{err: err})
}

func (r Reply[R]) put(res replyResult[R]) {
	if r.s == nil {
		return
	}
	if r.s.fwd != nil {
		r.s.fwd(res.v, res.err)
		return
	}
	select {
	case r.s.ch <- res:
	default: // answered already
	}
}

// Ask sends the request that build makes around a fresh Reply and waits for
// the answer, for ctx, or for the request to be lost, whichever comes
// first:
//
//	balance, err := actor.Ask(ctx, account, func(r actor.Reply[int]) Msg { return Balance{Reply: r} })
//
// If ctx is done already Ask returns its error without sending. If the send
// fails (ErrMailboxFull, ErrStopped, or ctx expiring while a Block mailbox
// is full) Ask returns that error at once. Like Erlang's gen_server:call
// when the callee dies, Ask also returns at once, with an error wrapping
// the cause, when the request is lost:
//
//   - the incarnation that took it ends without answering: its Receive
//     crashes on it (the panic's *supervisor.PanicError, or the error
//     Receive returned) or stops the actor with supervisor.ErrShutdown, or
//     the incarnation ends (a crash on a later message, its supervisor
//     stopping or restarting it) while it keeps the Reply in its fields to
//     answer later. The error wraps ErrNoReply and how the incarnation
//     ended. PostStop runs first, and what it answers is the answer.
//   - it becomes a dead letter before any incarnation took it: dropped by
//     a full DropNewest or DropOldest mailbox (ErrMailboxFull), or still
//     queued when the target stopped for good (ErrStopped).
//   - the target stops for good before answering (ErrStopped; when a
//     Temporary actor's incarnation ends normally holding the request, the
//     error wraps both ErrNoReply and ErrStopped).
//
// When ctx ends first the error wraps ctx.Err().
//
// An actor may keep a Reply and answer later, from another message or
// another actor: Ask waits for that while the incarnation that took the
// request runs. A Reply handed on to another actor is failed all the same
// when that incarnation ends, as a call fails in Erlang when its callee
// exits. Still give ctx a deadline when the actor could forget to answer.
// Waiting costs no goroutine.
//
// The Reply is found in a lost request, and in the fields of an actor
// whose incarnation ended, through struct fields, pointers, interfaces,
// arrays and slices (a few levels deep, not into Refs or other values of
// this module), which covers request and actor types as they are written;
// one kept in a map, a channel or a closure (a Func actor's variables) is
// not found, and Ask then waits for its ctx. Maps are left alone on
// purpose: a goroutine of the actor's own may still write to one, and
// reading a map while it is written is fatal.
func Ask[M, R any](ctx context.Context, to Ref[M], build func(Reply[R]) M) (R, error) {
	var zero R
	if to.c == nil {
		return zero, errNoActor
	}
	if build == nil {
		return zero, fmt.Errorf("actor %q: ask: %w: nil build function", to.c.name, ErrInvalidSpec)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("actor %q: ask: %w", to.c.name, err)
	}
	s := &replySlot[R]{ch: make(chan replyResult[R], 1)}
	s.slot = s
	asksWaiting.Add(1)
	defer asksWaiting.Add(-1)
	if err := to.SendContext(ctx, build(Reply[R]{s})); err != nil {
		return zero, err
	}
	select {
	case res := <-s.ch:
		return res.get(to.c.name)
	case <-ctx.Done():
		if res, ok := s.answered(); ok {
			return res.get(to.c.name)
		}
		return zero, fmt.Errorf("actor %q: ask: %w", to.c.name, ctx.Err())
	case <-to.Done():
		if res, ok := s.answered(); ok { // answered (or lost), then stopped
			return res.get(to.c.name)
		}
		return zero, fmt.Errorf("ask: %w", to.Err())
	}
}

// get returns the answer as Ask does: a lost request's reason wrapped
// with the actor's name.
func (res replyResult[R]) get(name string) (R, error) {
	if lost, ok := res.err.(*lostError); ok {
		var zero R
		return zero, fmt.Errorf("actor %q: ask: request lost: %w", name, lost.reason)
	}
	return res.v, res.err
}

func (s *replySlot[R]) answered() (replyResult[R], bool) {
	select {
	case res := <-s.ch:
		return res, true
	default:
		return replyResult[R]{}, false
	}
}

// noReplyError is the reason given to the Asks whose requests an
// incarnation took and did not answer before it ended: ErrNoReply, how it
// ended (nil: stopped by its supervisor), and ErrStopped if that end is
// the actor's stop for good (final: a Temporary actor's normal end).
type noReplyError struct {
	cause error
	final bool
}

func (e *noReplyError) Error() string {
	s := ErrNoReply.Error()
	if e.final {
		s += " (" + ErrStopped.Error() + ")"
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *noReplyError) Unwrap() []error {
	errs := []error{ErrNoReply}
	if e.final {
		errs = append(errs, ErrStopped)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// loseTaken fails the Replies in msg, a request an incarnation took and
// ended on (Receive returned an error, or panicked) without answering.
// Callers call it only while an Ask waits (asksWaiting), so that the exit
// path pays one atomic load otherwise. It is kept out of line, as is
// loseHeld: inlined into deliver and end, its locals grew their frames on
// the activation's small stack past its limit, and every restart then
// grew the stack, doubling its time (BenchmarkActorRestart, p50 1.1 ->
// 2.5 us).
//
//go:noinline
func loseTaken[M any](msg M, cause error, final bool) {
	lostReplies(msg, &noReplyError{cause, final})
}

// loseHeld fails the Replies that an incarnation which has ended (PostStop
// included) still holds: the request it ended on (see holdTaken) and
// those in the fields of its actor value, requests it kept to answer
// later, which nothing will answer now. Only while an Ask waits (see
// loseTaken).
//
//go:noinline
func loseHeld[M any](inc *incarnation[M], cause error, final bool) {
	reason := &noReplyError{cause, final}
	if taken, ok := inc.takeHeld(); ok {
		lostReplies(taken, reason)
	}
	if inc.actor != nil {
		lostReplies(inc.actor, reason)
	}
}

// holdTaken keeps msg, the request inc's Receive returned ErrShutdown on,
// while an Ask waits somewhere, for end to fail its Replies (loseHeld):
// after PostStop, which may still answer them, and before the exit is
// reported. That report can let a Temporary actor stop for good and close
// Done at once, and an Ask that saw Done before its Reply failed would
// return ErrStopped without ErrNoReply. Out of line, off the exit path of
// an incarnation no Ask waits on (see loseTaken).
//
//go:noinline
func (inc *incarnation[M]) holdTaken(msg M) {
	c := inc.cx.cell
	c.mu.Lock()
	r := inc.rareLocked()
	r.taken, r.hasTaken = msg, true
	c.mu.Unlock()
}

// takeHeld returns and forgets the request holdTaken kept, if any.
func (inc *incarnation[M]) takeHeld() (any, bool) {
	c := inc.cx.cell
	c.mu.Lock()
	defer c.mu.Unlock()
	r := inc.rare
	if r == nil || !r.hasTaken {
		return nil, false
	}
	taken := r.taken
	var zero M
	r.taken, r.hasTaken = zero, false
	return taken, true
}

// lostError is the answer a lost request gives its Ask (see lostReplies).
type lostError struct{ reason error }

func (e *lostError) Error() string { return "request lost: " + e.reason.Error() }
func (e *lostError) Unwrap() error { return e.reason }

// asksWaiting counts the Asks waiting anywhere in the process. While it is
// zero a dead letter costs one atomic load more than before, and nothing
// looks into it for a Reply; the plain Send path does not look at it.
var asksWaiting atomic.Int64

// lostReplies fails every unanswered Reply carried by msg, a request that
// will never be handled, with reason. It runs on the dead-letter path only,
// and only while an Ask waits, so the reflection it needs never touches
// message delivery.
func lostReplies(msg any, reason error) {
	budget := lostWalkBudget
	walkReplies(reflect.ValueOf(msg), reason, 0, &budget)
}

const (
	lostWalkDepth  = 8   // levels of nesting followed into a message
	lostWalkBudget = 256 // values looked at per message, at most
)

var actorPkg = reflect.TypeFor[askHeader]().PkgPath()

// libraryPkgs are the packages of this module whose values lead to other
// actors (a Supervisor holds its children, a Node its proxies...): the walk
// does not enter them.
var libraryPkgs = func() map[string]bool {
	mod := strings.TrimSuffix(actorPkg, "actor")
	m := make(map[string]bool)
	for _, p := range []string{"supervisor", "remote", "broker", "observe", "process", "internal/hook"} {
		m[mod+p] = true
	}
	return m
}()

// walkStops reports whether the walk must not enter a struct of type t:
// one that leads to other actors' mailboxes and state (a Ref's cell, a
// Context, a System, or any value of the library's other packages), whose
// requests are not lost; or one written concurrently through atomics or
// locks the walk does not take (see syncPkgs).
func walkStops(t reflect.Type) bool {
	pkg := t.PkgPath()
	if pkg == actorPkg {
		n := t.Name()
		return strings.HasPrefix(n, "cell[") || strings.HasPrefix(n, "Context[") ||
			strings.HasPrefix(n, "incarnation[") || n == "System" || n == "DeadLetters"
	}
	return libraryPkgs[pkg] || syncPkgs[pkg]
}

// syncPkgs are the standard library's packages of values that other
// goroutines write through atomics or locks the walk does not take (an
// atomic.Value's interface, a cancelled context's err and cause): they
// hold no Reply, and reading their insides would race with those writes.
var syncPkgs = map[string]bool{"sync": true, "sync/atomic": true, "context": true}

// replyTypes memoizes mayHoldReply by reflect.Type.
var replyTypes sync.Map

// mayHoldReply reports whether a value of type t can hold a Reply where
// the walk looks (struct fields, pointers, interfaces, arrays, slices).
// The walk enters no value that cannot: besides being work for nothing,
// an ended actor's value may point to state it shares with goroutines
// that are still running (a cache, a pool, guarded by their own lock),
// which the walk reads without that lock.
func mayHoldReply(t reflect.Type) bool {
	if v, ok := replyTypes.Load(t); ok {
		return v.(bool)
	}
	r := typeReaches(t, map[reflect.Type]bool{})
	replyTypes.Store(t, r)
	return r
}

// typeReaches is mayHoldReply without the memo: a search of the type
// graph from t, seen holding the types met so far on any path.
func typeReaches(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false // met already: its answer comes from where it was first met
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Array, reflect.Slice:
		return typeReaches(t.Elem(), seen)
	case reflect.Struct:
		if t.PkgPath() == actorPkg && strings.HasPrefix(t.Name(), "Reply[") {
			return true
		}
		if walkStops(t) {
			return false
		}
		for i := range t.NumField() {
			if typeReaches(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}

func walkReplies(v reflect.Value, reason error, depth int, budget *int) {
	if depth > lostWalkDepth || *budget <= 0 || !v.IsValid() || !mayHoldReply(v.Type()) {
		return
	}
	*budget--
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		if t.PkgPath() == actorPkg && strings.HasPrefix(t.Name(), "Reply[") {
			// A Reply[R] is struct{ s *replySlot[R] }, whose first field is
			// an askHeader: the pointer is read without exporting the
			// field, which reflection would refuse.
			if p := v.Field(0).UnsafePointer(); p != nil {
				if h := (*askHeader)(p); h.slot != nil {
					h.slot.lose(reason)
				}
			}
			return
		}
		if walkStops(t) {
			return
		}
		for i := range v.NumField() {
			walkReplies(v.Field(i), reason, depth+1, budget)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkReplies(v.Elem(), reason, depth+1, budget)
		}
	case reflect.Array, reflect.Slice:
		for i := 0; i < v.Len() && *budget > 0; i++ {
			walkReplies(v.Index(i), reason, depth+1, budget)
		}
	}
}
