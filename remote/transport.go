package remote

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/airssys/rt/broker"
)

// Transport returns a broker.Transport that carries topics between nodes of
// the cluster: a topic is a NATS subject under the cluster's namespace,
// Publish is one NATS publish, and every subscriber on every node (this one
// included) gets each message once, in each publisher's order. A
// subscriber that falls behind loses messages to NATS' slow-consumer limit;
// the node counts them ("slow_consumer" dead letters). Once the node is
// closing, Publish and Subscribe fail with ErrClosed.
func (n *Node) Transport() broker.Transport { return transport{n} }

type transport struct{ n *Node }

// topicSubject maps a topic name to one subject token: characters NATS
// gives a meaning to ('.', '*', '>', whitespace) and '%' itself are
// %-escaped, so every topic name has a subject and no two share one.
func (t transport) topicSubject(topic string) string {
	var b strings.Builder
	b.WriteString(t.n.prefix)
	b.WriteString("t.")
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		if c <= ' ' || c == '.' || c == '*' || c == '>' || c == '%' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (t transport) Publish(ctx context.Context, topic string, data []byte) error {
	switch {
	case ctx == nil:
		return fmt.Errorf("remote: transport: %w: nil context", broker.ErrInvalid)
	case topic == "":
		return fmt.Errorf("remote: transport: %w: empty topic", broker.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remote: transport: topic %q: %w", topic, err)
	}
	if t.n.closing.Load() {
		return fmt.Errorf("remote: transport: topic %q: node %q: %w", topic, t.n.name, ErrClosed)
	}
	if len(data) > t.n.maxPay {
		return fmt.Errorf("remote: transport: topic %q: %d bytes over max_payload %d: %w", topic, len(data), t.n.maxPay, ErrTooLarge)
	}
	t.n.stats.countSent(len(data))
	if err := t.n.nc.Publish(t.topicSubject(topic), data); err != nil {
		t.n.stats.uncountSent(len(data))
		return fmt.Errorf("remote: transport: topic %q: %w", topic, t.n.closedErr(err))
	}
	return nil
}

func (t transport) Subscribe(topic string, deliver func(ctx context.Context, data []byte)) (cancel func(), err error) {
	switch {
	case topic == "":
		return nil, fmt.Errorf("remote: transport: %w: empty topic", broker.ErrInvalid)
	case deliver == nil:
		return nil, fmt.Errorf("remote: transport: topic %q: %w: nil deliver", topic, broker.ErrInvalid)
	case t.n.closing.Load():
		return nil, fmt.Errorf("remote: transport: topic %q: node %q: %w", topic, t.n.name, ErrClosed)
	}
	ctx, stop := context.WithCancel(t.n.ctx)
	sub, err := t.n.nc.Subscribe(t.topicSubject(topic), func(m *nats.Msg) {
		if ctx.Err() != nil {
			return
		}
		t.n.stats.received.Add(1)
		t.n.stats.receivedBytes.Add(uint64(len(m.Data)))
		deliver(ctx, m.Data)
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("remote: transport: topic %q: %w", topic, t.n.closedErr(err))
	}
	_ = sub.SetPendingLimits(1<<20, 256<<20)
	// Make the interest known to the server before returning, so that a
	// publish that follows through the same server reaches it.
	_ = t.n.nc.Flush()
	return func() {
		stop()
		_ = sub.Unsubscribe()
	}, nil
}
