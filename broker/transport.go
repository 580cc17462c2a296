package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
)

// Transport carries encoded messages between Brokers, typically in
// different processes: the seam where a network messaging system plugs in.
// It knows topics by name and messages as bytes; types and codecs stay on
// the Broker's side.
//
// Publish hands data to every subscription of topic, wherever it is,
// including those of the publishing process itself: a remote topic's local
// subscribers are served through the transport like any other, so that
// every process sees a topic's messages in the transport's order, once. The
// transport owns data once Publish is called. Publish should return once
// the message is on its way (or, for an in-memory transport, delivered),
// never waiting for a remote subscriber, and give up when ctx ends.
//
// Subscribe calls deliver for each message published on topic until
// cancel is called; after cancel returns no new call begins (one under way
// may complete), and cancel may be called more than once, even from
// deliver. deliver is safe for concurrent calls, but messages from one
// publisher must reach it in the order they were published. Its data is
// read-only and shared. deliver may block while an actor's Block mailbox
// is full, for as long as its ctx allows: a network transport passes a ctx
// that ends when the subscription is cancelled, and decides itself what a
// subscriber that falls behind costs (NATS, for one, drops messages for a
// slow consumer). Subscribe must not call back into the Broker
// synchronously.
//
// # A network transport
//
// The remote package is to implement Transport over NATS: Publish is
// nc.Publish(subject, data) with the topic name as subject (mapped by the
// remote package where NATS' subject syntax requires), Subscribe is
// nc.Subscribe(subject, handler) with a handler that calls deliver(ctx,
// msg.Data), and cancel unsubscribes, drains, and cancels that ctx. It
// must keep NATS' default of echoing a connection's own messages, since
// local subscribers of a remote topic receive through the transport. A
// program then uses it as:
//
//	b := broker.New(broker.WithTransport(remote.NewTransport(nc)))
//	prices, err := broker.OpenRemote(b, "prices", broker.JSON[Price]{})
//
// and everything else (Subscribe, Publish, Stats) reads as for a local
// topic.
type Transport interface {
	Publish(ctx context.Context, topic string, data []byte) error
	Subscribe(topic string, deliver func(ctx context.Context, data []byte)) (cancel func(), err error)
}

// Codec turns messages of type T into bytes for a Transport, and back. It
// runs only for remote topics: local topics hand values to mailboxes as
// they are.
type Codec[T any] interface {
	Encode(msg T) ([]byte, error)
	Decode(data []byte) (T, error)
}

// JSON is a Codec for any type encoding/json can handle: readable on the
// wire, and understood by programs in other languages.
type JSON[T any] struct{}

// Encode returns msg as JSON.
func (JSON[T]) Encode(msg T) ([]byte, error) { return json.Marshal(msg) }

// Decode parses a JSON message.
func (JSON[T]) Decode(data []byte) (T, error) {
	var msg T
	err := json.Unmarshal(data, &msg)
	return msg, err
}

// MemoryTransport is a Transport inside one process: Publish calls every
// subscription's deliver on the publisher's goroutine, with the
// publisher's ctx, before it returns, so a Block mailbox slows the
// publisher as on a local topic (a network transport cannot do that). Several Brokers sharing one behave
// like processes sharing a network transport, which makes it the transport
// of tests, and of programs that want the encoded path without a network.
// The zero value is ready to use.
type MemoryTransport struct {
	mu   sync.Mutex
	subs map[string][]*memorySub // per topic, copy-on-write
}

type memorySub struct {
	deliver   func(context.Context, []byte)
	cancelled atomic.Bool
}

// NewMemoryTransport returns an empty MemoryTransport.
func NewMemoryTransport() *MemoryTransport { return &MemoryTransport{} }

// Publish delivers data to every subscription of topic and then returns.
// It fails with ErrInvalid on a nil ctx or an empty topic, and with ctx's
// error if ctx is done before it starts.
func (m *MemoryTransport) Publish(ctx context.Context, topic string, data []byte) error {
	switch {
	case ctx == nil:
		return fmt.Errorf("broker: memory transport: %w: nil context", ErrInvalid)
	case topic == "":
		return fmt.Errorf("broker: memory transport: %w: empty topic", ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("broker: memory transport: topic %q: %w", topic, err)
	}
	m.mu.Lock()
	subs := m.subs[topic]
	m.mu.Unlock()
	for _, s := range subs {
		if !s.cancelled.Load() {
			s.deliver(ctx, data)
		}
	}
	return nil
}

// Subscribe registers deliver for topic. It fails with ErrInvalid on an
// empty topic or a nil deliver.
func (m *MemoryTransport) Subscribe(topic string, deliver func(ctx context.Context, data []byte)) (cancel func(), err error) {
	switch {
	case topic == "":
		return nil, fmt.Errorf("broker: memory transport: %w: empty topic", ErrInvalid)
	case deliver == nil:
		return nil, fmt.Errorf("broker: memory transport: topic %q: %w: nil deliver", topic, ErrInvalid)
	}
	s := &memorySub{deliver: deliver}
	m.mu.Lock()
	if m.subs == nil {
		m.subs = make(map[string][]*memorySub)
	}
	cur := m.subs[topic]
	next := make([]*memorySub, 0, len(cur)+1)
	m.subs[topic] = append(append(next, cur...), s)
	m.mu.Unlock()
	return func() {
		if s.cancelled.Swap(true) {
			return
		}
		m.mu.Lock()
		cur := m.subs[topic]
		next := make([]*memorySub, 0, len(cur))
		for _, o := range cur {
			if o != s {
				next = append(next, o)
			}
		}
		if len(next) == 0 {
			delete(m.subs, topic)
		} else {
			m.subs[topic] = next
		}
		m.mu.Unlock()
	}, nil
}
