package actor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Ref is the address of an actor: a pointer-sized value, comparable, safe
// to copy and to use from any goroutine, and the same across restarts of
// the actor. The zero Ref addresses no actor: Send returns ErrNotFound.
type Ref[M any] struct {
	c *cell[M]
}

var errNoActor = fmt.Errorf("zero Ref: %w", ErrNotFound)

// Send queues msg for the actor and returns without waiting for it to be
// handled. A full bounded mailbox applies its policy: Block waits for room
// (use SendContext to bound the wait), DropNewest and DropOldest drop a
// message to dead letters and return nil, Fail returns an error wrapping
// ErrMailboxFull. Sending to an actor that has stopped for good returns an
// error wrapping ErrStopped, and msg goes to dead letters. Messages sent
// while the actor is between incarnations (restarting, terminated, the
// supervisor of a Permanent or Transient actor restarting) wait in the
// mailbox; a Temporary actor's stop, its supervisor's included, is for good.
func (r Ref[M]) Send(msg M) error {
	if r.c == nil {
		return errNoActor
	}
	return r.c.send(nil, msg)
}

// SendContext is Send that, under the Block policy, waits for room at most
// until ctx is done, then returns an error wrapping ctx.Err() (the message
// was not queued, nor is it a dead letter). If ctx is done already it
// returns that error without sending, whatever the policy.
func (r Ref[M]) SendContext(ctx context.Context, msg M) error {
	if r.c == nil {
		return errNoActor
	}
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("actor %q: send: %w", r.c.name, err)
		}
	}
	return r.c.send(ctx, msg)
}

// Name returns the actor's name ("" for the zero Ref).
func (r Ref[M]) Name() string {
	if r.c == nil {
		return ""
	}
	return r.c.name
}

// String returns "actor(name)", for logs.
func (r Ref[M]) String() string { return "actor(" + r.Name() + ")" }

// Done returns a channel closed when the actor stops for good: it will
// never run again (its spec was removed, or its supervision tree ended).
// A restart does not close it. The zero Ref's channel is closed.
func (r Ref[M]) Done() <-chan struct{} {
	if r.c == nil {
		return closedChan
	}
	return r.c.doneChan()
}

// Err returns nil until Done is closed; then an error wrapping ErrStopped
// and, if the last incarnation crashed (or the actor never started), the
// error that ended it. The zero Ref's Err wraps ErrNotFound.
func (r Ref[M]) Err() error {
	if r.c == nil {
		return errNoActor
	}
	return r.c.stopErr()
}

// Watch calls fn once, on a goroutine of its own, when the actor stops for
// good, with what Err then returns; at once if it already has. stop cancels
// the call if it has not been made yet and reports whether it did. A panic
// in fn is recovered and logged at Error level with its stack (through the
// actor's logger), as the supervisor does for its event handlers: it
// never takes the process down.
func (r Ref[M]) Watch(fn func(reason error)) (stop func() bool) {
	if fn == nil {
		return func() bool { return false }
	}
	if r.c == nil {
		go callWatcher(fn, errNoActor, slog.Default())
		return func() bool { return false }
	}
	return r.c.watch(fn)
}

// callWatcher runs a Watch callback, reporting a panic instead of letting
// it end the process: the callback has no supervisor to fail to.
func callWatcher(fn func(error), reason error, l *slog.Logger) {
	defer func() {
		if v := recover(); v != nil {
			logPanic(l, "Watch callback panicked", v)
		}
	}()
	fn(reason)
}

// Monitor sends msg(reason) to watcher when target stops for good, the
// actor way of watching another: the news arrives as a message, in order
// with the others. stop cancels it if not yet sent and reports whether it
// did.
//
// The notice is never lost silently. It is sent with Send, so the
// watcher's mailbox policy applies: under Block the sending goroutine
// waits for room for as long as the watcher lives (it is freed when the
// watcher takes a message or stops for good); under DropNewest and
// DropOldest a dropped notice is a dead letter; under Fail a refused
// notice is made a dead letter of the watcher, with a reason wrapping
// ErrMailboxFull; a watcher that has stopped for good gets a dead letter
// wrapping ErrStopped. A panic in msg is recovered and logged at Error
// level with its stack, like a panic in a Watch callback. With the zero
// watcher Ref or a nil msg, Monitor does nothing.
func Monitor[M, T any](watcher Ref[M], target Ref[T], msg func(reason error) M) (stop func() bool) {
	if msg == nil || watcher.c == nil {
		return func() bool { return false }
	}
	return target.Watch(func(reason error) {
		m := msg(reason)
		if err := watcher.Send(m); err != nil && !errors.Is(err, ErrStopped) {
			// Refused (Fail): the sender keeps a refused message, and
			// this sender has nobody to give it back to. (A stopped
			// watcher's Send made the dead letter already.)
			watcher.c.deadLetter(m, fmt.Errorf("monitor notice of %q: %w", target.Name(), err))
		}
	})
}

// Stats is a snapshot of an actor's counters.
type Stats struct {
	Name        string
	MailboxLen  int    // messages waiting (the one in Receive excluded)
	Processed   uint64 // messages handled, over all incarnations
	DeadLetters uint64 // dead letters attributed to the actor
	Running     bool   // an incarnation is running now
	Stopped     bool   // stopped for good
}

// Stats returns the actor's counters (zero for the zero Ref).
func (r Ref[M]) Stats() Stats {
	c := r.c
	if c == nil {
		return Stats{}
	}
	c.mu.Lock()
	// One load of the tally, under the lock, gives the hand and the
	// count processed at one instant, while the activation, which takes
	// batches from the mailbox under the lock, cannot move the rest: read
	// apart, or after the unlock, the same messages could count as
	// waiting and as handled. The one message a lingering activation may
	// take without the lock (takeLingering) leaves the inbox before it
	// counts as processed, and the tally is read first: between the two
	// loads it is counted in neither, never in both.
	tally := c.tally.Load()
	st := Stats{
		Name:       c.name,
		MailboxLen: c.queuedLocked() + int(tally&(1<<handBits-1)),
		Processed:  tally >> handBits,
		Running:    c.inc != nil,
		Stopped:    c.stopped(),
	}
	c.mu.Unlock()
	st.DeadLetters = c.deadCount()
	return st
}

// Mailbox returns the actor's mailbox settings, fixed by its Spec: a
// publisher can tell a mailbox that may make it wait (Bounded with Block)
// from one that never does.
func (r Ref[M]) Mailbox() Mailbox {
	if r.c == nil {
		return Mailbox{}
	}
	return Mailbox{capacity: int(r.c.capacity), policy: r.c.policy()}
}
