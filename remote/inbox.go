package remote

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/airssys/rt/actor"
)

// onInbox dispatches what arrives on this node's inbox subject. NATS calls
// it on one goroutine per subscription, in the order each publisher sent:
// that is what keeps messages ordered per sender and target. Anything
// slow (starting or stopping an actor) goes to a goroutine of its own.
func (n *Node) onInbox(msg *nats.Msg) {
	if len(msg.Data) == 0 {
		n.malformed(errTruncated, msg.Data)
		return
	}
	r := &reader{b: msg.Data[1:]}
	switch msg.Data[0] {
	case tSend:
		n.onSend(r, msg.Data)
	case tBatch:
		n.onBatch(r, msg.Data)
	case tChild:
		n.onChild(r, msg.Data)
	case tAnswer:
		n.onAnswer(r)
	case tExit:
		n.onExit(r)
	case tAck:
		n.onAck(r)
	case tStopped:
		n.onStopped(r)
	case tSpawn:
		n.onSpawn(msg, r)
	case tStop:
		n.onStop(msg, r)
	case tLookup:
		n.onLookup(msg, r)
	case tPing:
		_ = msg.Respond([]byte(n.id))
	default:
		n.malformed(fmt.Errorf("%w: unknown message type %d", ErrCodec, msg.Data[0]), msg.Data)
	}
}

// malformed records bytes this node could not make sense of as a dead
// letter (ErrCodec), with a copy of them.
func (n *Node) malformed(err error, data []byte) {
	if !errors.Is(err, ErrCodec) {
		err = fmt.Errorf("%w: %w", ErrCodec, err)
	}
	n.deadLetter(n.name, append([]byte(nil), data...), err, "codec")
}

// deadLetter records msg in the System's dead letters and counts it by
// reason.
func (n *Node) deadLetter(target string, msg any, reason error, label string) {
	n.stats.deadLetter(label)
	if label == "codec" {
		n.logCodec(target, reason)
	}
	n.sys.DeadLetters().Record(target, msg, reason)
}

// reasonLabel names a dead letter's reason for the metrics.
func reasonLabel(err error) string {
	switch {
	case errors.Is(err, ErrCodec):
		return "codec"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, ErrNodeDown):
		return "node_down"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, actor.ErrNotFound):
		return "unknown_actor"
	case errors.Is(err, ErrUnknownKind):
		return "unknown_kind"
	case errors.Is(err, actor.ErrMailboxFull):
		return "mailbox_full"
	case errors.Is(err, actor.ErrStopped):
		return "stopped"
	}
	return "crash"
}

func respond(msg *nats.Msg, status byte, text string) {
	var w writer
	w.byte(status)
	w.str(text)
	_ = msg.Respond(w.b)
}

// request sends a request frame to node and returns the reply's status
// and text. A node that does not answer within the window (or has no
// subscriber) is down. A node known to be down is not asked, and one
// declared down while request waits ends the wait at once: either way
// the error wraps ErrNodeDown and the NodeDown's reason, not a timeout.
func (n *Node) request(ctx context.Context, node string, frame []byte) (byte, *reader, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*n.window())
		defer cancel()
	}
	if node != n.name {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		unsub := n.Subscribe(func(ev NodeEvent) {
			if ev.Kind == NodeDown && ev.Node == node {
				cancel(fmt.Errorf("remote: node %q: %w", node, ev.Reason))
			}
		})
		defer unsub()
		// Once subscribed, so that a NodeDown in between is not missed.
		if err := n.checkNode(node); errors.Is(err, ErrNodeDown) {
			return 0, nil, err
		}
	}
	reply, err := n.nc.RequestWithContext(ctx, n.inboxOf(node), frame)
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, ErrNodeDown) {
		return 0, nil, cause
	}
	switch {
	case err == nil:
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return 0, nil, fmt.Errorf("remote: node %q: %w (%v)", node, ErrNodeDown, err)
	case errors.Is(err, context.DeadlineExceeded):
		return 0, nil, fmt.Errorf("remote: node %q does not answer: %w: %w", node, ErrNodeDown, err)
	case errors.Is(err, nats.ErrConnectionClosed):
		return 0, nil, fmt.Errorf("remote: node %q: %w", n.name, ErrClosed)
	default:
		return 0, nil, fmt.Errorf("remote: node %q: %w", node, err)
	}
	r := &reader{b: reply.Data}
	status := r.byte()
	if r.err != nil {
		return 0, nil, fmt.Errorf("remote: node %q: reply: %w", node, r.err)
	}
	return status, r, nil
}

// stopTimeout bounds how long an owner waits for a peer to stop one of its
// children before it counts the peer as unreachable.
func (n *Node) stopTimeout() time.Duration { return 2 * n.window() }

// codecLogEvery is how often, at most, a node logs the codec dead letters
// of one target.
const codecLogEvery = 10 * time.Second

// codecNote is how a target's codec dead letters were last logged.
type codecNote struct {
	at      time.Time
	dropped uint64 // since then
}

// logCodec logs a codec dead letter: a peer and this node disagree on a
// message type or codec, which nothing on the sending side can report (its
// Send succeeded). Once per target every codecLogEvery, with how many there
// were, so a stream of bad messages cannot flood the log.
func (n *Node) logCodec(target string, reason error) {
	now := time.Now()
	n.codecMu.Lock()
	if n.codecLog == nil || len(n.codecLog) >= 1024 {
		n.codecLog = map[string]*codecNote{}
	}
	c := n.codecLog[target]
	if c == nil {
		c = &codecNote{}
		n.codecLog[target] = c
	}
	c.dropped++
	if !c.at.IsZero() && now.Sub(c.at) < codecLogEvery {
		n.codecMu.Unlock()
		return
	}
	count := c.dropped
	c.at, c.dropped = now, 0
	n.codecMu.Unlock()
	n.log.Warn("remote: undecodable message is a dead letter", "target", target, "count", count, "reason", reason)
}
