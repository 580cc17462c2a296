package remote

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/supervisor"
)

// Placement says where a remote child runs.
type Placement struct {
	how  placeHow
	node string
}

type placeHow uint8

const (
	placeLocal placeHow = iota
	placeOn
	placeAny
)

// On places the child on node x. A node not heard from yet may be
// starting: as Lookup does, starting the child waits for x to appear, and
// a node just started may not have registered its kinds yet: during its
// first heartbeat interval (see Register) the start waits for the kind as
// well. Both waits last up to half the child's start timeout
// (actor.WithStartTimeout, else supervisor.DefaultStartTimeout), so that
// the start still fails with ErrUnknownNode or ErrUnknownKind, not with
// the supervisor's ErrStartTimeout, when x or its kind never appears. It
// fails at once with ErrNodeDown if x was heard and is down, and with
// ErrUnknownKind if x is up, past its first interval, and has not
// registered the kind; the supervisor retries as for any start failure.
func On(x string) Placement { return Placement{how: placeOn, node: x} }

// Any places the child on a live node that registered the kind, the
// declaring node included, spread evenly over them (the one with the fewest
// children of this node first). A restart goes to another node when there
// is one. As On does, it waits for a node's kinds still arriving (see
// Register): when the node it would choose is in its first heartbeat
// interval and has not offered the kind yet, the start waits for that
// node's kinds, up to half the child's start timeout (and within its
// context), and then chooses among the nodes that offer the kind. A node
// whose kinds are settled without this kind is no candidate, and is not
// waited for. With no candidate at all (this node is closing) the start
// fails with ErrUnknownKind.
func Any() Placement { return Placement{how: placeAny} }

// Local places the child on the declaring node itself (through NATS all
// the same, so that it can be moved by changing one word).
func Local() Placement { return Placement{how: placeLocal} }

// String returns "On(x)", "Any()" or "Local()".
func (p Placement) String() string {
	switch p.how {
	case placeOn:
		return "On(" + p.node + ")"
	case placeAny:
		return "Any()"
	}
	return "Local()"
}

// kind is a registered kind: what this node can host, and the codec and
// type its children are declared with.
type kind struct {
	name     string
	typeName string
	codec    any // Codec[M]
	host     func(owner, name, incID string) (*hosted, error)
}

// Register makes kind spawnable on this node by others (and by itself),
// with factory making each incarnation and codec carrying its messages.
// opts apply to the hosted incarnations (shutdown, start timeout, health,
// throughput, logger); their mailbox is the declaring side's, so a mailbox
// option here is ignored. A kind is registered, with the same name, message
// type and codec, on every node that runs it or declares children of it.
// Peers learn of it with this node's next heartbeat (one is sent at once).
// Register a node's kinds right after Start: until the node's first
// heartbeat interval is over, its heartbeats tell peers that more kinds may
// come, and a peer's Spawn On it (or Any, see there) waits for a kind it
// does not see yet; after that, a kind a peer has not heard of is
// ErrUnknownKind at once for On, and the node is no candidate for Any.
func Register[M any](n *Node, kindName string, factory func() actor.Actor[M], codec Codec[M], opts ...actor.Option) error {
	switch {
	case n == nil:
		return fmt.Errorf("remote: register %q: %w: nil Node", kindName, ErrInvalid)
	case kindName == "" || len(kindName) > 256:
		return fmt.Errorf("remote: register %q: %w: a kind name is 1-256 bytes", kindName, ErrInvalid)
	case factory == nil:
		return fmt.Errorf("remote: register %q: %w: nil factory", kindName, ErrInvalid)
	case codec == nil:
		return fmt.Errorf("remote: register %q: %w: nil codec", kindName, ErrInvalid)
	}
	if err := checkCodec(codec); err != nil {
		return fmt.Errorf("remote: register %q: %w", kindName, err)
	}
	k := &kind{name: kindName, typeName: typeName[M](), codec: codec}
	k.host = func(owner, name, incID string) (*hosted, error) {
		return hostIncarnation(n, k, owner, name, incID, factory, codec, opts)
	}
	n.mu.Lock()
	if n.closing.Load() {
		n.mu.Unlock()
		return fmt.Errorf("remote: node %q: %w", n.name, ErrClosed)
	}
	if _, dup := n.kinds[kindName]; dup {
		n.mu.Unlock()
		return fmt.Errorf("remote: register %q: %w: registered already", kindName, ErrInvalid)
	}
	n.kinds[kindName] = k
	n.mu.Unlock()
	n.heartbeat(false)
	return nil
}

// --- the hosting side: incarnations other nodes (or this one) spawned here.

// hosted is an incarnation run here for an owner node. Its messages arrive
// numbered; it tracks the highest number whose Receive has begun, which
// the owner needs to know what to hand the next incarnation.
type hosted struct {
	n                  *Node
	incID, owner, name string
	hostName           string
	deliver            func(seq uint64, payload []byte)

	mu      sync.Mutex
	seqs    []uint64 // handed to the actor, not yet begun
	begun   uint64
	acked   uint64
	crashed error
	stopped bool // stopped by its owner, or fenced
}

// ackEvery is how many begun messages make a hosted incarnation tell its
// owner at once (besides once per heartbeat): the owner forgets the
// messages it no longer needs to keep.
const ackEvery = 64

func hostIncarnation[M any](n *Node, k *kind, owner, name, incID string, factory func() actor.Actor[M], codec Codec[M], opts []actor.Option) (*hosted, error) {
	h := &hosted{n: n, incID: incID, owner: owner, name: name,
		hostName: "hosted:" + owner + ":" + name + "#" + incID}
	carry := carriesReply[M]()
	self, err := childSelf(n, owner, name, codec)
	if err != nil {
		return nil, err
	}
	newActor := func() actor.Actor[M] { return &hostActor[M]{inner: factory(), h: h, self: self} }
	all := append(append([]actor.Option(nil), opts...),
		actor.WithSystem(n.hostSys), actor.WithRestart(supervisor.Temporary), actor.WithMailbox(actor.Unbounded()))
	spec, ref := actor.Spec(h.hostName, newActor, all...)
	h.deliver = func(seq uint64, payload []byte) {
		msg, err := decode(n, codec, payload, carry)
		if err != nil {
			h.mu.Lock()
			if len(h.seqs) == 0 && seq > h.begun {
				h.begun = seq // nothing before it waits: count it as handled
			}
			h.mu.Unlock()
			n.deadLetter(name, append([]byte(nil), payload...), fmt.Errorf("remote: child %q: %w", name, err), "codec")
			return
		}
		h.mu.Lock()
		h.seqs = append(h.seqs, seq)
		h.mu.Unlock()
		n.stats.received.Add(1)
		n.stats.receivedBytes.Add(uint64(len(payload)))
		if ref.Send(msg) != nil {
			// Ended: not begun, so the owner hands it to the next
			// incarnation.
			h.mu.Lock()
			if k := len(h.seqs); k > 0 && h.seqs[k-1] == seq {
				h.seqs = h.seqs[:k-1]
			}
			h.mu.Unlock()
		}
	}
	n.mu.Lock()
	if n.closing.Load() {
		n.mu.Unlock()
		return nil, fmt.Errorf("remote: node %q: %w", n.name, ErrClosed)
	}
	n.hosted[incID] = h
	n.mu.Unlock()
	ref.Watch(func(reason error) { n.hostedEnded(h, reason) })
	if err := n.hosts.StartChild(spec); err != nil {
		// Its text goes to the owner, whose users know the child by its
		// name, not by the internal one of this incarnation.
		return nil, errors.New(h.public(err.Error()))
	}
	return h, nil
}

// public rewrites an error text for the owner: the child's name for the
// incarnation's internal one, without the hosting supervisor's prefix.
func (h *hosted) public(text string) string {
	text = strings.TrimPrefix(text, "supervisor "+h.n.hosts.Name()+": ")
	return strings.ReplaceAll(text, strconv.Quote(h.hostName), strconv.Quote(h.name))
}

// terminate stops the hosted incarnation (its owner asked, or fencing).
func (h *hosted) terminate() {
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	_ = h.n.hosts.TerminateChild(h.hostName)
}

func (h *hosted) begunNow() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.begun
}

// hostedEnded tells the owner that the incarnation ended, how, and how far
// it got.
func (n *Node) hostedEnded(h *hosted, reason error) {
	n.mu.Lock()
	if n.hosted[h.incID] == h {
		delete(n.hosted, h.incID)
	}
	n.rememberEnded(h.incID, h)
	n.mu.Unlock()
	h.mu.Lock()
	status, text := exitNormal, ""
	switch {
	case h.crashed != nil:
		status, text = exitCrash, h.crashed.Error()
	case h.stopped:
		status = exitStopped
	case reason != nil && errors.Unwrap(reason) != nil && !isNormalStop(reason):
		// A start failure, say: the owner's users know the child by its
		// name, not by the internal one of this incarnation.
		status, text = exitCrash, h.public(reason.Error())
	}
	begun := h.begun
	h.mu.Unlock()
	var w writer
	w.byte(tExit)
	w.str(h.incID)
	w.uint(begun)
	w.byte(status)
	w.b = append(w.b, text...)
	_ = n.nc.Publish(n.inboxOf(h.owner), w.b)
}

// isNormalStop reports whether an actor's stop error carries no crash.
func isNormalStop(err error) bool {
	var u interface{ Unwrap() []error }
	if errors.As(err, &u) {
		for _, e := range u.Unwrap() {
			if !errors.Is(e, actor.ErrStopped) && !isShutdown(e) {
				return false
			}
		}
	}
	return true
}

// isShutdown reports whether err ends a child normally, as the
// supervisor's exit-reason rules say: it wraps supervisor.ErrShutdown and
// is no panic. A panic is a crash whatever its value; errors.Is finds
// ErrShutdown through a PanicError's Unwrap, so it alone cannot tell.
func isShutdown(err error) bool {
	if !errors.Is(err, supervisor.ErrShutdown) {
		return false
	}
	_, panicked := errors.AsType[*supervisor.PanicError](err)
	return !panicked
}

// rememberEnded keeps how far ended incarnations got, for a stop request
// that crosses their exit notice. n.mu is held.
func (n *Node) rememberEnded(incID string, h *hosted) {
	if n.ended == nil {
		n.ended = map[string]*hosted{}
	}
	if len(n.ended) >= 4096 {
		for k := range n.ended {
			delete(n.ended, k)
			break
		}
	}
	n.ended[incID] = h
}

// hostActor wraps a hosted incarnation's actor: it notes which message
// each Receive begins, acknowledges progress to the owner, and records the
// message a crash happens on as a dead letter here, where it is known.
type hostActor[M any] struct {
	inner actor.Actor[M]
	h     *hosted
	self  actor.Ref[M] // the child's Ref on this node (see childSelf)
}

// PreStart makes Self the child's Ref through its owner, so that what the
// actor sends itself queues in the child's one mailbox, numbered like the
// rest: sent to this cell it would skip the owner's accounting of what
// has begun, and could be lost with no dead letter after a crash. And it
// makes Name the child's, not the incarnation's internal one.
func (a *hostActor[M]) PreStart(cx *actor.Context[M]) error {
	cx.SetSelf(a.self)
	cx.SetName(a.h.name)
	if p, ok := a.inner.(actor.PreStarter[M]); ok {
		return p.PreStart(cx)
	}
	return nil
}

func (a *hostActor[M]) PostStop(cx *actor.Context[M]) {
	if p, ok := a.inner.(actor.PostStopper[M]); ok {
		p.PostStop(cx)
	}
}

func (a *hostActor[M]) Receive(cx *actor.Context[M], msg M) (err error) {
	h := a.h
	h.mu.Lock()
	if len(h.seqs) > 0 {
		h.begun = h.seqs[0]
		h.seqs = h.seqs[1:]
	}
	seq := h.begun
	ack := seq-h.acked >= ackEvery
	if ack {
		h.acked = seq
	}
	h.mu.Unlock()
	if ack {
		h.n.sendAck(h.owner, h.incID, seq)
	}
	defer func() {
		if v := recover(); v != nil {
			err = supervisor.NewPanicError(v)
		}
		if err != nil && !isShutdown(err) {
			h.mu.Lock()
			h.crashed = err
			h.mu.Unlock()
			h.n.deadLetter(h.name, msg, fmt.Errorf("remote: child %q crashed on node %q: %w", h.name, h.n.name, err), "crash")
		}
	}()
	return a.inner.Receive(cx, msg)
}

func (n *Node) sendAck(owner, incID string, begun uint64) {
	var w writer
	w.byte(tAck)
	w.str(incID)
	w.uint(begun)
	w.str(n.name)
	_ = n.nc.Publish(n.inboxOf(owner), w.b)
}

// flushAcks tells owners how far their incarnations here got, once per
// heartbeat, so that an owner keeps few messages it no longer needs. With
// lease it tells them of every incarnation, progress or not (once per
// heartbeat window): an owner that no longer knows one (a stop that never
// arrived) answers with a stop, so no incarnation outlives its owner's
// interest while both are up (fencing covers the owner going down).
func (n *Node) flushAcks(lease bool) {
	n.mu.Lock()
	hs := make([]*hosted, 0, len(n.hosted))
	for _, h := range n.hosted {
		hs = append(hs, h)
	}
	n.mu.Unlock()
	for _, h := range hs {
		h.mu.Lock()
		begun, ack := h.begun, h.begun > h.acked || lease
		if ack {
			h.acked = begun
		}
		h.mu.Unlock()
		if ack {
			n.sendAck(h.owner, h.incID, begun)
		}
	}
}

// onSpawn starts an incarnation of a registered kind for its owner.
func (n *Node) onSpawn(msg *nats.Msg, r *reader) {
	kindName, name, owner, incID, tn := r.str(), r.str(), r.str(), r.str(), r.str()
	if r.err != nil || !validName(owner) {
		n.malformed(fmt.Errorf("%w: spawn request", ErrCodec), msg.Data)
		return
	}
	n.mu.Lock()
	k := n.kinds[kindName]
	n.mu.Unlock()
	switch {
	case k == nil:
		respond(msg, stUnknownKind, "")
		return
	case k.typeName != tn:
		respond(msg, stUnknownKind, "registered with message type "+k.typeName)
		return
	}
	if !n.goWork(func() {
		if _, err := k.host(owner, name, incID); err != nil {
			respond(msg, stFailed, err.Error())
			return
		}
		respond(msg, stOK, "")
	}) {
		respond(msg, stFailed, fmt.Sprintf("node %q is closing", n.name))
	}
}

// goWork runs f on a goroutine of its own, counted in n.work, unless Close
// has begun waiting for that work: then it reports false and f does not
// run.
func (n *Node) goWork(f func()) bool {
	n.workMu.Lock()
	defer n.workMu.Unlock()
	if n.workShut {
		return false
	}
	n.work.Add(1)
	go func() {
		defer n.work.Done()
		f()
	}()
	return true
}

// onStop stops a hosted incarnation for its owner and replies how far it
// got.
func (n *Node) onStop(msg *nats.Msg, r *reader) {
	incID := r.str()
	if r.err != nil {
		n.malformed(r.err, msg.Data)
		return
	}
	n.mu.Lock()
	h := n.hosted[incID]
	if h == nil {
		h = n.ended[incID]
	}
	n.mu.Unlock()
	if h == nil {
		respond(msg, stNotFound, "")
		return
	}
	// When Close has begun, it stops every hosted incarnation itself; the
	// owner, which hears no answer, learns of it from this node's leave.
	n.goWork(func() {
		h.terminate()
		if msg.Reply == "" {
			return // an owner that gave up on a spawn: no one waits
		}
		var w writer
		w.byte(stOK)
		w.uint(h.begunNow())
		_ = msg.Respond(w.b)
	})
}

func (n *Node) onExit(r *reader) {
	incID := r.str()
	begun := r.uint()
	status := r.byte()
	text := string(r.rest())
	if r.err != nil {
		n.malformed(r.err, nil)
		return
	}
	n.mu.Lock()
	c := n.children[incID]
	n.mu.Unlock()
	if c != nil {
		c.exited(status, begun, text)
	}
}

func (n *Node) onAck(r *reader) {
	incID := r.str()
	begun := r.uint()
	host := r.str()
	if r.err != nil {
		n.malformed(r.err, nil)
		return
	}
	n.mu.Lock()
	c := n.children[incID]
	n.mu.Unlock()
	if c != nil {
		c.acked(begun)
		return
	}
	// An incarnation this node does not want (any more): stop it.
	if validName(host) {
		n.stats.orphansStopped.Add(1)
		var w writer
		w.byte(tStop)
		w.str(incID)
		_ = n.nc.Publish(n.inboxOf(host), w.b)
	}
}

// --- the owning side: a child of a local supervisor that runs elsewhere.

// childShared is what all incarnations of one remote child share.
type childShared[M any] struct {
	n     *Node
	name  string
	kind  string
	where Placement
	codec Codec[M]
	carry bool // M can hold a Reply

	// patienceD bounds a start's wait for an On node not heard from
	// yet: half the start timeout (see On).
	patienceD time.Duration
	// stopWait bounds a stop's wait for the remote node's answer: half
	// the child's shutdown policy, so that settling what was in flight
	// fits in it (see stopRemote).
	stopWait time.Duration

	mu     sync.Mutex
	last   string // the node of the latest incarnation
	starts int
}

// flight is a message sent to the current remote incarnation and not yet
// known to have begun there.
type flight[M any] struct {
	seq  uint64
	msg  M
	asks []uint64
}

type exitNote struct {
	status byte
	begun  uint64
	text   string
}

// forwarder is one incarnation of a remote child, on the declaring side:
// its PreStart spawns the remote incarnation, its Receive forwards each
// message there, and its PostStop settles the fate of what was in flight.
// The actor's cell (mailbox, Ref) is the declaring side's, so it survives
// restarts and moves.
type forwarder[M any] struct {
	sh      *childShared[M]
	cx      *actor.Context[M]
	incID   string
	node    string
	subject string // the node's inbox
	buf     []byte // the frame under construction (Receive only)

	mu      sync.Mutex
	seq     uint64
	flights []flight[M]
	ackedTo uint64
	exit    *exitNote
	down    error
	// detached: this node closed (see Close); the incarnation stays under
	// its supervisor, every message it gets is a dead letter with this.
	detached error
}

var errStopRemote = errors.New("stopped on its node")

func (f *forwarder[M]) PreStart(cx *actor.Context[M]) error {
	sh, n := f.sh, f.sh.n
	if n.closing.Load() {
		// Started again after Close (a sibling's restart): detached, as
		// Close leaves the others, so that the tree does not crash.
		f.cx, f.detached = cx, fmt.Errorf("remote: child %q: node %q: %w", sh.name, n.name, ErrClosed)
		f.down = f.detached // nothing remote to stop at PostStop
		return nil
	}
	node, err := n.place(cx.Context(), sh)
	if err != nil {
		return err
	}
	f.cx, f.node, f.subject = cx, node, n.inboxOf(node)
	f.incID = n.id + "-" + strconv.FormatUint(n.seq.Add(1), 10)
	n.mu.Lock()
	if n.closing.Load() {
		n.mu.Unlock()
		return fmt.Errorf("remote: node %q: %w", n.name, ErrClosed)
	}
	n.children[f.incID] = f
	n.placed[node]++
	n.mu.Unlock()
	var w writer
	w.byte(tSpawn)
	w.str(sh.kind)
	w.str(sh.name)
	w.str(n.name)
	w.str(f.incID)
	w.str(typeName[M]())
	ctx, cancel := context.WithTimeout(cx.Context(), max(n.stopTimeout(), 10*time.Second))
	defer cancel()
	status, r, err := n.request(ctx, node, w.b)
	if err != nil {
		// No answer: the node may have started the incarnation all the
		// same. Tell it to stop that one (no reply awaited; fencing
		// covers a node that cannot hear this either).
		var stop writer
		stop.byte(tStop)
		stop.str(f.incID)
		_ = n.nc.Publish(f.subject, stop.b)
	} else {
		switch status {
		case stOK:
			n.watchServed(sh.name, any(cx.Self()), node)
		case stUnknownKind:
			err = fmt.Errorf("remote: child %q: kind %q on node %q: %w %s", sh.name, sh.kind, node, ErrUnknownKind, r.str())
		default:
			err = fmt.Errorf("remote: child %q: start on node %q: %w", sh.name, node, &RemoteError{Node: node, Text: r.str()})
		}
	}
	if err != nil {
		f.forget()
		return err
	}
	sh.mu.Lock()
	sh.last = node
	sh.starts++
	if sh.starts > 1 {
		n.stats.remoteRestarts.Add(1)
	}
	sh.mu.Unlock()
	return nil
}

func (f *forwarder[M]) forget() {
	n := f.sh.n
	n.mu.Lock()
	if n.children[f.incID] == f {
		delete(n.children, f.incID)
		if n.placed[f.node]--; n.placed[f.node] <= 0 {
			delete(n.placed, f.node)
		}
	}
	n.mu.Unlock()
}

func (f *forwarder[M]) Receive(_ *actor.Context[M], msg M) error {
	n := f.sh.n
	f.mu.Lock()
	detached := f.detached
	f.mu.Unlock()
	if detached != nil {
		n.deadLetter(f.sh.name, msg, detached, "closed")
		return nil
	}
	data, ids, err := encode(n, f.node, f.sh.codec, msg, f.sh.carry)
	if err == nil && len(data)+len(f.incID)+24 > n.maxPay {
		err = fmt.Errorf("%d bytes over max_payload %d: %w", len(data), n.maxPay, ErrTooLarge)
	}
	if err != nil {
		err = fmt.Errorf("remote: child %q: %w", f.sh.name, err)
		n.deadLetter(f.sh.name, msg, err, reasonLabel(err))
		failIDs(ids, err)
		return nil
	}
	f.mu.Lock()
	f.seq++
	seq := f.seq
	f.flights = append(f.flights, flight[M]{seq: seq, msg: msg, asks: ids})
	f.mu.Unlock()
	w := writer{b: f.buf[:0]} // Publish copies it: one buffer serves every message
	w.byte(tChild)
	w.str(f.incID)
	w.uint(seq)
	w.b = append(w.b, data...)
	f.buf = w.b
	n.stats.countSent(len(data)) // before: the answer may beat the return
	if n.nc.Publish(f.subject, w.b) != nil {
		n.stats.uncountSent(len(data))
	}
	// A failed publish (connection closed) leaves the message in flight:
	// the incarnation's end decides its fate.
	return nil
}

func (f *forwarder[M]) where() string { return f.node }

func (f *forwarder[M]) acked(begun uint64) {
	f.mu.Lock()
	if begun > f.ackedTo {
		f.ackedTo = begun
	}
	i := 0
	for i < len(f.flights) && f.flights[i].seq <= begun {
		i++
	}
	if i > 0 {
		f.flights = append(f.flights[:0], f.flights[i:]...)
	}
	f.mu.Unlock()
}

func (f *forwarder[M]) exited(status byte, begun uint64, text string) {
	if f.sh.n.closing.Load() {
		// Its node stopped it because this one is leaving: Close's
		// detach, not a crash to restart.
		f.acked(begun)
		f.detach()
		return
	}
	f.mu.Lock()
	if f.exit != nil || f.down != nil {
		f.mu.Unlock()
		return
	}
	f.exit = &exitNote{status: status, begun: begun, text: text}
	f.mu.Unlock()
	switch status {
	case exitNormal:
		f.cx.Fail(fmt.Errorf("remote: child %q ended on node %q: %w", f.sh.name, f.node, supervisor.ErrShutdown))
	case exitStopped:
		f.cx.Fail(fmt.Errorf("remote: child %q: %w", f.sh.name, &RemoteError{Node: f.node, Text: errStopRemote.Error()}))
	default:
		f.cx.Fail(fmt.Errorf("remote: child %q crashed: %w", f.sh.name, &RemoteError{Node: f.node, Text: text}))
	}
}

func (f *forwarder[M]) nodeDown(node string) {
	if node == "" { // this node is closing
		f.detach()
		return
	}
	cause := fmt.Errorf("remote: child %q on node %q: %w", f.sh.name, node, ErrNodeDown)
	f.mu.Lock()
	if f.exit != nil || f.down != nil {
		f.mu.Unlock()
		return
	}
	f.down = cause
	f.mu.Unlock()
	f.cx.Fail(cause)
}

// detach is Close's end of the incarnation: not a crash (the supervisor
// would restart it on a node that is gone, and give up), but a detached
// incarnation that stays under its supervisor until the System shuts it
// down. What was in flight, unacknowledged, is a dead letter now (its fate
// is unknown: the remote incarnation is stopped by fencing); what comes
// later is one at once.
func (f *forwarder[M]) detach() {
	n := f.sh.n
	cause := fmt.Errorf("remote: child %q: node %q: %w", f.sh.name, n.name, ErrClosed)
	f.mu.Lock()
	if f.exit != nil || f.down != nil || f.detached != nil {
		f.mu.Unlock()
		return
	}
	f.detached, f.down = cause, cause
	flights, acked := f.flights, f.ackedTo
	f.flights = nil
	f.mu.Unlock()
	f.forget()
	for _, fl := range flights {
		if fl.seq <= acked {
			continue
		}
		reason := fmt.Errorf("remote: child %q: fate unknown: %w: %w", f.sh.name, ErrNodeDown, cause)
		n.deadLetter(f.sh.name, fl.msg, reason, "node_down")
		failIDs(fl.asks, reason)
	}
}

// PostStop settles what was in flight: messages the remote incarnation had
// not begun go back to the head of the mailbox for the next one; messages
// whose fate is unknown (the node went down, or does not answer) are dead
// letters wrapping ErrNodeDown, and Asks inside them fail.
func (f *forwarder[M]) PostStop(cx *actor.Context[M]) {
	n := f.sh.n
	f.forget()
	f.mu.Lock()
	flights, exit, down, acked := f.flights, f.exit, f.down, f.ackedTo
	f.flights = nil
	f.mu.Unlock()
	var begun uint64
	switch {
	case exit != nil:
		begun = exit.begun
	case down == nil:
		// Stopped here (a restart, a stop): stop the remote incarnation
		// and learn how far it got.
		var err error
		begun, err = n.stopRemote(f.node, f.incID, f.sh.stopWait)
		if err != nil {
			down = err
			n.log.Warn("remote child stopped without its node's answer: what was in flight there is a dead letter, and the node stops the incarnation itself (fencing) if it is still up",
				"child", f.sh.name, "peer", f.node, "err", err)
		}
	}
	if exit == nil && down != nil {
		for _, fl := range flights {
			if fl.seq <= acked {
				continue
			}
			reason := fmt.Errorf("remote: child %q: fate unknown: %w", f.sh.name, down)
			if !errors.Is(reason, ErrNodeDown) {
				reason = fmt.Errorf("%w: %w", ErrNodeDown, reason)
			}
			n.deadLetter(f.sh.name, fl.msg, reason, "node_down")
			failIDs(fl.asks, reason)
		}
		return
	}
	var again []M
	for _, fl := range flights {
		if fl.seq > begun {
			again = append(again, fl.msg)
			dropIDs(fl.asks) // encoded afresh when sent again
		}
	}
	if len(again) > 0 {
		cx.Requeue(again...)
	}
}

// stopRemote asks node to stop incarnation incID and returns how far it
// got, or an error wrapping ErrNodeDown if the node cannot say. It waits
// for the answer up to wait (at most stopTimeout), asking again each
// heartbeat interval, and no longer than the
// node is up: a node known to be down (its heartbeats stopped, or it left)
// cannot answer, so the stop does not wait for it at all, and a node
// declared down during the wait ends it at once with the reason.
func (n *Node) stopRemote(node, incID string, wait time.Duration) (uint64, error) {
	if n.closing.Load() && node != n.name {
		return 0, fmt.Errorf("remote: node %q: %w", n.name, ErrClosed)
	}
	var w writer
	w.byte(tStop)
	w.str(incID)
	if wait <= 0 || wait > n.stopTimeout() {
		wait = n.stopTimeout()
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var status byte
	var r *reader
	var err error
	for {
		// Asked again each heartbeat interval of silence: a request lost
		// while a connection fails over to another server is not an
		// answer (a stop is idempotent on the node).
		actx, acancel := context.WithTimeout(ctx, n.interval)
		status, r, err = n.request(actx, node, w.b)
		acancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, ErrNodeDown) {
			// Told all the same, no answer awaited: a node declared down
			// may be up (partitioned), and fencing may be slower.
			_ = n.nc.Publish(n.inboxOf(node), w.b)
		}
		return 0, err
	}
	if status != stOK {
		return 0, fmt.Errorf("remote: node %q lost track of incarnation %s: %w", node, incID, ErrNodeDown)
	}
	begun := r.uint()
	if r.err != nil {
		return 0, fmt.Errorf("remote: node %q: stop reply: %w", node, r.err)
	}
	return begun, nil
}

// place picks the node for a new incarnation of sh. For On(x), a node not
// heard from yet is waited for, within ctx and sh's patience (see On); for
// Any, a node whose kinds are still arriving, when it would be the choice
// (see Any).
func (n *Node) place(ctx context.Context, sh placeable) (string, error) {
	kindName, where, name := sh.placement()
	has := func(node string) bool {
		if node == n.name {
			_, ok := n.kinds[kindName]
			return ok
		}
		m := n.members[node]
		return m != nil && m.kinds[kindName]
	}
	switch where.how {
	case placeLocal, placeOn:
		node := n.name
		if where.how == placeOn {
			node = where.node
		}
		err := n.checkNode(node)
		if node != n.name && (err == nil || errors.Is(err, ErrUnknownNode)) {
			// A node not heard from yet may be starting, and one heard
			// from may not have announced its kinds yet: wait for both.
			wctx, cancel := context.WithTimeout(ctx, sh.patience())
			defer cancel()
			if err != nil {
				err = n.awaitNode(wctx, node)
			}
			if err == nil {
				err = n.awaitKind(wctx, node, kindName)
			}
			if err != nil {
				return "", fmt.Errorf("remote: child %q: %w", name, err)
			}
			return node, nil
		}
		if err != nil {
			return "", fmt.Errorf("remote: child %q: %w", name, err)
		}
		n.mu.Lock()
		ok := has(node)
		n.mu.Unlock()
		if !ok {
			return "", fmt.Errorf("remote: child %q: node %q has not registered kind %q: %w", name, node, kindName, ErrUnknownKind)
		}
		return node, nil
	}
	last := sh.lastNode()
	var wctx context.Context // made at the first wait
	for {
		n.mu.Lock()
		node, wait := n.pickAnyLocked(kindName, last, wctx == nil || wctx.Err() == nil)
		if !wait {
			n.mu.Unlock()
			if node == "" {
				return "", fmt.Errorf("remote: child %q: no live node has registered kind %q: %w", name, kindName, ErrUnknownKind)
			}
			return node, nil
		}
		// The choice would be a node whose kinds are still arriving: wait
		// for them (or for it to settle without this one).
		if n.changed == nil {
			n.changed = make(chan struct{})
		}
		changed := n.changed
		n.mu.Unlock()
		if wctx == nil {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, sh.patience())
			defer cancel()
		}
		select {
		case <-changed:
		case <-n.stop:
			return "", fmt.Errorf("remote: child %q: node %q: %w", name, n.name, ErrClosed)
		case <-wctx.Done(): // chosen next among the nodes that offer the kind
		}
	}
}

// pickAnyLocked chooses the node for an Any() child of kindName: among the
// live nodes that registered it (this one included), the one with the
// fewest of this node's children, by name on a tie, and not last (the node
// of the previous incarnation) when there is another. With pending, a live
// member whose kinds are still arriving (its first heartbeat interval) and
// that lacks kindName counts as a candidate too: if it is the choice, wait
// is true, and the caller waits for its kinds. n.mu is held.
func (n *Node) pickAnyLocked(kindName, last string, pending bool) (node string, wait bool) {
	var cands []string
	if _, ok := n.kinds[kindName]; ok && !n.closing.Load() {
		cands = append(cands, n.name)
	}
	for name, m := range n.members {
		if m.info.Up && (m.kinds[kindName] || pending && !m.settled) {
			cands = append(cands, name)
		}
	}
	if len(cands) == 0 {
		return "", false
	}
	if len(cands) > 1 && last != "" {
		for i, c := range cands {
			if c == last { // a restart goes elsewhere when it can
				cands = append(cands[:i], cands[i+1:]...)
				break
			}
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		pi, pj := n.placed[cands[i]], n.placed[cands[j]]
		if pi != pj {
			return pi < pj
		}
		return cands[i] < cands[j]
	})
	node = cands[0]
	if node == n.name {
		return node, false
	}
	return node, !n.members[node].kinds[kindName]
}

type placeable interface {
	placement() (kind string, where Placement, name string)
	lastNode() string
	patience() time.Duration
}

func (sh *childShared[M]) placement() (string, Placement, string) { return sh.kind, sh.where, sh.name }

func (sh *childShared[M]) patience() time.Duration { return sh.patienceD }

// awaitKind returns nil once node (a member heard from) is known to have
// registered kindName. A node that has just started registers its kinds
// right after, and announces each in a heartbeat of its own: while its
// heartbeats say its kinds are not settled yet (its first interval), a
// kind it lacks may be on its way, and awaitKind waits for it within ctx.
// Once they are settled, a kind it lacks is an error wrapping
// ErrUnknownKind at once, as it is when ctx ends first; a node that goes
// down meanwhile is ErrNodeDown.
func (n *Node) awaitKind(ctx context.Context, node, kindName string) error {
	for {
		n.mu.Lock()
		m := n.members[node]
		switch {
		case m == nil || !m.info.Up:
			n.mu.Unlock()
			return fmt.Errorf("remote: node %q: %w", node, ErrNodeDown)
		case m.kinds[kindName]:
			n.mu.Unlock()
			return nil
		case m.settled:
			n.mu.Unlock()
			return fmt.Errorf("node %q has not registered kind %q: %w", node, kindName, ErrUnknownKind)
		}
		if n.changed == nil {
			n.changed = make(chan struct{})
		}
		changed := n.changed
		n.mu.Unlock()
		select {
		case <-changed:
		case <-n.stop:
			return fmt.Errorf("remote: node %q: %w", n.name, ErrClosed)
		case <-ctx.Done():
			return fmt.Errorf("node %q has not registered kind %q (its kinds were still arriving when the wait ended: %w): %w",
				node, kindName, ctx.Err(), ErrUnknownKind)
		}
	}
}

func (sh *childShared[M]) lastNode() string {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.last
}

// failing is the actor of a remote Spec that cannot work (bad arguments):
// every start fails with the reason.
type failing[M any] struct{ err error }

func (f failing[M]) PreStart(*actor.Context[M]) error   { return f.err }
func (f failing[M]) Receive(*actor.Context[M], M) error { return f.err }

// Spec describes a child of a local supervisor that runs on another node
// (per where), as an actor of kind, which must be registered on this node
// too (for its message type and codec). Add the Spec with StartChild; the
// Ref is usable at once and is the same across restarts and moves: the
// mailbox lives here. Every supervisor strategy, restart policy, intensity
// and backoff applies: a crash on the remote node is an abnormal exit with
// the remote error text (a *RemoteError), a node going down an abnormal
// exit wrapping ErrNodeDown. opts configure the local side (mailbox,
// restart, shutdown, start timeout).
//
// This node serves the child by name for Lookup. Bad input (an unknown
// kind here, a wrong message type, a nil Node) makes every start fail with
// the reason, wrapping ErrUnknownKind or ErrInvalid.
func Spec[M any](n *Node, name, kindName string, where Placement, opts ...actor.Option) (supervisor.Spec, actor.Ref[M]) {
	spec, ref, _ := newSpec[M](n, name, kindName, where, opts)
	return spec, ref
}

func newSpec[M any](n *Node, name, kindName string, where Placement, opts []actor.Option) (supervisor.Spec, actor.Ref[M], error) {
	var err error
	var codec Codec[M]
	switch {
	case n == nil:
		err = fmt.Errorf("remote: child %q: %w: nil Node", name, ErrInvalid)
	case where.how == placeOn && !validName(where.node):
		err = fmt.Errorf("remote: child %q: %w: placement %v", name, ErrInvalid, where)
	default:
		n.mu.Lock()
		k := n.kinds[kindName]
		n.mu.Unlock()
		switch {
		case k == nil:
			err = fmt.Errorf("remote: child %q: kind %q is not registered on node %q: %w", name, kindName, n.name, ErrUnknownKind)
		default:
			c, ok := k.codec.(Codec[M])
			if !ok {
				err = fmt.Errorf("remote: child %q: kind %q takes %s, not %s: %w", name, kindName, k.typeName, typeName[M](), ErrUnknownKind)
			}
			codec = c
		}
	}
	if err != nil {
		spec, ref := actor.Spec(name, func() actor.Actor[M] { return failing[M]{err} }, opts...)
		return spec, ref, err
	}
	sh := &childShared[M]{n: n, name: name, kind: kindName, where: where, codec: codec, carry: carriesReply[M]()}
	spec, ref := actor.Spec(name, func() actor.Actor[M] { return &forwarder[M]{sh: sh} }, opts...)
	sh.patienceD = spec.StartTimeout / 2
	if spec.StartTimeout <= 0 {
		sh.patienceD = supervisor.DefaultStartTimeout / 2
	}
	switch d := spec.Shutdown; {
	case d == 0:
		sh.stopWait = time.Duration(supervisor.DefaultWorkerShutdown) / 2
	case d > 0:
		sh.stopWait = time.Duration(d) / 2
	case d == supervisor.BrutalKill:
		sh.stopWait = supervisor.KillTimeout / 2
	}
	if name != "" {
		if serr := serve(n, ref, codec); serr != nil {
			n.log.Warn("remote child not served for Lookup", "child", name, "err", serr)
		}
	}
	return spec, ref, nil
}

// Spawn adds a remote child to sup (see Spec) and returns its Ref. While
// sup runs, the remote incarnation has started when Spawn returns. Once n
// is closing it fails with ErrClosed.
func Spawn[M any](sup *supervisor.Supervisor, n *Node, name, kindName string, where Placement, opts ...actor.Option) (actor.Ref[M], error) {
	if sup == nil {
		return actor.Ref[M]{}, fmt.Errorf("remote: child %q: %w: nil supervisor", name, ErrInvalid)
	}
	if n != nil && n.closing.Load() {
		// A restart after Close is detached (see Close), so that the tree
		// does not crash; a new child is refused.
		return actor.Ref[M]{}, fmt.Errorf("remote: child %q: node %q: %w", name, n.name, ErrClosed)
	}
	spec, ref, err := newSpec[M](n, name, kindName, where, opts)
	if err != nil {
		return actor.Ref[M]{}, err
	}
	if err := sup.StartChild(spec); err != nil {
		n.mu.Lock()
		if s := n.served[name]; s != nil && s.ref == any(ref) {
			delete(n.served, name)
			s.stop()
		}
		n.mu.Unlock()
		return actor.Ref[M]{}, err
	}
	return ref, nil
}

// ChildPlacement says where one of this node's remote children runs now.
type ChildPlacement struct {
	Name        string // the child's name in its supervisor
	Kind        string
	Node        string // where its current incarnation runs
	Incarnation string
}

// Children returns where this node's remote children run now (those
// between incarnations are not listed), sorted by name.
func (n *Node) Children() []ChildPlacement {
	n.mu.Lock()
	out := make([]ChildPlacement, 0, len(n.children))
	for id, c := range n.children {
		kindName, _, name := c.(placeable).placement()
		out = append(out, ChildPlacement{Name: name, Kind: kindName, Node: c.where(), Incarnation: id})
	}
	n.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (f *forwarder[M]) placement() (string, Placement, string) { return f.sh.placement() }
func (f *forwarder[M]) lastNode() string                       { return f.sh.lastNode() }
func (f *forwarder[M]) patience() time.Duration                { return f.sh.patience() }

// onChild hands a message to a hosted incarnation. One for an incarnation
// that has ended, or never was, is dropped: its owner settles its fate
// (requeued if the incarnation had not begun it).
func (n *Node) onChild(r *reader, raw []byte) {
	incID := r.str()
	seq := r.uint()
	payload := r.rest()
	if r.err != nil {
		n.malformed(r.err, raw)
		return
	}
	n.mu.Lock()
	h := n.hosted[incID]
	n.mu.Unlock()
	if h == nil {
		n.stats.deadLetter("unknown_incarnation")
		return
	}
	h.deliver(seq, payload)
}
