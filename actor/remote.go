package actor

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"weak"
)

// The seam for transports (the remote package): what an actor system needs
// from the actor package to run some of its actors on other machines.
// Nothing here is on the local Send path.

// Fail makes this incarnation crash with err at its next turn, even if it
// is idle, exactly as if Receive had returned err (a nil err becomes a
// generic one). Unlike the rest of Context it is safe to call from any
// goroutine at any time, so that something watching on the actor's behalf
// (a network connection, a timer) can report a failure the actor cannot
// see from Receive. It does nothing once the incarnation has ended.
func (c *Context[M]) Fail(err error) { c.inc.Crash(err) }

// Requeue puts msgs back at the head of the mailbox, in the order given,
// ahead of everything queued. It is for actors that forward their messages
// elsewhere (the remote package's children) and learn, as the incarnation
// ends, that some were never handled there: called from PostStop, the next
// incarnation receives them first, so nothing is lost or reordered. If the
// actor has stopped for good the messages become dead letters. Calling it
// from Receive would put msgs ahead of messages the activation already
// holds; do not.
func (c *Context[M]) Requeue(msgs ...M) {
	cl := c.cell
	cl.mu.Lock()
	if !cl.stopped() {
		for i := len(msgs) - 1; i >= 0; i-- {
			cl.ringLocked().pushFront(msgs[i])
		}
		ready := cl.inc != nil && len(msgs) > 0
		cl.mu.Unlock()
		if ready {
			cl.schedule()
		}
		return
	}
	cl.mu.Unlock()
	for _, m := range msgs {
		cl.deadLetter(m, errQueuedAtStop)
	}
}

// Record counts msg as a dead letter meant for target and hands it to the
// subscribers: for transports, which know of messages that reached no actor
// (bad bytes from the network, a node that went down) without holding a Ref
// that could report them.
func (d *DeadLetters) Record(target string, msg any, reason error) {
	deadLetter(d, target, msg, reason)
}

// SetRedelivered says whether the messages these dead letters record are
// delivered again by someone else, so that a request among them is not
// lost and must not fail the Ask waiting on it. It is for transports that
// run forwarded messages in a System of their own (the remote package's
// hosting System, whose queue at a stop its owner requeues for the next
// incarnation): the user's own dead letters are always final.
func (d *DeadLetters) SetRedelivered(on bool) { d.redelivered.Store(on) }

// ReplyPort carries the answers of Asks between processes. A transport
// installs one with SetReplyPort; from then on a Reply encodes (as text,
// through encoding.TextMarshaler, which encoding/json and most codecs
// honour) into a token the port issues, and decodes, in the other process,
// into a Reply whose answer the port carries back. The answer value travels
// as JSON; an error as its text.
//
// A user's codec carries a Reply field by calling its MarshalText and
// UnmarshalText.
type ReplyPort interface {
	// ExportReply registers an answer slot and returns the token that
	// stands for it on the wire. answer delivers the remote answer (JSON
	// data, or an error); gone reports that nobody can receive it any more
	// (the asker gave up and dropped the request), so the port may forget
	// it.
	ExportReply(answer func(data []byte, err error), gone func() bool) (token []byte, err error)
	// ImportReply turns a token back into the function that sends the
	// answer to the process that exported it.
	ImportReply(token []byte) (answer func(data []byte, err error), err error)
}

var replyPort atomic.Pointer[ReplyPort]

// SetReplyPort installs the process-wide ReplyPort (the remote package does
// it when its first node starts). Until then encoding a Reply fails.
func SetReplyPort(p ReplyPort) {
	if p == nil {
		replyPort.Store(nil)
		return
	}
	replyPort.Store(&p)
}

var errNoReplyPort = errors.New("a Reply can only cross processes through a transport that carries answers (none is installed)")

// MarshalText implements encoding.TextMarshaler: the token of a remote
// answer slot (see ReplyPort). The zero Reply encodes as an empty token.
func (r Reply[R]) MarshalText() ([]byte, error) {
	if r.s == nil {
		return []byte{}, nil
	}
	if r.s.fwd != nil {
		return nil, errors.New("a Reply received from another process cannot be sent on")
	}
	p := replyPort.Load()
	if p == nil {
		return nil, errNoReplyPort
	}
	// The port holds the slot weakly: an Ask that gave up, and dropped the
	// request, must not pin it in the port's table.
	wp := weak.Make(r.s)
	answer := func(data []byte, err error) {
		s := wp.Value()
		if s == nil {
			return
		}
		if err != nil {
			Reply[R]{s}.Fail(err)
			return
		}
		var v R
		if uerr := json.Unmarshal(data, &v); uerr != nil {
			Reply[R]{s}.Fail(fmt.Errorf("decoding the answer: %w", uerr))
			return
		}
		Reply[R]{s}.Send(v)
	}
	return (*p).ExportReply(answer, func() bool { return wp.Value() == nil })
}

// UnmarshalText implements encoding.TextUnmarshaler: it makes the Reply
// answer the remote asker the token stands for. An empty token gives the
// zero Reply.
func (r *Reply[R]) UnmarshalText(token []byte) error {
	if len(token) == 0 {
		*r = Reply[R]{}
		return nil
	}
	p := replyPort.Load()
	if p == nil {
		return errNoReplyPort
	}
	answer, err := (*p).ImportReply(token)
	if err != nil {
		return err
	}
	// The asker waits in another process: while this Reply is unanswered
	// it counts as a waiting Ask here, so that a request lost here (a
	// crash on it, a full mailbox) fails it at once, as locally (see
	// lostReplies). The count is given back at the answer, or when the
	// Reply is collected unanswered.
	answered := new(atomic.Bool)
	asksWaiting.Add(1)
	s := &replySlot[R]{fwd: func(v R, err error) {
		if !answered.CompareAndSwap(false, true) {
			return
		}
		asksWaiting.Add(-1)
		if err != nil {
			answer(nil, err)
			return
		}
		data, merr := json.Marshal(v)
		if merr != nil {
			answer(nil, fmt.Errorf("encoding the answer: %w", merr))
			return
		}
		answer(data, nil)
	}}
	s.slot = s
	runtime.AddCleanup(s, func(a *atomic.Bool) {
		if a.CompareAndSwap(false, true) {
			asksWaiting.Add(-1)
		}
	}, answered)
	*r = Reply[R]{s}
	return nil
}

// Node reports where the incarnation runs, for observers (the observe
// package's Located): what the actor's own Node method says, for actors
// that run elsewhere (the remote package's children), else "" (here).
func (inc *incarnation[M]) Node() string {
	if l, ok := inc.actor.(interface{ Node() string }); ok {
		return l.Node()
	}
	return ""
}

// Backlog is how many messages wait for this actor behind the one in
// Receive: taken out of the mailbox by its activation or still queued
// there. It is for actors that forward their messages in batches (the
// remote package's Lookup stand-ins): one that sees 0 has nothing more
// coming for now and sends what it holds. It is a hint, never too high:
// messages put back at the head (Requeue) and those of a bounded mailbox
// are not counted, so a batch may go out early, but it never waits for a
// message that is not coming.
func (c *Context[M]) Backlog() int { return c.cell.inHand() + c.cell.inLen() }

// SetSelf makes Self return ref for the rest of this incarnation. It is for
// transports that run an incarnation on behalf of an actor whose mailbox is
// elsewhere (the remote package's hosted children): a message the actor
// sends itself must queue in that mailbox, behind the others, not in the
// local cell that only relays them. Call it from PreStart, before the
// actor's own code can ask for Self; a zero ref restores the default.
func (c *Context[M]) SetSelf(ref Ref[M]) {
	inc := c.inc
	if ref.c == nil {
		inc.marks &^= markSelf
		return
	}
	c.cell.mu.Lock()
	inc.rareLocked().self = ref.c
	c.cell.mu.Unlock()
	inc.marks |= markSelf
}

// SetName makes Name, and the "actor" attribute of Logger, give name
// instead of the name the actor was spawned under. It is for transports
// whose incarnations run under internal names on behalf of an actor known
// by another (the remote package's hosted children, each spawned under a
// name unique to its incarnation): the actor's own code should see the
// name its owner gave it. Call it from PreStart, before the actor's own
// code runs.
func (c *Context[M]) SetName(name string) { c.cell.setPublicName(name) }
