// Command cluster runs one supervision tree across four processes over
// NATS, then breaks it twice: a remote crash, and a whole node killed.
//
//	go run ./examples/cluster
//
// The program you start is node "main". It runs an embedded NATS server
// listening on a free loopback port, and starts three copies of itself as
// node processes n1, n2 and n3 (the environment variable
// AIRSSYS_CLUSTER_NODE tells a copy which node it is), which join that
// server by URL as machines would join a real deployment.
//
// Every node registers the "counter" kind. Node main declares three
// counters under one of its supervisors and places them with Any(): each
// goes to the live node that has fewest, main included. Their mailboxes
// stay on main; only their incarnations run elsewhere. Main then sends a
// steady stream of numbered messages to the three, and each counter records
// every message it handles in a ledger actor on main (with an Ask, across
// the network), which is how main knows what arrived.
//
// Then:
//
//  1. counter-1 is told to crash. The failure comes back to main's
//     supervisor as an abnormal exit carrying the remote error's text, and
//     OneForOne restarts it, on another node since Any() prefers one. The
//     messages queued behind the crash wait in the mailbox and go to the new
//     incarnation.
//  2. A node process running a counter gets SIGKILL: no goodbye. Main hears
//     no more heartbeats and declares the node down after the window
//     (250 ms x 4 misses by default), and the supervisor restarts the node's
//     counters on the nodes still alive.
//
// At the end main prints a timeline and accounts for every numbered
// message: handled once, or a dead letter with its reason (those in flight
// to the killed node, whose fate is unknown), and none handled twice.
//
// Every node process is stopped on every way out: main closes their stdin
// (a node exits when it reads EOF), kills any that linger, and on Linux the
// kernel kills them if main itself dies (Pdeathsig).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/observe"
	"github.com/airssys/rt/remote"
	"github.com/airssys/rt/supervisor"
)

func main() {
	if name := os.Getenv(envNode); name != "" {
		if err := runNode(name, os.Getenv(envURL)); err != nil {
			fmt.Fprintf(os.Stderr, "node %s: %v\n", name, err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		if ctx.Err() != nil {
			// Ctrl-C: run has stopped the node processes on its way out.
			fmt.Fprintln(os.Stderr, "cluster: interrupted; the node processes are stopped")
			os.Exit(130)
		}
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

// The shape of the run.
var (
	workers  = []string{"n1", "n2", "n3"}
	counters = []string{"counter-1", "counter-2", "counter-3"}
)

const (
	// sendEvery paces the numbered messages (round robin over the counters).
	sendEvery = time.Millisecond
	// settle is how long traffic flows between the acts.
	settle = 300 * time.Millisecond
)

// run is the coordinator: node main and the whole story.
func run(ctx context.Context, w io.Writer) (err error) {
	out := observe.NewNarrator(w)
	defer out.Flush()
	tl := newTimeline(out)
	// Errors of the runtime and NATS go to stderr; the story, node events
	// included, goes to w.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	sys := actor.NewSystem(coordinator, actor.WithSystemLogger(log))
	if err := sys.Start(ctx); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, shutdown("actor system", sys.Shutdown)) }()
	dead := &deadBook{}
	defer sys.DeadLetters().Subscribe(dead.add)()

	node, err := remote.Start(ctx, coordinator, sys, remote.WithListen("127.0.0.1:0"), remote.WithLogger(log))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, shutdown("node main", node.Close)) }()
	members := &membership{}
	defer node.Subscribe(members.add)()
	url := node.ClientURL()
	tl.say("NATS listens on %s, inside this process, which is node %q.", url, coordinator)

	// The ledger: what the counters report they handled.
	book := newLedger()
	ledger, err := actor.SpawnIn(sys, ledgerName, book.actor)
	if err != nil {
		return err
	}
	if err := remote.Expose(node, ledger, remote.JSON[Tally]{}); err != nil {
		return err
	}
	if err := registerCounter(ctx, node); err != nil {
		return err
	}

	// Three copies of this program, as nodes n1, n2, n3.
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	procs, err := startNodes(exe, url, workers)
	defer func() { err = errors.Join(err, procs.stop()) }()
	if err != nil {
		return err
	}
	tl.say("Started node processes %s.", procs)
	for _, name := range workers {
		if _, err := members.wait(ctx, name, remote.NodeUp); err != nil {
			return err
		}
	}
	tl.mark("n1, n2 and n3 are up")
	if err := offering(ctx, node, workers, counterKind); err != nil {
		return err
	}
	tl.mark("n1, n2 and n3 offer counters")
	tl.say("All three joined, and offer the %q kind: main hears it in their heartbeats.", counterKind)

	// The counters: children of a supervisor on main, running where Any()
	// puts them. The narrator tells what the supervisor does.
	events := make(chan supervisor.Event, 4096)
	sup := supervisor.New("counters", supervisor.OneForOne, supervisor.Permanent,
		supervisor.WithIntensity(5, 10*time.Second), supervisor.WithLogger(log),
		supervisor.WithEventHandler(tell(out, events)))
	if err := sup.Start(ctx); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stopWithin(sup, waitLimit)) }()
	refs := map[string]actor.Ref[Msg]{}
	for _, name := range counters {
		ref, err := remote.Spawn[Msg](sup, node, name, counterKind, remote.Any())
		if err != nil {
			return err
		}
		refs[name] = ref
	}
	places := map[string]Place{}
	var placed []string
	for _, name := range counters {
		p, err := where(ctx, refs[name])
		if err != nil {
			return err
		}
		places[name] = p
		placed = append(placed, fmt.Sprintf("%s on %s", name, p.Node))
	}
	tl.mark("counters placed: " + strings.Join(placed, ", "))
	tl.say("Placed the counters with Any(): %s.", strings.Join(placed, ", "))

	traffic := startTraffic(refs)
	defer traffic.stop()
	tl.say("Sending a numbered message every %v, round robin over the three.", sendEvery)
	if err := sleep(ctx, settle); err != nil {
		return err
	}

	// Act 1: a remote crash, of a counter in another process.
	victim := ""
	for _, name := range counters {
		if places[name].Node != coordinator {
			victim = name
			break
		}
	}
	if victim == "" {
		return errors.New("no counter runs on a node process")
	}
	tl.say("")
	tl.say("Act 1. %s, running on %s, is told to crash. Its supervisor, on main, sees:", victim, places[victim].Node)
	crashAt := tl.mark(victim + " told to crash")
	if err := refs[victim].Send(Msg{Crash: true}); err != nil {
		return err
	}
	if err := await(ctx, events, is(supervisor.EventChildRestarted, victim)); err != nil {
		return err
	}
	restartedAt := time.Now()
	p, err := where(ctx, refs[victim])
	if err != nil {
		return err
	}
	places[victim] = p
	tl.markAt(restartedAt, fmt.Sprintf("%s restarted on %s", victim, p.Node))
	tl.say("%s was running again %s after the order, now on %s. Its mailbox is on main: what was queued behind the crash waited there for the new incarnation.",
		victim, ms(restartedAt.Sub(crashAt)), p.Node)
	if err := sleep(ctx, settle); err != nil {
		return err
	}

	// Act 2: a node killed outright: the last node process, in the order
	// of the counters, that runs one.
	doomed := ""
	for _, name := range counters {
		if n := places[name].Node; n != coordinator {
			doomed = n
		}
	}
	var onDoomed []string
	for _, name := range counters {
		if places[name].Node == doomed {
			onDoomed = append(onDoomed, name)
		}
	}
	tl.say("")
	tl.say("Act 2. Node %s (pid %d), running %s, is killed with SIGKILL: no goodbye.",
		doomed, procs.pid(doomed), strings.Join(onDoomed, " and "))
	downSeen := members.expect(doomed, remote.NodeDown)
	killAt := tl.mark("SIGKILL to " + doomed)
	if err := procs.kill(doomed); err != nil {
		return err
	}
	down, err := downSeen.wait(ctx)
	if err != nil {
		return err
	}
	tl.markAt(down.Time, "NodeDown "+doomed)
	tl.say("Main declared %s down %s after the kill: it missed its heartbeats (%v x %d).",
		doomed, ms(down.Time.Sub(killAt)), remote.DefaultHeartbeat, remote.DefaultMisses)
	for _, name := range onDoomed {
		if err := await(ctx, events, is(supervisor.EventChildRestarted, name)); err != nil {
			return err
		}
		at := time.Now()
		p, err := where(ctx, refs[name])
		if err != nil {
			return err
		}
		places[name] = p
		tl.markAt(at, fmt.Sprintf("%s restarted on %s", name, p.Node))
		tl.say("%s was running again on %s %s after NodeDown, %s after the kill.",
			name, p.Node, ms(at.Sub(down.Time)), ms(at.Sub(killAt)))
	}
	if err := sleep(ctx, settle); err != nil {
		return err
	}

	// The accounts.
	sent := traffic.stop()
	tl.mark("traffic stopped")
	if err := book.settle(ctx, dead, sent); err != nil {
		return err
	}
	tl.say("")
	acc := account(sent, book, dead)
	tl.say("%s", acc)
	tl.print()
	if acc.twice > 0 || acc.lost > len(onDoomed) {
		return fmt.Errorf("messages handled twice (%d) or lost (%d)", acc.twice, acc.lost)
	}
	tl.say("Stopping: main stops its supervisor, then the node processes leave and exit.")
	return nil
}

// offering waits until every node of names has registered kind: Any()
// places children only on nodes that offer their kind, and a node's kinds
// reach the others with its heartbeats.
func offering(ctx context.Context, n *remote.Node, names []string, kind string) error {
	deadline := time.Now().Add(waitLimit)
	for {
		ready := 0
		for _, m := range n.Nodes() {
			if slices.Contains(names, m.Name) && slices.Contains(m.Kinds, kind) {
				ready++
			}
		}
		if ready == len(names) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %v offer %q after %v", ready, names, kind, waitLimit)
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
}

// where asks a counter where it runs.
func where(ctx context.Context, ref actor.Ref[Msg]) (Place, error) {
	ask, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	p, err := actor.Ask(ask, ref, func(r actor.Reply[Place]) Msg { return Msg{Where: r} })
	if err != nil {
		return p, fmt.Errorf("asking %s where it runs: %w", ref.Name(), err)
	}
	return p, nil
}

// stopWithin stops sup, giving up after d: a child that never stops must
// not keep the node processes (stopped after it) alive forever.
func stopWithin(sup *supervisor.Supervisor, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- sup.Stop() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("supervisor %s did not stop within %v", sup.Name(), d)
	}
}

func shutdown(what string, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := fn(ctx); err != nil {
		return fmt.Errorf("stopping %s: %w", what, err)
	}
	return nil
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

// --- the traffic and its accounts ------------------------------------------

// traffic sends numbered messages until stopped.
type traffic struct {
	done  chan struct{}
	ended chan struct{}
	once  sync.Once
	sent  map[int]string // seq -> counter; read after ended
}

func startTraffic(refs map[string]actor.Ref[Msg]) *traffic {
	t := &traffic{done: make(chan struct{}), ended: make(chan struct{}), sent: map[int]string{}}
	go func() {
		defer close(t.ended)
		tick := time.NewTicker(sendEvery)
		defer tick.Stop()
		for seq := 1; ; seq++ {
			select {
			case <-t.done:
				return
			case <-tick.C:
			}
			name := counters[seq%len(counters)]
			// Send queues in the counter's mailbox on main; what cannot
			// be delivered later is a dead letter, not an error here.
			if err := refs[name].Send(Msg{Seq: seq}); err == nil {
				t.sent[seq] = name
			}
		}
	}()
	return t
}

// stop ends the traffic and returns what was sent.
func (t *traffic) stop() map[int]string {
	t.once.Do(func() { close(t.done) })
	<-t.ended
	return t.sent
}

// ledger is the actor the counters report to.
type ledger struct {
	mu      sync.Mutex
	handled map[int][]string // seq -> the nodes that handled it
	changed chan struct{}
}

func newLedger() *ledger {
	return &ledger{handled: map[int][]string{}, changed: make(chan struct{}, 1)}
}

func (l *ledger) actor() actor.Actor[Tally] {
	return actor.Func[Tally](func(_ *actor.Context[Tally], t Tally) error {
		l.mu.Lock()
		l.handled[t.Seq] = append(l.handled[t.Seq], t.Node)
		l.mu.Unlock()
		t.Ack.Send(true)
		select {
		case l.changed <- struct{}{}:
		default:
		}
		return nil
	})
}

// settle waits until every message sent is handled or a dead letter.
func (l *ledger) settle(ctx context.Context, dead *deadBook, sent map[int]string) error {
	deadline := time.After(waitLimit)
	for {
		open := 0
		l.mu.Lock()
		for seq := range sent {
			if len(l.handled[seq]) == 0 && !dead.has(seq) {
				open++
			}
		}
		l.mu.Unlock()
		if open == 0 {
			return nil
		}
		select {
		case <-l.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			// Unaccounted messages are reported by account, not hidden
			// behind a timeout error.
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// deadBook collects main's dead letters of numbered messages.
type deadBook struct {
	mu      sync.Mutex
	reasons map[int]error
}

func (d *deadBook) add(l actor.DeadLetter) {
	m, ok := l.Message.(Msg)
	if !ok || m.Seq == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reasons == nil {
		d.reasons = map[int]error{}
	}
	d.reasons[m.Seq] = l.Reason
}

func (d *deadBook) has(seq int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.reasons[seq]
	return ok
}

// accounts sorts every numbered message into one fate.
type accounts struct {
	sent, once, twice int
	dead              map[string]int // by reason
	deadAndHandled    int            // dead letters of unknown fate that had in fact been handled
	lost              int            // begun on a node that died before recording them
}

func account(sent map[int]string, l *ledger, d *deadBook) accounts {
	a := accounts{sent: len(sent), dead: map[string]int{}}
	l.mu.Lock()
	defer l.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	for seq := range sent {
		n := len(l.handled[seq])
		reason, dead := d.reasons[seq]
		switch {
		case n > 1:
			a.twice++
		case dead:
			a.dead[deadReason(reason)]++
			if n == 1 {
				a.deadAndHandled++
			}
		case n == 1:
			a.once++
		default:
			a.lost++
		}
	}
	return a
}

func deadReason(err error) string {
	switch {
	case errors.Is(err, remote.ErrNodeDown):
		return "node down"
	case err == nil:
		return "no reason"
	}
	return err.Error()
}

func (a accounts) String() string {
	var b strings.Builder
	ndead := 0
	var reasons []string
	for r, n := range a.dead {
		ndead += n
		reasons = append(reasons, fmt.Sprintf("%d %s", n, r))
	}
	slices.Sort(reasons)
	fmt.Fprintf(&b, "Messages: %d sent; %d handled once; %d dead letters", a.sent, a.once, ndead)
	if len(reasons) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(reasons, ", "))
	}
	fmt.Fprintf(&b, "; %d handled twice.", a.twice)
	if a.dead["node down"] > 0 {
		fmt.Fprintf(&b, "\n  The %d node-down dead letters were sent to a counter on the killed node after it died and before main declared it down: main cannot know whether they arrived, and does not deliver anything twice, so it reports them.", a.dead["node down"])
	}
	if a.deadAndHandled > 0 {
		fmt.Fprintf(&b, "\n  %d of them had in fact been handled, just before the kill: the news had not reached main.", a.deadAndHandled)
	}
	if a.lost > 0 {
		fmt.Fprintf(&b, "\n  %d began on the killed node, which died before recording them: delivered at most once, as promised, and never retried.", a.lost)
	} else {
		b.WriteString("\n  No message was lost without a dead letter saying why.")
	}
	return b.String()
}

// --- events ------------------------------------------------------------------

// membership hands node events to whoever waits for them.
type membership struct {
	mu      sync.Mutex
	seen    []remote.NodeEvent
	pending []*nodeExpectation
}

type nodeExpectation struct {
	node string
	kind remote.NodeEventKind
	ch   chan remote.NodeEvent
}

func (m *membership) add(ev remote.NodeEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen = append(m.seen, ev)
	for i, p := range m.pending {
		if p.node == ev.Node && p.kind == ev.Kind {
			p.ch <- ev
			m.pending = slices.Delete(m.pending, i, i+1)
			return
		}
	}
}

// expect registers interest in the next event of kind for node.
func (m *membership) expect(node string, kind remote.NodeEventKind) *nodeExpectation {
	p := &nodeExpectation{node: node, kind: kind, ch: make(chan remote.NodeEvent, 1)}
	m.mu.Lock()
	m.pending = append(m.pending, p)
	m.mu.Unlock()
	return p
}

// wait returns the first event of kind for node, past or future.
func (m *membership) wait(ctx context.Context, node string, kind remote.NodeEventKind) (remote.NodeEvent, error) {
	m.mu.Lock()
	for _, ev := range m.seen {
		if ev.Node == node && ev.Kind == kind {
			m.mu.Unlock()
			return ev, nil
		}
	}
	m.mu.Unlock()
	return m.expect(node, kind).wait(ctx)
}

func (p *nodeExpectation) wait(ctx context.Context) (remote.NodeEvent, error) {
	select {
	case ev := <-p.ch:
		return ev, nil
	case <-time.After(waitLimit):
		return remote.NodeEvent{}, fmt.Errorf("no %v for %s within %v", p.kind, p.node, waitLimit)
	case <-ctx.Done():
		return remote.NodeEvent{}, ctx.Err()
	}
}

// --- the timeline ------------------------------------------------------------

// timeline narrates as it goes and keeps the marks for a summary.
type timeline struct {
	out   *observe.Narrator
	start time.Time
	marks []mark
}

type mark struct {
	at   time.Time
	what string
}

func newTimeline(out *observe.Narrator) *timeline { return &timeline{out: out, start: time.Now()} }

// say writes a line of the story through the narrator, after whatever the
// narrator still holds, so that the two stay in order.
func (t *timeline) say(format string, args ...any) { t.out.Printf(format, args...) }

func (t *timeline) mark(what string) time.Time {
	now := time.Now()
	t.markAt(now, what)
	return now
}

func (t *timeline) markAt(at time.Time, what string) { t.marks = append(t.marks, mark{at, what}) }

func (t *timeline) print() {
	slices.SortStableFunc(t.marks, func(a, b mark) int { return a.at.Compare(b.at) })
	t.say("")
	t.say("Timeline (ms since start):")
	for _, m := range t.marks {
		t.say("  %9.1f  %s", float64(m.at.Sub(t.start).Microseconds())/1000, m.what)
	}
	t.say("")
}
