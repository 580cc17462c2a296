// Package broker lets actors talk through named, typed topics instead of
// holding each other's Refs: publishers do not know who listens, and
// listeners come and go.
//
// # The model
//
// A Broker is a namespace of topics. A Topic[T] carries messages of one
// type T, fixed when the name is first opened:
//
//	b := broker.New()
//	orders, err := broker.Open[Order](b, "orders")
//
// Opening the name again with the same type returns the same topic; with
// another type it fails with ErrWrongType, never a panic.
//
// Subscribers are actors. An actor whose message type is T subscribes its
// Ref directly; an actor that takes several kinds of message (a sum type,
// typically an interface) subscribes through a function that makes its
// message from the topic's:
//
//	// audit is an actor.Ref[Order]; billing an actor.Ref[BillingMsg].
//	sub, err := orders.Subscribe(audit)
//	sub, err = broker.Subscribe(orders, billing, func(o Order) BillingMsg { return o })
//
// Publish offers a message to every subscriber's mailbox and returns; it
// never waits for a message to be handled:
//
//	err := orders.Publish(ctx, Order{ID: 7})
//
// # Slow subscribers
//
// The broker has no queues of its own: each subscriber's mailbox is its
// queue, and the mailbox's policy (actor.WithMailbox) decides what a full
// one does. Unbounded and the dropping policies never slow the publisher;
// Fail refuses the message and Publish reports it (wrapping
// actor.ErrMailboxFull) while still delivering to the others; Block makes
// Publish wait for room, but never past the publisher's ctx, after which
// Publish returns an error wrapping ctx.Err(). So a publisher that must
// not stall gives Publish a deadline, and a subscriber that must not lose
// anything uses Block and accepts that it slows its publishers. The ctx
// bounds waiting only: a message still reaches every mailbox that costs no
// wait when the ctx has ended, even before Publish is called; only the
// Block subscribers are then skipped, counted as drops and reported.
//
// Deliveries and drops are counted per topic (Topic.Stats, Broker.Stats)
// and per subscription (Subscription.Stats).
//
// # Lifetimes
//
// A subscription holds the actor's Ref, which survives restarts: an actor
// restarted by its supervisor keeps its subscriptions and its queued
// messages. When the actor stops for good its subscriptions end by
// themselves (no goroutine waits for that: the broker registers a watch
// that costs nothing until it fires, and Publish skips a stopped actor
// besides). Subscription.Cancel ends one earlier; Broker.Close ends them
// all.
//
// Messages from one publisher reach each subscriber in the order they were
// published. Messages from concurrent publishers interleave, and two
// subscribers may see them interleaved differently.
//
// # Remote topics
//
// A Transport carries encoded messages between processes: the seam for
// the NATS transport of the remote package. A Broker made with
// WithTransport can open remote topics with a Codec:
//
//	b := broker.New(broker.WithTransport(t))
//	prices, err := broker.OpenRemote(b, "prices", broker.JSON[Price]{})
//
// Publish on a remote topic encodes the message and hands it to the
// transport; the transport delivers it to every Broker subscribed to that
// name, this one included, and each decodes it and delivers it to its
// local subscribers as above. MemoryTransport does this within one
// process, for tests and for trying the encoded path without a network.
// Local topics never encode anything.
package broker
