package broker

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/airssys/rt/actor"
)

// Subscription is one actor's subscription to one topic. It ends when
// Cancel is called, when the actor stops for good, or when the Broker is
// closed; a restart of the actor does not end it, since its Ref stays the
// same.
type Subscription struct {
	topic      string
	subscriber string
	from       detacher
	done       <-chan struct{} // the actor's Done
	// blocks: the actor's mailbox is Bounded with Block, the only kind a
	// send may wait on, so the only kind the publisher's ctx bounds.
	blocks bool

	ended     atomic.Bool
	unwatch   func() bool // guarded by the topic's mu
	delivered atomic.Uint64
	dropped   atomic.Uint64
}

// detacher is the *Topic[T] a Subscription belongs to.
type detacher interface{ detach(*Subscription) }

// Cancel ends the subscription: no message published after it returns is
// delivered through it (one being delivered concurrently may still
// arrive). It is idempotent and safe from any goroutine, Receive included.
func (s *Subscription) Cancel() {
	if s != nil {
		s.end()
	}
}

func (s *Subscription) end() {
	if s.ended.CompareAndSwap(false, true) {
		s.from.detach(s)
	}
}

// Active reports whether the subscription has not ended.
func (s *Subscription) Active() bool { return !s.ended.Load() }

// Topic returns the name of the topic.
func (s *Subscription) Topic() string { return s.topic }

// Subscriber returns the name of the subscribed actor.
func (s *Subscription) Subscriber() string { return s.subscriber }

// SubscriptionStats is a snapshot of a subscription's counters, counted as
// in TopicStats.
type SubscriptionStats struct {
	Topic      string
	Subscriber string
	Active     bool
	Delivered  uint64
	Dropped    uint64
}

// Stats returns the subscription's counters.
func (s *Subscription) Stats() SubscriptionStats {
	return SubscriptionStats{
		Topic: s.topic, Subscriber: s.subscriber, Active: s.Active(),
		Delivered: s.delivered.Load(), Dropped: s.dropped.Load(),
	}
}

// direct subscribes an actor whose message type is the topic's.
type direct[T any] struct {
	Subscription
	ref actor.Ref[T]
}

func (d *direct[T]) subscription() *Subscription { return &d.Subscription }

func (d *direct[T]) send(ctx context.Context, msg T) error {
	if !d.blocks {
		return d.ref.Send(msg)
	}
	return d.ref.SendContext(ctx, msg)
}

// adapted subscribes an actor of another message type through a function.
type adapted[T, M any] struct {
	Subscription
	ref   actor.Ref[M]
	adapt func(T) M
}

func (a *adapted[T, M]) subscription() *Subscription { return &a.Subscription }

func (a *adapted[T, M]) send(ctx context.Context, msg T) error {
	m, err := a.convert(msg)
	if err != nil {
		return err
	}
	if !a.blocks {
		return a.ref.Send(m)
	}
	return a.ref.SendContext(ctx, m)
}

// convert calls adapt, turning a panic into an error so that one bad
// adapter cannot take the publisher down with it.
func (a *adapted[T, M]) convert(msg T) (m M, err error) {
	defer func() {
		if v := recover(); v != nil {
			if e, ok := v.(error); ok {
				err = fmt.Errorf("subscriber %q: adapt panicked: %w", a.subscriber, e)
			} else {
				err = fmt.Errorf("subscriber %q: adapt panicked: %v", a.subscriber, v)
			}
		}
	}()
	return a.adapt(msg), nil
}
