package remote

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/supervisor"
)

// served is an actor this node delivers to by name for other nodes: one
// given to Expose, or a child this node declared with Spec or Spawn.
type served struct {
	name     string
	typeName string
	ref      any // actor.Ref[M]
	deliver  func(payload []byte)
	watchers map[string]bool // nodes holding a Lookup ref to it
	stop     func() bool     // cancels the Watch that unserves it
}

// Expose lets other nodes Lookup ref under its name, with codec for its
// messages. Actors a node spawned from registered kinds (Spec, Spawn) are
// served without it. A name is served once per node: ErrInvalid if taken.
// The actor stops being served when it stops for good, and nodes holding a
// Lookup ref to it see that ref stop too.
func Expose[M any](n *Node, ref actor.Ref[M], codec Codec[M]) error {
	switch {
	case n == nil:
		return fmt.Errorf("remote: expose: %w: nil Node", ErrInvalid)
	case codec == nil:
		return fmt.Errorf("remote: expose %q: %w: nil codec", ref.Name(), ErrInvalid)
	case ref.Name() == "":
		return fmt.Errorf("remote: expose: %w: zero Ref", ErrInvalid)
	}
	if err := checkCodec(codec); err != nil {
		return fmt.Errorf("remote: expose %q: %w", ref.Name(), err)
	}
	return serve(n, ref, codec)
}

func serve[M any](n *Node, ref actor.Ref[M], codec Codec[M]) error {
	name := ref.Name()
	s := &served{name: name, typeName: typeName[M](), ref: ref, watchers: map[string]bool{}}
	carry := carriesReply[M]()
	s.deliver = func(payload []byte) {
		msg, err := decode(n, codec, payload, carry)
		if err != nil {
			n.deadLetter(name, append([]byte(nil), payload...), fmt.Errorf("remote: to %q: %w", name, err), "codec")
			return
		}
		n.stats.received.Add(1)
		n.stats.receivedBytes.Add(uint64(len(payload)))
		if err := ref.SendContext(n.ctx, msg); err != nil {
			switch {
			case errors.Is(err, actor.ErrMailboxFull):
				// Fail policy: the sender would keep the message, but the
				// sender is on another node. It is a dead letter here.
				n.deadLetter(name, msg, err, "mailbox_full")
			case errors.Is(err, actor.ErrStopped):
				n.stats.deadLetter("stopped") // Send recorded it already
			default:
				n.deadLetter(name, msg, err, reasonLabel(err))
			}
		}
	}
	n.mu.Lock()
	if n.closing.Load() {
		n.mu.Unlock()
		return fmt.Errorf("remote: node %q: %w", n.name, ErrClosed)
	}
	if _, taken := n.served[name]; taken {
		n.mu.Unlock()
		return fmt.Errorf("remote: node %q: %w: an actor named %q is served already", n.name, ErrInvalid, name)
	}
	n.served[name] = s
	n.mu.Unlock()
	stop := ref.Watch(func(reason error) { n.unserve(s, reason) })
	n.mu.Lock()
	s.stop = stop
	// Gone already: the actor stopped (the Watch has fired), or Close
	// took it (see unserveAll), which cancels the Watch of those it saw.
	gone := n.served[name] != s
	n.mu.Unlock()
	if gone {
		stop()
	}
	return nil
}

// unserveAll is Close's end of serving: the Watches of the served actors
// are cancelled, so that an actor that outlives the node does not keep it.
func (n *Node) unserveAll() {
	n.mu.Lock()
	var stops []func() bool
	for name, s := range n.served {
		if s.stop != nil {
			stops = append(stops, s.stop)
		}
		delete(n.served, name)
	}
	n.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
}

// unserve forgets s and tells the nodes watching it that it stopped.
func (n *Node) unserve(s *served, reason error) {
	n.mu.Lock()
	if n.served[s.name] == s {
		delete(n.served, s.name)
	}
	watchers := make([]string, 0, len(s.watchers))
	for w := range s.watchers {
		watchers = append(watchers, w)
	}
	s.watchers = nil
	n.mu.Unlock()
	text := ""
	if reason != nil {
		text = reason.Error()
	}
	for _, w := range watchers {
		var f writer
		f.byte(tStopped)
		f.str(n.name)
		f.str(s.name)
		f.b = append(f.b, text...)
		_ = n.nc.Publish(n.inboxOf(w), f.b)
	}
}

func typeName[M any]() string { return reflect.TypeFor[M]().String() }

// onSend delivers a message to a served actor.
func (n *Node) onSend(r *reader, raw []byte) {
	name := r.str()
	payload := r.rest()
	if r.err != nil {
		n.malformed(r.err, raw)
		return
	}
	n.mu.Lock()
	s := n.served[name]
	n.mu.Unlock()
	if s == nil {
		n.deadLetter(name, append([]byte(nil), payload...),
			fmt.Errorf("remote: node %q: actor %q: %w", n.name, name, actor.ErrNotFound), "unknown_actor")
		return
	}
	s.deliver(payload)
}

// onBatch delivers the messages of a batch to a served actor, each on its
// own: one that does not decode is a dead letter, and the others go on.
func (n *Node) onBatch(r *reader, raw []byte) {
	name := r.str()
	if r.err != nil {
		n.malformed(r.err, raw)
		return
	}
	n.mu.Lock()
	s := n.served[name]
	n.mu.Unlock()
	for len(r.b) > 0 {
		payload := r.raw()
		if r.err != nil {
			n.malformed(r.err, r.b) // the rest of the frame, unread
			return
		}
		if s == nil {
			n.deadLetter(name, append([]byte(nil), payload...),
				fmt.Errorf("remote: node %q: actor %q: %w", n.name, name, actor.ErrNotFound), "unknown_actor")
			continue
		}
		s.deliver(payload)
	}
}

// onLookup answers a peer that looks up a served actor, and remembers it
// as a watcher.
func (n *Node) onLookup(msg *nats.Msg, r *reader) {
	name, tn, watcher := r.str(), r.str(), r.str()
	if r.err != nil {
		n.malformed(r.err, msg.Data)
		return
	}
	n.mu.Lock()
	s := n.served[name]
	switch {
	case s == nil:
		n.mu.Unlock()
		respond(msg, stNotFound, "")
		return
	case s.typeName != tn:
		n.mu.Unlock()
		respond(msg, stWrongType, s.typeName)
		return
	}
	if watcher != n.name && validName(watcher) {
		s.watchers[watcher] = true
	}
	n.mu.Unlock()
	respond(msg, stOK, "")
}

// onStopped stops the Lookup ref of an actor that stopped for good.
func (n *Node) onStopped(r *reader) {
	node, name := r.str(), r.str()
	text := string(r.rest())
	if r.err != nil {
		n.malformed(r.err, nil)
		return
	}
	key := node + "\x00" + name
	n.mu.Lock()
	p := n.lookups[key]
	delete(n.lookups, key)
	if p == nil {
		// Perhaps a Lookup under way, whose stand-in is not registered
		// yet: it checks this when it is.
		if n.stoppedAt == nil {
			n.stoppedAt = map[string]time.Time{}
		}
		if len(n.stoppedAt) >= 1024 {
			clear(n.stoppedAt)
		}
		n.stoppedAt[key] = time.Now()
	}
	n.mu.Unlock()
	if p != nil {
		p.stop(fmt.Errorf("remote: actor %q stopped %w", name, &RemoteError{Node: node, Text: text}))
	}
}

// proxyEntry is the local stand-in of an actor on another node: the cell
// behind the actor.Ref that Lookup returns. Its actor encodes each message
// and publishes it to the node; the stand-in stops for good when the
// remote actor does, or when its node goes down.
type proxyEntry struct {
	node, name, typeName string
	ref                  any                    // actor.Ref[M]
	done                 func() <-chan struct{} // the Ref's Done (made only if asked for)

	mu      sync.Mutex
	fail    func(error) // the stand-in's Context.Fail, once started
	stopped error       // set when asked to stop before it started
	cause   error       // why it was asked to stop, for a batch left over
}

func (p *proxyEntry) stop(cause error) {
	p.mu.Lock()
	fail := p.fail
	if p.cause == nil {
		p.cause = cause
	}
	if fail == nil && p.stopped == nil {
		p.stopped = cause
	}
	p.mu.Unlock()
	if fail != nil {
		fail(cause)
	}
}

type proxy[M any] struct {
	n       *Node
	e       *proxyEntry
	codec   Codec[M]
	carry   bool   // M can hold a Reply
	subject string // the node's inbox

	// The batch under construction (Receive and PostStop only): a tBatch
	// frame, whose header is the first head bytes, then the payloads of
	// msgs; ids are the Asks inside them, bytes their payloads' total.
	// It goes out when the mailbox holds nothing more (Context.Backlog),
	// or when it is full.
	batch []byte
	head  int
	last  int // where the last payload starts in batch
	msgs  []M
	ids   []uint64
	bytes int
	one   []byte // a batch of one goes as a tSend frame, built here
}

// A batch holds at most batchMsgs messages and batchBytes bytes (less if
// the server's max_payload is smaller): large enough that a busy stand-in
// publishes a NATS message per few dozen of its messages, small enough
// that the first of them does not wait long for the last.
const (
	batchMsgs  = 256
	batchBytes = 32 << 10
)

func (p *proxy[M]) PreStart(cx *actor.Context[M]) error {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	if p.e.stopped != nil {
		return p.e.stopped
	}
	p.e.fail = cx.Fail
	return nil
}

// Receive encodes msg into the batch, and publishes the batch unless more
// messages are already waiting to join it. What cannot go is a dead
// letter here, and Asks inside it fail at once.
func (p *proxy[M]) Receive(cx *actor.Context[M], msg M) error {
	p.add(msg)
	if len(p.msgs) > 0 && cx.Backlog() == 0 {
		p.flush()
	}
	return nil
}

func (p *proxy[M]) add(msg M) {
	n, node, name := p.n, p.e.node, p.e.name
	data, ids, err := encode(n, node, p.codec, msg, p.carry)
	if err != nil {
		p.fail(msg, ids, fmt.Errorf("remote: to %q on node %q: %w", name, node, err))
		return
	}
	// The limit is that of the message sent alone, as a tSend frame.
	if size := 1 + uvarintLen(len(name)) + len(name) + len(data); size > n.maxPay {
		p.fail(msg, ids, fmt.Errorf("remote: to %q on node %q: %d bytes over max_payload %d: %w", name, node, size, n.maxPay, ErrTooLarge))
		return
	}
	entry := uvarintLen(len(data)) + len(data)
	if len(p.msgs) > 0 && (len(p.msgs) >= batchMsgs || len(p.batch)+entry > min(n.maxPay, batchBytes)) {
		p.flush()
	}
	if len(p.msgs) == 0 {
		w := writer{b: p.batch[:0]}
		w.byte(tBatch)
		w.str(name)
		p.batch, p.head = w.b, len(w.b)
	}
	w := writer{b: p.batch}
	w.b = binary.AppendUvarint(w.b, uint64(len(data)))
	p.last = len(w.b)
	w.b = append(w.b, data...)
	p.batch = w.b
	p.msgs = append(p.msgs, msg)
	p.ids = append(p.ids, ids...)
	p.bytes += len(data)
}

// flush publishes the batch: a tSend frame if it holds one message (which
// fits: add checked), a tBatch frame otherwise (which fits too: add
// flushed before it would not).
func (p *proxy[M]) flush() {
	if len(p.msgs) == 0 {
		return
	}
	n := p.n
	frame := p.batch
	if len(p.msgs) == 1 {
		w := writer{b: p.one[:0]}
		w.byte(tSend)
		w.str(p.e.name)
		w.b = append(w.b, p.batch[p.last:]...)
		p.one, frame = w.b, w.b
	}
	for range p.msgs {
		n.stats.countSent(0) // before: the answer may beat the return
	}
	n.stats.sentBytes.Add(uint64(p.bytes))
	if err := n.nc.Publish(p.subject, frame); err != nil {
		for range p.msgs {
			n.stats.uncountSent(0)
		}
		n.stats.sentBytes.Add(^uint64(p.bytes - 1))
		p.drop(fmt.Errorf("remote: to %q on node %q: %w: %w", p.e.name, p.e.node, ErrClosed, err))
		return
	}
	p.reset()
}

// PostStop accounts for a batch that never went: the stand-in stopped
// (its node went down, the actor it stands for stopped, or this node is
// closing) between a message and the next, so its messages are dead
// letters with the reason.
func (p *proxy[M]) PostStop(*actor.Context[M]) {
	if len(p.msgs) == 0 {
		return
	}
	p.e.mu.Lock()
	cause := p.e.cause
	p.e.mu.Unlock()
	if cause == nil {
		cause = actor.ErrStopped
	}
	p.drop(fmt.Errorf("remote: to %q on node %q: the stand-in stopped before the batch went: %w", p.e.name, p.e.node, cause))
}

// drop makes every message of the batch a dead letter with err.
func (p *proxy[M]) drop(err error) {
	for _, m := range p.msgs {
		p.n.deadLetter(p.e.name, m, err, reasonLabel(err))
	}
	failIDs(p.ids, err)
	p.reset()
}

func (p *proxy[M]) reset() {
	clear(p.msgs) // the batch must not keep sent messages alive
	p.msgs, p.ids, p.bytes = p.msgs[:0], p.ids[:0], 0
}

// fail makes one message that cannot go a dead letter.
func (p *proxy[M]) fail(msg M, ids []uint64, err error) {
	p.n.deadLetter(p.e.name, msg, err, reasonLabel(err))
	failIDs(ids, err)
}

func uvarintLen(v int) int {
	var b [binary.MaxVarintLen64]byte
	return len(binary.AppendUvarint(b[:0], uint64(v)))
}

// lookupStep, when set (by tests only, before any Lookup runs), is called
// by Lookup at its steps: "answered" (the peer answered; no stand-in yet)
// and "spawned" (the stand-in runs; not registered yet).
var lookupStep func(step string)

var lookupSeq struct {
	mu sync.Mutex
	n  uint64
}

// Lookup returns a Ref to the actor name served by node: the same
// actor.Ref[M] type as a local one, whose Send encodes with codec and
// publishes over NATS. Ask works through it (the request's Reply answers
// over NATS); Done closes, and Err says why, when the remote actor stops
// for good or its node goes down (wrapping ErrNodeDown): Lookup again once
// it is back. Messages are sent in order, at most once; what cannot be
// delivered is a dead letter on the side that finds out.
//
// A node not heard from yet may be starting: Lookup waits for it to
// appear until ctx ends, then fails with ErrUnknownNode (wrapping ctx's
// error). It fails with ErrNodeDown (wrapping the NodeDown's reason) at
// once if node is known and down, and as soon as node is declared down if
// that happens while Lookup waits for its answer. It fails with
// actor.ErrNotFound if node serves no such actor, actor.ErrWrongType if
// that actor takes another message type. For this node's own name it
// returns the local Ref. Looking up the same actor twice gives the same Ref.
// Once n is closing, Lookup fails with an error wrapping ErrClosed, also
// when Close begins while it waits.
func Lookup[M any](ctx context.Context, n *Node, node, name string, codec Codec[M]) (actor.Ref[M], error) {
	var zero actor.Ref[M]
	switch {
	case n == nil:
		return zero, fmt.Errorf("remote: lookup %q: %w: nil Node", name, ErrInvalid)
	case codec == nil:
		return zero, fmt.Errorf("remote: lookup %q: %w: nil codec", name, ErrInvalid)
	case name == "":
		return zero, fmt.Errorf("remote: lookup: %w: empty name", ErrInvalid)
	case ctx == nil:
		return zero, fmt.Errorf("remote: lookup %q: %w: nil context", name, ErrInvalid)
	case n.closing.Load():
		return zero, fmt.Errorf("remote: node %q: %w", n.name, ErrClosed)
	}
	if err := checkCodec(codec); err != nil {
		return zero, fmt.Errorf("remote: lookup %q: %w", name, err)
	}
	ref, err := lookup(ctx, n, node, name, codec)
	if err != nil {
		// A Lookup that ran into Close half-way fails as one made after
		// it, whichever part of the node it found stopped first (the
		// connection, the stand-ins' supervisor or System).
		return zero, n.closedErr(err)
	}
	return ref, nil
}

// closedErr returns err, or, once the node has begun closing, an error
// wrapping both ErrClosed and err.
func (n *Node) closedErr(err error) error {
	if err == nil || !n.closing.Load() || errors.Is(err, ErrClosed) {
		return err
	}
	return fmt.Errorf("remote: node %q: %w (%w)", n.name, ErrClosed, err)
}

// lookup is Lookup past the checks of its arguments.
func lookup[M any](ctx context.Context, n *Node, node, name string, codec Codec[M]) (actor.Ref[M], error) {
	var zero actor.Ref[M]
	tn := typeName[M]()
	if node == n.name {
		n.mu.Lock()
		s := n.served[name]
		n.mu.Unlock()
		if s != nil {
			if ref, ok := s.ref.(actor.Ref[M]); ok {
				return ref, nil
			}
			return zero, fmt.Errorf("remote: actor %q takes %s, not %s: %w", name, s.typeName, tn, actor.ErrWrongType)
		}
		return actor.Lookup[M](n.sys, name)
	}
	if err := n.awaitNode(ctx, node); err != nil {
		return zero, err
	}
	key := node + "\x00" + name
	if ref, ok, err := n.cachedLookup(key, tn); ok {
		r, _ := ref.(actor.Ref[M])
		return r, err
	}
	asked := time.Now()
	var w writer
	w.byte(tLookup)
	w.str(name)
	w.str(tn)
	w.str(n.name)
	status, r, err := n.request(ctx, node, w.b)
	if err != nil {
		return zero, fmt.Errorf("remote: lookup %q: %w", name, err)
	}
	switch status {
	case stOK:
	case stNotFound:
		return zero, fmt.Errorf("remote: node %q: actor %q: %w", node, name, actor.ErrNotFound)
	case stWrongType:
		return zero, fmt.Errorf("remote: node %q: actor %q takes %s, not %s: %w", node, name, r.str(), tn, actor.ErrWrongType)
	default:
		return zero, fmt.Errorf("remote: lookup %q on node %q: %w", name, node, &RemoteError{Node: node, Text: r.str()})
	}
	if lookupStep != nil {
		lookupStep("answered")
	}
	ref, e, err := spawnStandIn(n, node, name, tn, codec)
	if err != nil {
		return zero, fmt.Errorf("remote: lookup %q: %w", name, err)
	}
	if lookupStep != nil {
		lookupStep("spawned")
	}
	n.mu.Lock()
	if other := n.lookups[key]; other != nil {
		n.mu.Unlock()
		e.stop(fmt.Errorf("remote: lookup %q: %w (a duplicate)", name, supervisor.ErrShutdown))
		r, _ := other.ref.(actor.Ref[M])
		if other.typeName != tn {
			return zero, fmt.Errorf("remote: actor %q takes %s, not %s: %w", name, other.typeName, tn, actor.ErrWrongType)
		}
		return r, nil
	}
	if n.closing.Load() {
		// Close began while we asked: it stops (or has stopped) every
		// stand-in, and this one with them.
		n.mu.Unlock()
		cause := fmt.Errorf("remote: node %q: %w", n.name, ErrClosed)
		e.stop(cause)
		return zero, fmt.Errorf("remote: lookup %q: %w", name, cause)
	}
	n.lookups[key] = e
	m := n.members[node]
	up := m != nil && m.info.Up
	at, stopped := n.stoppedAt[key]
	stopped = stopped && !at.Before(asked)
	delete(n.stoppedAt, key)
	if !up || stopped { // went down, or the actor stopped, while we asked
		delete(n.lookups, key)
	}
	n.mu.Unlock()
	switch {
	case !up:
		e.stop(fmt.Errorf("remote: node %q: %w", node, ErrNodeDown))
	case stopped:
		e.stop(fmt.Errorf("remote: actor %q on node %q stopped: %w", name, node, actor.ErrStopped))
	}
	return ref, nil
}

// spawnStandIn starts the local stand-in of the actor name on node.
func spawnStandIn[M any](n *Node, node, name, tn string, codec Codec[M]) (actor.Ref[M], *proxyEntry, error) {
	e := &proxyEntry{node: node, name: name, typeName: tn}
	lookupSeq.mu.Lock()
	lookupSeq.n++
	seq := lookupSeq.n
	lookupSeq.mu.Unlock()
	factory := func() actor.Actor[M] {
		return &proxy[M]{n: n, e: e, codec: codec, carry: carriesReply[M](), subject: n.inboxOf(node)}
	}
	// The stand-in's name is what users see (Ref.Name, errors, dead
	// letters): the remote actor's name and node, "name@node". A
	// stand-in of it that is still stopping holds that name: the new one
	// then gets a number too.
	ref, err := actor.Spawn(n.proxies, name+"@"+node, factory,
		actor.WithRestart(supervisor.Temporary), actor.WithSystem(n.proxySys))
	if err != nil {
		ref, err = actor.Spawn(n.proxies, name+"@"+node+"#"+strconv.FormatUint(seq, 10), factory,
			actor.WithRestart(supervisor.Temporary), actor.WithSystem(n.proxySys))
	}
	if err != nil {
		return ref, nil, err
	}
	e.ref, e.done = ref, ref.Done
	return ref, e, nil
}

// childSelf returns the Ref by which a child hosted here for owner is
// addressed: the owner's Ref of it (the owner serves its children by
// name), through a stand-in as a Lookup would give, without the round trip
// (the owner, which just asked for the spawn, serves it). Messages sent to
// it queue in the one mailbox the owner keeps for the child. On the owner
// itself it is the child's Ref.
func childSelf[M any](n *Node, owner, name string, codec Codec[M]) (actor.Ref[M], error) {
	var zero actor.Ref[M]
	tn := typeName[M]()
	if owner == n.name {
		n.mu.Lock()
		s := n.served[name]
		n.mu.Unlock()
		if s != nil {
			if ref, ok := s.ref.(actor.Ref[M]); ok {
				return ref, nil
			}
		}
	}
	key := owner + "\x00" + name
	if ref, ok, err := n.cachedLookup(key, tn); ok {
		r, _ := ref.(actor.Ref[M])
		return r, err
	}
	ref, e, err := spawnStandIn(n, owner, name, tn, codec)
	if err != nil {
		return zero, fmt.Errorf("remote: child %q: its Self: %w", name, err)
	}
	n.mu.Lock()
	if other := n.lookups[key]; other != nil {
		n.mu.Unlock()
		e.stop(fmt.Errorf("remote: child %q: %w (a duplicate)", name, supervisor.ErrShutdown))
		if other.typeName != tn {
			return zero, fmt.Errorf("remote: actor %q takes %s, not %s: %w", name, other.typeName, tn, actor.ErrWrongType)
		}
		r, _ := other.ref.(actor.Ref[M])
		return r, nil
	}
	if n.closing.Load() {
		n.mu.Unlock()
		cause := fmt.Errorf("remote: node %q: %w", n.name, ErrClosed)
		e.stop(cause)
		return zero, fmt.Errorf("remote: child %q: its Self: %w", name, cause)
	}
	n.lookups[key] = e
	n.mu.Unlock()
	return ref, nil
}

// watchServed remembers that node hosts an incarnation of the served child
// ref under name, and so holds a stand-in of it (its Self, see childSelf):
// the node then hears when the child stops for good, as a Lookup's would.
func (n *Node) watchServed(name string, ref any, node string) {
	n.mu.Lock()
	if s := n.served[name]; s != nil && s.ref == ref && s.watchers != nil && node != n.name {
		s.watchers[node] = true
	}
	n.mu.Unlock()
}

// cachedLookup returns the Ref of the stand-in registered under key, if
// there is one, or an error wrapping ErrClosed once Close has begun (which
// stops them all).
func (n *Node) cachedLookup(key, tn string) (any, bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing.Load() {
		return nil, true, fmt.Errorf("remote: node %q: %w", n.name, ErrClosed)
	}
	e := n.lookups[key]
	if e == nil {
		return nil, false, nil
	}
	if e.typeName != tn {
		return nil, true, fmt.Errorf("remote: actor %q takes %s, not %s: %w", e.name, e.typeName, tn, actor.ErrWrongType)
	}
	return e.ref, true, nil
}
