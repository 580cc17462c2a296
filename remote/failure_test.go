package remote_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/internal/natstest"
	"github.com/airssys/rt/remote"
	"github.com/airssys/rt/supervisor"
)

// natsCluster starts three nodes a, b, c on the servers of nc. The nodes
// in mortal do not reconnect elsewhere when their server shuts down: the
// node dies with it (a node whose client fails over to another server
// lives on, as NATS intends).
func natsCluster(t *testing.T, nc *natstest.Cluster, mortal ...string) *cluster {
	t.Helper()
	cl := &cluster{nc: nc}
	for i, name := range []string{"a", "b", "c"} {
		opts := []remote.Option{remote.WithURL(nc.URL(i))}
		for _, m := range mortal {
			if m == name {
				opts = append(opts, remote.WithNATSOptions(nats.NoReconnect()))
			}
		}
		cl.syss = append(cl.syss, startSystem(t, "sys-"+name))
		cl.nodes = append(cl.nodes, startNode(t, name, cl.syss[i], opts...))
	}
	cl.waitMembers(t)
	return cl
}

// liveCounter is the counter kind, with the number of incarnations running
// now (over all nodes of the test) kept in live.
type liveCounter struct {
	counter
	live *atomic.Int64
}

func (c *liveCounter) PreStart(*actor.Context[Msg]) error { c.live.Add(1); return nil }
func (c *liveCounter) PostStop(*actor.Context[Msg])       { c.live.Add(-1) }

func registerLive(t *testing.T, cl *cluster, live *atomic.Int64) {
	t.Helper()
	for _, n := range cl.nodes {
		name := n.Name()
		if err := remote.Register(n, "counter", func() actor.Actor[Msg] {
			return &liveCounter{counter: counter{node: name}, live: live}
		}, remote.JSON[Msg]{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "kinds known", func() bool {
		for _, n := range cl.nodes {
			for _, m := range n.Nodes() {
				if len(m.Kinds) == 0 {
					return false
				}
			}
		}
		return true
	})
}

// A node dies (its server shuts down, so it neither sends heartbeats nor
// leaves): the survivors declare it down within the window, its child is
// restarted elsewhere, an Ask waiting on it fails with ErrNodeDown, and
// what was in flight to it is a dead letter wrapping ErrNodeDown.
func TestNodeDeath(t *testing.T) {
	nc := natstest.Start(t, 3)
	cl := natsCluster(t, nc, "c")
	var live atomic.Int64
	registerLive(t, cl, &live)
	a, c := cl.nodes[0], cl.nodes[2]
	evA, evB := watchEvents(t, a), watchEvents(t, cl.nodes[1])
	dead := collectDead(t, cl.syss[0])
	sup, _ := newSup(t, supervisor.OneForOne)
	ref, err := remote.Spawn[Msg](sup, a, "w", "counter", remote.On("c"))
	if err != nil {
		t.Fatal(err)
	}
	if got := who(t, ref); got != "c" {
		t.Fatalf("runs on %q", got)
	}
	// An actor on c that keeps requests unanswered, looked up from b.
	holder, _ := actor.SpawnIn(cl.syss[2], "holder", counterKind("c", nil))
	if err := remote.Expose(c, holder, remote.JSON[Msg]{}); err != nil {
		t.Fatal(err)
	}
	held, err := remote.Lookup(ctxT(t, 5*time.Second), cl.nodes[1], "c", "holder", remote.JSON[Msg]{})
	if err != nil {
		t.Fatal(err)
	}
	asked := make(chan error, 2)
	go func() {
		_, err := actor.Ask(ctxT(t, time.Minute), held, func(r actor.Reply[int]) Msg { return Msg{Op: "hold", Reply: r} })
		asked <- err
	}()
	go func() {
		// The remote child never answers a "hold" either.
		_, err := actor.Ask(ctxT(t, time.Minute), ref, func(r actor.Reply[int]) Msg { return Msg{Op: "hold", Reply: r} })
		asked <- err
	}()
	waitFor(t, 5*time.Second, "the holds to arrive", func() bool { return holder.Stats().Processed >= 1 })

	// The child's node is now unreachable: messages stay in flight.
	killed := time.Now()
	nc.Shutdown(2)
	for range 3 {
		_ = ref.Send(Msg{Op: "add", N: 1})
	}
	downA := evA.wait(t, remote.NodeDown, "c", 10*window)
	downB := evB.wait(t, remote.NodeDown, "c", 10*window)
	for _, ev := range []remote.NodeEvent{downA, downB} {
		took := ev.Time.Sub(killed)
		if took < window-2*hbInterval || took > 3*window {
			t.Errorf("NodeDown after %v, want about the window (%v)", took, window)
		}
		if !errors.Is(ev.Reason, remote.ErrNodeDown) {
			t.Errorf("reason %v", ev.Reason)
		}
	}
	for range 2 {
		select {
		case err := <-asked:
			if !errors.Is(err, remote.ErrNodeDown) {
				t.Errorf("Ask in flight: %v, want ErrNodeDown", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("an Ask in flight hangs")
		}
	}
	// The Lookup ref stops for good.
	select {
	case <-held.Done():
		if !errors.Is(held.Err(), remote.ErrNodeDown) {
			t.Errorf("lookup ref Err: %v", held.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the Lookup ref did not stop")
	}
	// The child exits abnormally with ErrNodeDown. (Its restarts, On("c"),
	// fail while c is down until the supervisor gives up; Any() moves a
	// child instead: TestNodeDeathAnyMoves.)
	info := waitExit(t, sup, "w")
	if !errors.Is(info.LastErr, remote.ErrNodeDown) {
		t.Fatalf("child exit: %v, want ErrNodeDown", info.LastErr)
	}
	// What was sent and never acknowledged is a dead letter wrapping
	// ErrNodeDown (the "hold" and the three adds, give or take the ones
	// acknowledged before the kill).
	dead.waitMatching(t, remote.ErrNodeDown, 1, 5*time.Second)
	// Exactly once.
	if n := evA.count(remote.NodeDown, "c"); n != 1 {
		t.Errorf("%d NodeDown for c on a", n)
	}
}

// waitExit waits until the child has failed at least once and returns its
// info.
func waitExit(t *testing.T, sup *supervisor.Supervisor, child string) supervisor.ChildInfo {
	t.Helper()
	var info supervisor.ChildInfo
	waitFor(t, 10*time.Second, "exit of "+child, func() bool {
		for _, ci := range sup.WhichChildren() {
			if ci.Name == child && ci.LastErr != nil {
				info = ci
				return true
			}
		}
		select {
		case <-sup.Done():
			info.LastErr = sup.Err()
			return true
		default:
		}
		return false
	})
	return info
}

// Any() restarts a child whose node died on another live node; the
// mailbox (and the Ref) stay.
func TestNodeDeathAnyMoves(t *testing.T) {
	nc := natstest.Start(t, 3)
	cl := natsCluster(t, nc, "b")
	var live atomic.Int64
	registerLive(t, cl, &live)
	a := cl.nodes[0]
	sup, _ := newSup(t, supervisor.OneForOne)
	// Three children with Any(): spread over the three nodes.
	var refs []actor.Ref[Msg]
	for _, name := range []string{"x", "y", "z"} {
		ref, err := remote.Spawn[Msg](sup, a, name, "counter", remote.Any())
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	where := map[string]string{}
	for i, ref := range refs {
		where[ref.Name()] = who(t, ref)
		_ = i
	}
	if len(map[string]bool{where["x"]: true, where["y"]: true, where["z"]: true}) != 3 {
		t.Fatalf("Any() did not spread: %v", where)
	}
	var victim actor.Ref[Msg]
	for _, ref := range refs {
		if where[ref.Name()] == "b" {
			victim = ref
		}
	}
	ev := watchEvents(t, a)
	killed := time.Now()
	nc.Shutdown(1)
	ev.wait(t, remote.NodeDown, "b", 10*window)
	info := waitRestarts(t, sup, victim.Name(), 1)
	if !errors.Is(info.LastErr, remote.ErrNodeDown) {
		t.Fatalf("LastErr %v", info.LastErr)
	}
	now := who(t, victim)
	if now == "b" {
		t.Fatal("restarted on the dead node")
	}
	t.Logf("kill -> restarted on %s: %v", now, time.Since(killed))
	_ = victim.Send(Msg{Op: "add", N: 3})
	if got := get(t, victim); got != 3 {
		t.Fatalf("sum %d", got)
	}
}

// A silent partition between a and b (both still reach c): each declares
// the other down within the window; a's child on b is restarted elsewhere,
// b fences the old incarnation; after healing exactly one incarnation of
// each child runs.
func TestSilentPartition(t *testing.T) {
	nc := natstest.Start(t, 3, natstest.WithProxy(0, 1))
	cl := natsCluster(t, nc)
	var live atomic.Int64
	registerLive(t, cl, &live)
	a, b := cl.nodes[0], cl.nodes[1]
	evA, evB := watchEvents(t, a), watchEvents(t, b)
	retry := []supervisor.Option{supervisor.WithIntensity(1000, time.Second),
		supervisor.WithBackoff(supervisor.Backoff{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 2})}
	sup, _ := newSup(t, supervisor.OneForOne, retry...)
	onB, err := remote.Spawn[Msg](sup, a, "onb", "counter", remote.On("b"))
	if err != nil {
		t.Fatal(err)
	}
	anyRef, err := remote.Spawn[Msg](sup, a, "anywhere", "counter", remote.Any())
	if err != nil {
		t.Fatal(err)
	}
	// And b owns a child on a.
	supB, _ := newSup(t, supervisor.OneForOne, retry...)
	if _, err := remote.Spawn[Msg](supB, b, "ona", "counter", remote.On("a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "three incarnations", func() bool { return live.Load() == 3 })
	_ = who(t, onB)
	_ = who(t, anyRef)

	froze := time.Now()
	nc.Proxy(0, 1).Freeze()
	dA := evA.wait(t, remote.NodeDown, "b", 10*window)
	dB := evB.wait(t, remote.NodeDown, "a", 10*window)
	for _, ev := range []remote.NodeEvent{dA, dB} {
		if took := ev.Time.Sub(froze); took > 3*window {
			t.Errorf("%s: NodeDown after %v (window %v)", ev.Node, took, window)
		}
	}
	// The fenced incarnations stop: "onb" on b (owner a unreachable) and
	// "ona" on a (owner b unreachable). "onb" cannot restart (On("b") is
	// down for a); "ona" cannot either (On("a") is down for b).
	waitFor(t, 5*window, "fencing", func() bool { return live.Load() <= 1 })

	nc.Proxy(0, 1).Heal()
	evA.wait(t, remote.NodeUp, "b", 20*time.Second)
	evB.wait(t, remote.NodeUp, "a", 20*time.Second)
	if n := evA.count(remote.NodeDown, "b"); n != 1 {
		t.Errorf("a saw %d NodeDown for b", n)
	}
	// Both On() children come back (their supervisors retry); the Any()
	// one has run throughout, once.
	waitFor(t, 20*time.Second, "one incarnation of each child", func() bool {
		return live.Load() == 3 && len(a.Children()) == 2 && len(b.Children()) == 1
	})
	if got := who(t, onB); got != "b" {
		t.Fatalf("onb runs on %q", got)
	}
	// Settled: still three, not more.
	time.Sleep(2 * window)
	if n := live.Load(); n != 3 {
		t.Fatalf("%d incarnations after healing, want 3", n)
	}
}

// Close announces the leave: peers see NodeDown at once, not after the
// window; a node of the same name may then start again at once, on another
// server, and is NodeUp again. (The regression: the leaving node's
// subscription was still known on the other server for a moment, the name
// check's request timed out, and the new node failed with ErrNameTaken.)
func TestRegressionLeaveAndComeBackAtOnce(t *testing.T) {
	nc := natstest.Start(t, 2)
	sysA, sysB := startSystem(t, "a"), startSystem(t, "b")
	a := startNode(t, "a", sysA, remote.WithURL(nc.URL(0)))
	ev := watchEvents(t, a)
	b, err := remote.Start(context.Background(), "b", sysB, remote.WithURL(nc.URL(1)), remote.WithHeartbeat(hbInterval, hbMisses))
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(t, remote.NodeUp, "b", 10*window)
	left := time.Now()
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	down := ev.wait(t, remote.NodeDown, "b", 10*window)
	if took := down.Time.Sub(left); took >= window/2 {
		t.Errorf("NodeDown %v after Close, want well under the window %v", took, window)
	}
	if !strings.Contains(down.Reason.Error(), "left") {
		t.Errorf("reason %v", down.Reason)
	}
	// b starts again, on the other server this time.
	startNode(t, "b", startSystem(t, "b2"), remote.WithURL(nc.URL(0)))
	waitFor(t, 10*window, "NodeUp again", func() bool { return ev.count(remote.NodeUp, "b") == 2 })
	if n := ev.count(remote.NodeDown, "b"); n != 1 {
		t.Errorf("%d NodeDown, want 1", n)
	}
}

// Bad bytes published straight to a node's subjects are dead letters
// wrapping ErrCodec; the node goes on working.
func TestBadBytes(t *testing.T) {
	nc := natstest.Start(t, 1)
	sys := startSystem(t, "a")
	a := startNode(t, "a", sys, remote.WithURL(nc.URL(0)))
	if err := remote.Register(a, "counter", counterKind("a", nil), remote.JSON[Msg]{}); err != nil {
		t.Fatal(err)
	}
	ref, err := remote.Spawn[Msg](sys.Root(), a, "c", "counter", remote.Local())
	if err != nil {
		t.Fatal(err)
	}
	dead := collectDead(t, sys)
	raw, err := nats.Connect(nc.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	inbox := "airssys.default.n.a"
	garbage := [][]byte{
		{},
		{0},
		{250, 1, 2, 3},
		{1},      // a send with no name
		{1, 200}, // a name longer than the frame
		append([]byte{1, 1, 'c'}, "{not json"...),                           // bad JSON for the child
		append([]byte{1, 1, 'c'}, `{"Op":"get","Reply":"a.notanumber"}`...), // bad reply token
		{2, 5, 'x'},       // child message, truncated
		{3},               // answer, truncated
		{4, 1},            // exit, truncated
		{7, 1},            // spawn, truncated
		{11},              // a batch with no name
		{11, 1, 'c', 200}, // a batch whose message is longer than the frame
		// a batch of bad JSON then a good message: only the first is lost
		append(append([]byte{11, 1, 'c', 9}, "{not json"...), append([]byte{18}, `{"Op":"add","N":1}`...)...),
	}
	for _, g := range garbage {
		if err := raw.Publish(inbox, g); err != nil {
			t.Fatal(err)
		}
	}
	_ = raw.Publish("airssys.default.hb", []byte{9, 9, 9})
	_ = raw.Flush()
	dl := dead.waitMatching(t, remote.ErrCodec, 12, 5*time.Second)
	for _, d := range dl {
		if d.Reason == nil {
			t.Fatal("a dead letter without a reason")
		}
	}
	// Still serving.
	// The batch's good message may land after its dead letter is seen.
	_ = ref.Send(Msg{Op: "add", N: 2})
	waitFor(t, 5*time.Second, "the batch's good message", func() bool { return get(t, ref) == 3 })
	if m := a.Metrics(); m.DeadLetters["codec"] < 12 {
		t.Fatalf("codec dead letters counted: %v", m.DeadLetters)
	}
}

// A message over NATS' max_payload is a dead letter wrapping ErrTooLarge on
// the sending side, and an Ask with it fails at once. This also runs the
// embedded server with a listener that another node joins by URL.
func TestTooLarge(t *testing.T) {
	sysA, sysB := startSystem(t, "a"), startSystem(t, "b")
	a := startNode(t, "a", sysA, remote.WithListen("127.0.0.1:0"), remote.WithMaxPayload(4096))
	if !strings.HasPrefix(a.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("ClientURL %q", a.ClientURL())
	}
	b := startNode(t, "b", sysB, remote.WithURL(a.ClientURL()))
	echo, _ := actor.SpawnIn(sysA, "echo", counterKind("a", nil))
	if err := remote.Expose(a, echo, remote.JSON[Msg]{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*window, "membership", func() bool { return len(b.Nodes()) == 1 })
	ref, err := remote.Lookup(ctxT(t, 5*time.Second), b, "a", "echo", remote.JSON[Msg]{})
	if err != nil {
		t.Fatal(err)
	}
	dead := collectDead(t, sysB)
	big := Msg{Op: strings.Repeat("x", 5000)}
	if err := ref.Send(big); err != nil {
		t.Fatal(err)
	}
	dl := dead.waitMatching(t, remote.ErrTooLarge, 1, 5*time.Second)
	if m, ok := dl[0].Message.(Msg); !ok || len(m.Op) != 5000 {
		t.Fatalf("dead letter %+v", dl[0])
	}
	_, err = actor.Ask(ctxT(t, time.Minute), ref, func(r actor.Reply[int]) Msg { return Msg{Op: big.Op, Reply: r} })
	if !errors.Is(err, remote.ErrTooLarge) {
		t.Fatalf("Ask with a large request: %v", err)
	}
	_ = ref.Send(Msg{Op: "add", N: 4})
	if got := get(t, ref); got != 4 {
		t.Fatalf("sum %d", got)
	}
}

// An incarnation its owner does not know (a spawn whose answer was lost, a
// stop that never arrived) is stopped within a heartbeat window or two,
// while both nodes are up: the hosting node's periodic acknowledgement
// doubles as a lease.
func TestRegressionOrphanIncarnationIsStopped(t *testing.T) {
	nc := natstest.Start(t, 1)
	var live atomic.Int64
	var nodes []*remote.Node
	for _, name := range []string{"a", "b"} {
		n := startNode(t, name, startSystem(t, name), remote.WithURL(nc.URL(0)))
		if err := remote.Register(n, "counter", func() actor.Actor[Msg] {
			return &liveCounter{counter: counter{node: name}, live: &live}
		}, remote.JSON[Msg]{}); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	waitFor(t, 10*window, "membership", func() bool { return len(nodes[0].Nodes()) == 1 })
	raw, err := nats.Connect(nc.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// A spawn request in a's name for an incarnation a never asked for.
	frame := []byte{7}
	for _, s := range []string{"counter", "ghost", "a", "not-an-incarnation-of-a", "remote_test.Msg"} {
		frame = append(frame, byte(len(s)))
		frame = append(frame, s...)
	}
	reply, err := raw.Request("airssys.default.n.b", frame, 5*time.Second)
	if err != nil || len(reply.Data) == 0 || reply.Data[0] != 0 {
		t.Fatalf("spawn: %v %v", reply, err)
	}
	if live.Load() != 1 {
		t.Fatalf("%d incarnations running, want the orphan", live.Load())
	}
	start := time.Now()
	waitFor(t, 10*window, "the orphan to stop", func() bool { return live.Load() == 0 })
	if d := time.Since(start); d > 3*window {
		t.Errorf("the orphan ran %v after it was spawned (window %v)", d, window)
	}
	if nodes[0].Metrics().OrphansStopped == 0 {
		t.Error("not counted")
	}
}
