package broker

import (
	"fmt"
	"reflect"
	"sort"
	"sync"
)

// Broker is a namespace of topics, each with one message type, and the
// binding of its remote topics to a Transport. The zero value is a ready
// Broker with no transport; New configures one. A Broker is safe for
// concurrent use.
type Broker struct {
	transport Transport

	mu     sync.Mutex
	topics map[string]topic
	closed bool
}

// topic is a *Topic[T] of any T, as the Broker keeps it.
type topic interface {
	Stats() TopicStats
	close()
	messageType() reflect.Type
}

// Option configures a Broker at New. It has the shape of the other
// packages' options (supervisor, observe, process, remote): a function of an
// unexported configuration, so options stay the only way to set one.
type Option func(*config)

// config is what the options set.
type config struct {
	transport Transport
}

// WithTransport gives the Broker a Transport for its remote topics (see
// OpenRemote). Topics opened with Open stay in memory whatever the
// transport. A nil transport is the same as none.
func WithTransport(t Transport) Option { return func(c *config) { c.transport = t } }

// New returns a Broker configured by opts. A nil option is ignored, as
// supervisor.New does: New has no error to report it with.
func New(opts ...Option) *Broker {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return &Broker{transport: c.transport}
}

// Open returns the topic of b named name, creating it as a local topic if
// there is none. A topic has one message type for its whole life: opening
// an existing name with another type fails with ErrWrongType. Opening a
// remote topic with Open returns it, still remote.
func Open[T any](b *Broker, name string) (*Topic[T], error) {
	return open[T](b, name, nil)
}

// OpenRemote returns the topic of b named name, creating it as a remote
// topic if there is none: what is published on it is encoded with codec and
// handed to b's Transport, and what the transport delivers for name
// (published here or by any other process on the same transport) is
// decoded and delivered to its local subscribers. The first codec given for
// a name is the one used.
//
// It fails with ErrNoTransport if b has no transport, ErrWrongType if the
// name is open with another type, and ErrConflict if it is open as a local
// topic.
func OpenRemote[T any](b *Broker, name string, codec Codec[T]) (*Topic[T], error) {
	if codec == nil {
		return nil, fmt.Errorf("broker: topic %q: %w: nil codec", name, ErrInvalid)
	}
	return open(b, name, codec)
}

func open[T any](b *Broker, name string, codec Codec[T]) (*Topic[T], error) {
	switch {
	case b == nil:
		return nil, fmt.Errorf("broker: topic %q: %w: nil Broker", name, ErrInvalid)
	case name == "":
		return nil, fmt.Errorf("broker: %w: empty topic name", ErrInvalid)
	case codec != nil && b.transport == nil:
		return nil, fmt.Errorf("broker: topic %q: %w", name, ErrNoTransport)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("broker: topic %q: %w", name, ErrClosed)
	}
	if e, ok := b.topics[name]; ok {
		t, ok := e.(*Topic[T])
		if !ok {
			return nil, fmt.Errorf("broker: topic %q carries %v, not %v: %w",
				name, e.messageType(), reflect.TypeFor[T](), ErrWrongType)
		}
		if codec != nil && t.remote == nil {
			return nil, fmt.Errorf("broker: topic %q: %w", name, ErrConflict)
		}
		return t, nil
	}
	t := &Topic[T]{name: name}
	if codec != nil {
		// Subscribed under b.mu so that two OpenRemote calls for one name
		// cannot both subscribe; Transport.Subscribe must not call back
		// into the Broker synchronously.
		t.remote = &remoteLink[T]{transport: b.transport, codec: codec}
		cancel, err := b.transport.Subscribe(name, t.receiveRemote)
		if err != nil {
			return nil, fmt.Errorf("broker: topic %q: transport subscribe: %w", name, err)
		}
		t.remote.cancel = cancel
	}
	if b.topics == nil {
		b.topics = make(map[string]topic)
	}
	b.topics[name] = t
	return t, nil
}

// Topics returns the names of the open topics, sorted.
func (b *Broker) Topics() []string {
	b.mu.Lock()
	out := make([]string, 0, len(b.topics))
	for name := range b.topics {
		out = append(out, name)
	}
	b.mu.Unlock()
	sort.Strings(out)
	return out
}

// Stats returns the counters of every open topic, sorted by name.
func (b *Broker) Stats() []TopicStats {
	b.mu.Lock()
	out := make([]TopicStats, 0, len(b.topics))
	for _, t := range b.topics {
		out = append(out, t.Stats())
	}
	b.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Close closes every topic: their subscriptions end, their transport
// subscriptions are cancelled, and later calls on the Broker or its topics
// fail with ErrClosed. The actors themselves are not touched, nor is the
// Transport, which belongs to whoever made it. Close is idempotent.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	topics := b.topics
	b.topics = nil
	b.mu.Unlock()
	for _, t := range topics {
		t.close()
	}
	return nil
}
