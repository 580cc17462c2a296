package broker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/airssys/rt/actor"
)

// Topic is a named stream of messages of type T. Publish hands each message
// to every current subscriber's mailbox; subscribers are actors, held by
// their Ref, so a subscription outlives restarts of its actor and ends when
// the actor stops for good, or when it is cancelled.
//
// A Topic is safe for concurrent use. Get one with Open or OpenRemote.
type Topic[T any] struct {
	name   string
	remote *remoteLink[T] // nil for a local topic; fixed at creation

	// subs is copy-on-write: Publish reads it without a lock, and
	// subscribing or leaving copies it under mu. Publishing is far more
	// frequent than either.
	mu     sync.Mutex
	subs   atomic.Pointer[[]subscriber[T]]
	closed atomic.Bool

	published atomic.Uint64
	delivered atomic.Uint64
	dropped   atomic.Uint64
	malformed atomic.Uint64
}

// remoteLink is what makes a topic remote.
type remoteLink[T any] struct {
	transport Transport
	codec     Codec[T]
	cancel    func() // the transport subscription
}

// subscriber is one subscription as the topic sees it: an actor.Ref and,
// for the adapted kind, the function that makes its message.
type subscriber[T any] interface {
	subscription() *Subscription
	send(ctx context.Context, msg T) error
}

// Name returns the topic's name.
func (t *Topic[T]) Name() string { return t.name }

// Remote reports whether the topic goes through the Broker's Transport.
func (t *Topic[T]) Remote() bool { return t.remote != nil }

func (t *Topic[T]) messageType() reflect.Type { return reflect.TypeFor[T]() }

// Subscribe delivers every later message of t to ref, until the returned
// Subscription is cancelled or the actor stops for good. Subscribing the
// same actor twice delivers each message twice. ref must be a live actor:
// the zero Ref fails with ErrInvalid, a stopped one with an error wrapping
// actor.ErrStopped.
func (t *Topic[T]) Subscribe(ref actor.Ref[T]) (*Subscription, error) {
	if t == nil {
		return nil, fmt.Errorf("broker: %w: nil Topic", ErrInvalid)
	}
	if ref == (actor.Ref[T]{}) {
		return nil, fmt.Errorf("broker: topic %q: %w: zero actor.Ref", t.name, ErrInvalid)
	}
	s := &direct[T]{ref: ref}
	return attach(t, s, ref)
}

// Subscribe delivers every later message of t to ref, converted by adapt:
// how an actor whose message type is a sum of several (an interface, say)
// subscribes to a topic of one of them. adapt runs on the publisher's
// goroutine, once per message, and should be cheap; if it panics, that
// subscriber misses the message and Publish reports the panic as an error.
// Otherwise it is Topic.Subscribe.
func Subscribe[T, M any](t *Topic[T], ref actor.Ref[M], adapt func(T) M) (*Subscription, error) {
	switch {
	case t == nil:
		return nil, fmt.Errorf("broker: %w: nil Topic", ErrInvalid)
	case ref == (actor.Ref[M]{}):
		return nil, fmt.Errorf("broker: topic %q: %w: zero actor.Ref", t.name, ErrInvalid)
	case adapt == nil:
		return nil, fmt.Errorf("broker: topic %q: %w: nil adapt function", t.name, ErrInvalid)
	}
	s := &adapted[T, M]{ref: ref, adapt: adapt}
	return attach(t, s, ref)
}

// attach adds s, a subscription for ref, to t, and watches ref so that the
// subscription ends when the actor stops for good. The watch costs no
// goroutine until the actor stops.
func attach[T, M any](t *Topic[T], s subscriber[T], ref actor.Ref[M]) (*Subscription, error) {
	sub := s.subscription()
	sub.topic, sub.subscriber, sub.from = t.name, ref.Name(), t
	// Done is read once here so that Publish checks a channel, not the
	// actor's lock.
	sub.done = ref.Done()
	mb := ref.Mailbox()
	sub.blocks = mb.Policy() == actor.Block && mb.Capacity() > 0
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return nil, fmt.Errorf("broker: topic %q: %w", t.name, ErrClosed)
	}
	if err := ref.Err(); err != nil {
		return nil, fmt.Errorf("broker: topic %q: subscribe: %w", t.name, err)
	}
	var next []subscriber[T]
	if cur := t.subs.Load(); cur != nil {
		next = make([]subscriber[T], 0, len(*cur)+1)
		next = append(next, *cur...)
	}
	next = append(next, s)
	t.subs.Store(&next)
	// Watched while t.mu is held: if the actor has stopped meanwhile, the
	// callback runs on a goroutine of its own and waits for t.mu, so it
	// finds the subscription in place and sub.unwatch set.
	sub.unwatch = ref.Watch(func(error) { sub.end() })
	return sub, nil
}

// detach removes sub from t; the Subscription calls it once.
func (t *Topic[T]) detach(sub *Subscription) {
	t.mu.Lock()
	unwatch := sub.unwatch
	sub.unwatch = nil
	if cur := t.subs.Load(); cur != nil {
		next := make([]subscriber[T], 0, len(*cur))
		for _, s := range *cur {
			if s.subscription() != sub {
				next = append(next, s)
			}
		}
		t.subs.Store(&next)
	}
	t.mu.Unlock()
	if unwatch != nil {
		unwatch()
	}
}

// Publish delivers msg to every subscriber of t, in subscription order,
// and returns once each has been offered it. How a subscriber with a full
// mailbox takes it is that subscriber's policy (see actor.Overflow): Block
// makes Publish wait for room, but never longer than ctx; DropNewest and
// DropOldest drop a message to the actor's dead letters; Fail refuses it.
// Publish never blocks otherwise.
//
// One subscriber's trouble does not stop delivery to the others: once ctx
// has ended, only the later Block subscribers are refused (a send to any
// other mailbox never waits, so they still get msg). The error then joins
// what went wrong: an error wrapping actor.ErrMailboxFull per refusing
// subscriber, and one wrapping ctx.Err() counting the Block ones not reached.
// A subscriber that has stopped for good is removed, not reported. A ctx
// that is done already is no different: msg still goes to every mailbox
// that cannot make Publish wait, and only the Block subscribers are
// skipped, counted as drops and reported; a done ctx bounds waiting, it
// does not cancel a delivery that costs no wait.
//
// On a remote topic, Publish encodes msg and hands it to the Transport;
// delivery happens when the transport delivers it back, and its outcome is
// counted in Stats but not returned. A transport gives up when ctx ends,
// so with a done ctx nothing is handed to it and Publish returns ctx's
// error.
func (t *Topic[T]) Publish(ctx context.Context, msg T) error {
	switch {
	case t == nil:
		return fmt.Errorf("broker: %w: nil Topic", ErrInvalid)
	case ctx == nil:
		return fmt.Errorf("broker: topic %q: %w: nil context", t.name, ErrInvalid)
	case t.closed.Load():
		return fmt.Errorf("broker: topic %q: %w", t.name, ErrClosed)
	}
	if t.remote != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("broker: topic %q: publish: %w", t.name, err)
		}
		t.published.Add(1)
		return t.publishRemote(ctx, msg)
	}
	t.published.Add(1)
	return t.deliver(ctx, msg)
}

// deliver offers msg to every subscriber. The topic's counters are added
// to once per call, not once per subscriber: concurrent publishers would
// otherwise contend on them.
func (t *Topic[T]) deliver(ctx context.Context, msg T) error {
	p := t.subs.Load()
	if p == nil {
		return nil
	}
	subs := *p
	var delivered, dropped uint64
	var errs []error
	var ctxErr error
	unreached := 0
	for _, s := range subs {
		sub := s.subscription()
		// A stopped actor is dropped here, before a send that would only
		// make a dead letter of msg. The watch removes it too, but a
		// moment later.
		select {
		case <-sub.done:
			sub.end()
			continue
		default:
		}
		err := s.send(ctx, msg)
		if err == nil {
			sub.delivered.Add(1)
			delivered++
			continue
		}
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			// The ctx ended while a Block mailbox was full. Later Block
			// subscribers are refused at once; the others still get msg,
			// since a send to them never waits.
			sub.dropped.Add(1)
			dropped++
			if ctxErr == nil {
				ctxErr = err
			}
			unreached++
			continue
		}
		sub.dropped.Add(1)
		dropped++
		if errors.Is(err, actor.ErrStopped) {
			// Stopped between the check above and the send: msg is a dead
			// letter already; the subscription goes.
			sub.end()
			continue
		}
		errs = append(errs, fmt.Errorf("broker: topic %q: %w", t.name, err))
	}
	if ctxErr != nil {
		errs = append(errs, fmt.Errorf("broker: topic %q: %d of %d subscribers not reached: %w",
			t.name, unreached, len(subs), ctxErr))
	}
	if delivered > 0 {
		t.delivered.Add(delivered)
	}
	if dropped > 0 {
		t.dropped.Add(dropped)
	}
	return errors.Join(errs...)
}

func (t *Topic[T]) publishRemote(ctx context.Context, msg T) error {
	data, err := t.remote.codec.Encode(msg)
	if err != nil {
		return fmt.Errorf("broker: topic %q: %w: encode: %w", t.name, ErrCodec, err)
	}
	if err := t.remote.transport.Publish(ctx, t.name, data); err != nil {
		return fmt.Errorf("broker: topic %q: transport publish: %w", t.name, err)
	}
	return nil
}

// receiveRemote is the transport's delivery callback of a remote topic.
// Its outcome has nobody to be returned to: it is counted.
func (t *Topic[T]) receiveRemote(ctx context.Context, data []byte) {
	if t.closed.Load() {
		return
	}
	msg, err := t.remote.codec.Decode(data)
	if err != nil {
		t.malformed.Add(1)
		return
	}
	_ = t.deliver(ctx, msg)
}

// close ends every subscription and the transport subscription; later
// calls fail with ErrClosed. The subscriptions are ended in one sweep
// rather than one detach each, which would copy the list once per
// subscriber.
func (t *Topic[T]) close() {
	t.mu.Lock()
	if t.closed.Swap(true) {
		t.mu.Unlock()
		return
	}
	var unwatch []func() bool
	if cur := t.subs.Load(); cur != nil {
		for _, s := range *cur {
			sub := s.subscription()
			if sub.ended.CompareAndSwap(false, true) && sub.unwatch != nil {
				unwatch = append(unwatch, sub.unwatch)
				sub.unwatch = nil
			}
		}
	}
	t.subs.Store(nil)
	t.mu.Unlock()
	for _, f := range unwatch {
		f()
	}
	if t.remote != nil && t.remote.cancel != nil {
		t.remote.cancel()
	}
}

// TopicStats is a snapshot of a topic's counters. A message counts once
// per subscriber in Delivered or Dropped.
type TopicStats struct {
	Name        string
	Remote      bool
	Subscribers int
	// Published counts the messages accepted by Publish (on a remote
	// topic: handed to the transport from here).
	Published uint64
	// Delivered counts messages a subscriber's mailbox accepted. Under
	// DropNewest and DropOldest that includes messages the mailbox then
	// dropped to dead letters: the actor counts those, the sender cannot
	// tell.
	Delivered uint64
	// Dropped counts messages a subscriber did not get: its mailbox was
	// full under Fail, the publisher's ctx ended while it was full under
	// Block, the subscriber's adapter panicked, or the subscriber stopped
	// for good as the message was sent (it is then a dead letter).
	Dropped uint64
	// Malformed counts messages from the transport that did not decode.
	Malformed uint64
}

// Stats returns the topic's counters.
func (t *Topic[T]) Stats() TopicStats {
	n := 0
	if cur := t.subs.Load(); cur != nil {
		n = len(*cur)
	}
	return TopicStats{
		Name: t.name, Remote: t.remote != nil, Subscribers: n,
		Published: t.published.Load(), Delivered: t.delivered.Load(),
		Dropped: t.dropped.Load(), Malformed: t.malformed.Load(),
	}
}
