package remote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Failure detection. Every node publishes a heartbeat on the cluster's
// heartbeat subject each interval, and hears everyone else's. A peer not
// heard from for interval*misses is declared down, once, with NodeDown;
// heard from again, it is up again (NodeUp). A heartbeat with a new id
// under a known name is a restarted node: the old one is down. Close
// publishes a last heartbeat that says "leaving", which peers treat as
// down at once.
//
// NATS itself notices a silent link only after about a minute, which is
// why this is ours.
//
// A heartbeat also carries the node's registered kinds, and whether they
// are settled: a node registers its kinds right after Start, so during its
// first interval (until its first heartbeat from the loop) its heartbeats
// say "more may come", and a peer's Spawn On it waits for a kind it does
// not see yet rather than fail with ErrUnknownKind (see awaitKind).

// Bits of a heartbeat's flags byte. An older node reads any value but 1
// as "not leaving": a leave never carries hbUnsettled, and to such a node
// the bit is harmless.
const (
	hbLeaving   = 1 << iota // the node is leaving (Close)
	hbUnsettled             // its kinds may still be arriving (its first interval)
)

var (
	errMissed = fmt.Errorf("%w: missed heartbeats", ErrNodeDown)
	errLeft   = fmt.Errorf("%w: left the cluster", ErrNodeDown)
	errReborn = fmt.Errorf("%w: restarted", ErrNodeDown)
)

// heartbeat publishes this node's heartbeat, or with leaving its leave.
// Heartbeats are made and published one at a time (hbMu), so that the
// peers get them in the order their kinds were read (a kind registered
// meanwhile is never taken back by an older list), and none goes after
// the leave: the peers would see the node up again.
func (n *Node) heartbeat(leaving bool) {
	n.hbMu.Lock()
	defer n.hbMu.Unlock()
	if n.left {
		return
	}
	n.left = leaving
	n.mu.Lock()
	kinds := make([]string, 0, len(n.kinds))
	for k := range n.kinds {
		kinds = append(kinds, k)
	}
	n.mu.Unlock()
	sort.Strings(kinds)
	var w writer
	w.str(n.name)
	w.str(n.id)
	var flags byte
	if leaving {
		flags |= hbLeaving
	}
	if !leaving && !n.settled.Load() {
		flags |= hbUnsettled
	}
	w.byte(flags)
	w.uint(uint64(len(kinds)))
	for _, k := range kinds {
		w.str(k)
	}
	if err := n.nc.Publish(n.prefix+"hb", w.b); err == nil {
		n.stats.heartbeatsSent.Add(1)
	}
}

func (n *Node) heartbeatLoop() {
	defer n.loops.Done()
	t := time.NewTicker(n.interval)
	defer t.Stop()
	pingNext, tick := 0, 0
	for {
		select {
		case <-n.stop:
			return
		case now := <-t.C:
			tick++
			n.settled.Store(true) // from the first tick on: kinds registered since come as additions
			n.heartbeat(false)
			n.checkMembers(now)
			sweepPending(n)
			n.flushAcks(tick%n.misses == 0)
			pingNext = n.pingOne(pingNext)
		}
	}
}

// onHeartbeat handles a peer's heartbeat (and our own, which it ignores).
func (n *Node) onHeartbeat(msg *nats.Msg) {
	r := reader{b: msg.Data}
	name, id, flags := r.str(), r.str(), r.byte()
	leaving, settled := flags&hbLeaving != 0, flags&hbUnsettled == 0
	k := r.uint()
	if r.err != nil || k > 1<<16 {
		n.stats.deadLetter("codec")
		n.log.Warn("malformed heartbeat", "err", r.err)
		return
	}
	kinds := make(map[string]bool, k)
	list := make([]string, 0, k)
	for range k {
		s := r.str()
		kinds[s] = true
		list = append(list, s)
	}
	if r.err != nil || !validName(name) {
		n.stats.deadLetter("codec")
		n.log.Warn("malformed heartbeat", "err", r.err)
		return
	}
	if name == n.name {
		if id != n.id {
			n.log.Error("another live node has this node's name", "other_id", id)
		}
		return
	}
	n.stats.heartbeatsReceived.Add(1)
	now := time.Now()
	var down []string
	n.mu.Lock()
	m := n.members[name]
	switch {
	case m == nil:
		if leaving {
			n.mu.Unlock()
			return
		}
		m = &member{info: NodeInfo{Name: name}}
		n.members[name] = m
	case m.id != id && m.info.Up:
		// A new incarnation of the node: the old one is gone.
		m.info.Up = false
		m.why = errReborn
		n.emitLocked(NodeEvent{Kind: NodeDown, Node: name, Time: now, Reason: errReborn})
		n.changedLocked()
		down = append(down, name)
	}
	if leaving {
		if m.id == id && m.info.Up {
			m.info.Up = false
			m.why = errLeft
			n.emitLocked(NodeEvent{Kind: NodeDown, Node: name, Time: now, Reason: errLeft})
			n.changedLocked()
			down = append(down, name)
		}
		n.mu.Unlock()
		n.afterDown(down)
		return
	}
	if !m.info.Up || m.settled != settled || !slices.Equal(m.info.Kinds, list) {
		n.changedLocked()
	}
	m.id = id
	m.kinds = kinds
	m.settled = settled
	m.info.Kinds = list
	m.info.LastHeartbeat = now
	m.checks = 0
	if !m.info.Up {
		m.info.Up = true
		n.emitLocked(NodeEvent{Kind: NodeUp, Node: name, Time: now})
	}
	n.mu.Unlock()
	n.afterDown(down)
}

// checkMembers declares down the peers silent for the window, and for as
// many of this node's own checks (misses) as heartbeats they missed.
//
// The second condition is for a stall of this node: a GC pause, a VM
// descheduled, a processor starved. Its ticker drops the ticks it could
// not deliver, so the first check after a stall sees every peer silent
// for the whole stall, while their heartbeats of that time wait unread in
// the connection; one check, not misses of them, has passed. Counting
// checks makes this node's stall its own, not its peers' silence; a peer
// that really went silent is declared down after the window as before
// (the ticks that come each interval are those checks), or at most misses
// intervals after this node resumes.
func (n *Node) checkMembers(now time.Time) {
	var down []string
	n.mu.Lock()
	for name, m := range n.members {
		m.checks++
		if m.info.Up && m.checks >= n.misses && now.Sub(m.info.LastHeartbeat) > n.window() {
			m.info.Up = false
			m.why = errMissed
			n.emitLocked(NodeEvent{Kind: NodeDown, Node: name, Time: now, Reason: errMissed})
			n.changedLocked()
			down = append(down, name)
		}
	}
	n.mu.Unlock()
	n.afterDown(down)
}

// afterDown does what a node going down calls for: this node's children
// there exit, Asks waiting on it fail, Lookup refs to it stop, and what it
// owned here is fenced (stopped).
func (n *Node) afterDown(nodes []string) {
	for _, name := range nodes {
		cause := fmt.Errorf("remote: node %q: %w", name, ErrNodeDown)
		n.mu.Lock()
		var kids []ownerChild
		for _, c := range n.children {
			if c.where() == name {
				kids = append(kids, c)
			}
		}
		var proxies []*proxyEntry
		for key, p := range n.lookups {
			if p.node == name {
				proxies = append(proxies, p)
				delete(n.lookups, key)
			}
		}
		var fenced []*hosted
		for _, h := range n.hosted {
			if h.owner == name {
				fenced = append(fenced, h)
			}
		}
		for _, s := range n.served {
			delete(s.watchers, name)
		}
		n.mu.Unlock()
		for _, c := range kids {
			c.nodeDown(name)
		}
		failPending(n, name, cause)
		for _, p := range proxies {
			p.stop(cause)
		}
		for _, h := range fenced {
			n.log.Warn("fencing: the owner is down, stopping its child", "child", h.name, "owner", h.owner)
			n.stats.fenced.Add(1)
			// Counted in n.work, so that Close waits for it; once Close
			// waits, it is refused, and Close's own stop of every hosted
			// incarnation (after that wait) covers it.
			n.goWork(h.terminate)
		}
	}
}

// changedLocked wakes whoever waits for a change in the membership (see
// awaitKind); n.mu is held.
func (n *Node) changedLocked() {
	if n.changed != nil {
		close(n.changed)
		n.changed = nil
	}
}

// memberState returns whether node is known and up, and if it is down,
// why.
func (n *Node) memberState(node string) (known, up bool, why error) {
	if node == n.name {
		return true, true, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.members[node]
	if m == nil {
		return false, false, nil
	}
	return true, m.info.Up, m.why
}

// checkNode returns nil if node is a live member, else an error wrapping
// ErrUnknownNode or ErrNodeDown.
func (n *Node) checkNode(node string) error {
	known, up, why := n.memberState(node)
	switch {
	case n.closing.Load():
		return fmt.Errorf("remote: node %q: %w", n.name, ErrClosed)
	case !known:
		return fmt.Errorf("remote: node %q: %w: not heard from yet in cluster %q (not started, not yet heard, or on another NATS deployment or cluster name)", node, ErrUnknownNode, n.cluster())
	case !up && why != nil:
		return fmt.Errorf("remote: node %q: %w", node, why) // wraps ErrNodeDown
	case !up:
		return fmt.Errorf("remote: node %q: %w", node, ErrNodeDown)
	}
	return nil
}

// pingOne measures the round trip to one live peer, in turn, without
// holding up the heartbeat loop.
func (n *Node) pingOne(next int) int {
	peers := n.Nodes()
	if len(peers) == 0 {
		return 0
	}
	peer := peers[next%len(peers)].Name
	n.loops.Add(1)
	go func() {
		defer n.loops.Done()
		ctx, cancel := context.WithTimeout(n.ctx, n.interval)
		defer cancel()
		start := time.Now()
		_, err := n.nc.RequestWithContext(ctx, n.inboxOf(peer), []byte{tPing})
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				n.stats.pingFailures.Add(1)
			}
			return
		}
		rtt := time.Since(start)
		n.stats.observeRTT(rtt)
		n.mu.Lock()
		if m := n.members[peer]; m != nil {
			m.info.RTT = rtt
		}
		n.mu.Unlock()
	}()
	return next + 1
}

// cluster is the name of the node's cluster (WithCluster).
func (n *Node) cluster() string {
	return strings.TrimSuffix(strings.TrimPrefix(n.prefix, "airssys."), ".")
}

// awaitNode is checkNode for a caller with a ctx (Lookup): a node not
// heard from yet may just be starting (its first heartbeat takes up to an
// interval), so it waits for it until ctx ends, and then fails with
// ErrUnknownNode wrapping ctx's error. A node known to be down is answered
// at once.
func (n *Node) awaitNode(ctx context.Context, node string) error {
	err := n.checkNode(node)
	if !errors.Is(err, ErrUnknownNode) {
		return err
	}
	up := make(chan struct{}, 1)
	cancel := n.Subscribe(func(ev NodeEvent) {
		if ev.Kind == NodeUp && ev.Node == node {
			select {
			case up <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	for {
		// Again once subscribed: it may have come up in between.
		if err = n.checkNode(node); !errors.Is(err, ErrUnknownNode) {
			return err
		}
		select {
		case <-up:
		case <-n.stop:
			return fmt.Errorf("remote: node %q: %w", n.name, ErrClosed)
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", err, ctx.Err())
		}
	}
}
