package actor

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// DeadLetter is a message that its target will never receive and that no
// sender holds any more: dropped by a full mailbox (DropNewest,
// DropOldest), sent to an actor that has stopped for good, queued when it
// stopped, or the message whose Receive crashed.
type DeadLetter struct {
	Message any    // the message, as sent
	Target  string // name of the actor it was meant for
	Reason  error  // why it was not delivered (wraps ErrMailboxFull, ErrStopped, or the crash)
}

// Reasons of dead letters; prebuilt so that dropping allocates nothing.
var (
	errDroppedNewest = fmt.Errorf("%w: newest message dropped", ErrMailboxFull)
	errDroppedOldest = fmt.Errorf("%w: oldest message dropped", ErrMailboxFull)
	errSentAfterStop = fmt.Errorf("%w: sent after the actor stopped", ErrStopped)
	errQueuedAtStop  = fmt.Errorf("%w: still queued when the actor stopped", ErrStopped)
)

// DeadLetters counts undelivered messages and hands them to subscribers.
// Every System has its own; actors that belong to no System use
// DefaultDeadLetters(). The zero value is ready to use.
//
// The rule: a message is a dead letter when its target will never receive
// it, whether or not the sender was told. What the sender still holds, and
// may send again, is not one: a Send refused with ErrMailboxFull under the
// Fail policy, or a SendContext whose ctx ended while it waited for room
// under Block; retried later, it may yet be delivered. A Send to an actor
// that has stopped for good returns ErrStopped and the message is a dead
// letter as well, since no retry can deliver it. Every message sent is
// thus, exactly once, delivered, returned to its sender as retryable, or
// a dead letter.
type DeadLetters struct {
	// logger reports subscribers that panic; nil means slog.Default().
	// Set by NewSystem before the value is shared.
	logger *slog.Logger
	count  atomic.Uint64
	mu     sync.Mutex                      // serialises changes to subs
	subs   atomic.Pointer[[]*dlSubscriber] // copy-on-write: senders read without a lock

	// redelivered: the messages recorded here are handed on again by
	// whoever forwarded them (see SetRedelivered), so they fail no Ask.
	redelivered atomic.Bool
}

var defaultDeadLetters DeadLetters

// DefaultDeadLetters returns the dead letters of actors that belong to no
// System.
func DefaultDeadLetters() *DeadLetters { return &defaultDeadLetters }

// Count returns how many dead letters there have been.
func (d *DeadLetters) Count() uint64 { return d.count.Load() }

// Subscribe calls fn for every later dead letter, in order, until cancel is
// called. fn runs on a goroutine of the subscription's own, held only while
// it has letters to deliver, so neither senders nor other subscribers ever
// wait for it; letters wait in memory meanwhile. cancel discards the letters
// not yet delivered and returns at once: a call already under way completes,
// no other follows. cancel may be called from fn, and more than once.
func (d *DeadLetters) Subscribe(fn func(DeadLetter)) (cancel func()) {
	if fn == nil {
		return func() {}
	}
	sub := &dlSubscriber{fn: fn, from: d}
	d.mu.Lock()
	var next []*dlSubscriber
	if old := d.subs.Load(); old != nil {
		next = append(next, (*old)...)
	}
	next = append(next, sub)
	d.subs.Store(&next)
	d.mu.Unlock()
	return func() {
		sub.mu.Lock()
		if sub.cancelled {
			sub.mu.Unlock()
			return
		}
		sub.cancelled = true
		sub.q = nil
		sub.mu.Unlock()
		d.mu.Lock()
		cur := *d.subs.Load()
		next := make([]*dlSubscriber, 0, len(cur))
		for _, o := range cur {
			if o != sub {
				next = append(next, o)
			}
		}
		d.subs.Store(&next)
		d.mu.Unlock()
	}
}

// deadLetter records msg as undelivered to target. The message is boxed
// only when someone listens.
func deadLetter[M any](d *DeadLetters, target string, msg M, reason error) {
	d.count.Add(1)
	if asksWaiting.Load() != 0 && !d.redelivered.Load() {
		lostReplies(msg, reason) // an Ask may wait for this request
	}
	subs := d.subs.Load()
	if subs == nil || len(*subs) == 0 {
		return
	}
	dl := DeadLetter{Message: msg, Target: target, Reason: reason}
	for _, s := range *subs {
		s.push(dl)
	}
}

// dlSubscriber queues letters for one subscriber and delivers them on a
// goroutine that exists only while the queue is not empty.
type dlSubscriber struct {
	fn        func(DeadLetter)
	from      *DeadLetters
	mu        sync.Mutex
	q         []DeadLetter
	running   bool
	cancelled bool
}

func (s *dlSubscriber) push(dl DeadLetter) {
	s.mu.Lock()
	if s.cancelled {
		s.mu.Unlock()
		return
	}
	s.q = append(s.q, dl)
	if s.running {
		s.mu.Unlock()
		return
	}
	s.running = true
	s.mu.Unlock()
	go s.deliver()
}

func (s *dlSubscriber) deliver() {
	for {
		s.mu.Lock()
		if len(s.q) == 0 || s.cancelled {
			s.q = nil
			s.running = false
			s.mu.Unlock()
			return
		}
		dl := s.q[0]
		s.q[0] = DeadLetter{}
		s.q = s.q[1:]
		s.mu.Unlock()
		s.call(dl)
	}
}

// call keeps a panicking subscriber from ending delivery for good; the
// panic is logged with its stack, not swallowed.
func (s *dlSubscriber) call(dl DeadLetter) {
	defer func() {
		if v := recover(); v != nil {
			logPanic(s.from.log(), "dead-letter subscriber panicked", v, "target", dl.Target)
		}
	}()
	s.fn(dl)
}

func (d *DeadLetters) log() *slog.Logger {
	if d.logger != nil {
		return d.logger
	}
	return slog.Default()
}

// logPanic reports a recovered panic of a user callback that has no
// supervisor to report it to (a dead-letter subscriber, a Watch callback,
// a Monitor message function): an Error line with the value and the stack,
// so that it is seen but the process goes on.
func logPanic(l *slog.Logger, what string, v any, args ...any) {
	args = append(args, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	l.Error(what, args...)
}
