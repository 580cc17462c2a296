package remote_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/internal/natstest"
	"github.com/airssys/rt/remote"
	"github.com/airssys/rt/supervisor"
)

func TestClusterLookupSendAskWatch(t *testing.T) {
	cl := startCluster(t)
	a, b := cl.nodes[0], cl.nodes[1]
	ref, err := actor.SpawnIn(cl.syss[1], "acct", counterKind("b", nil), actor.WithRestart(supervisor.Temporary))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Expose(b, ref, remote.JSON[Msg]{}); err != nil {
		t.Fatal(err)
	}
	r, err := remote.Lookup(ctxT(t, 5*time.Second), a, "b", "acct", remote.JSON[Msg]{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := remote.Lookup(ctxT(t, 5*time.Second), a, "b", "acct", remote.JSON[Msg]{})
	if err != nil || again != r {
		t.Fatalf("second lookup: %v, same ref %v", err, again == r)
	}
	for i := 1; i <= 100; i++ {
		if err := r.Send(Msg{Op: "add", N: i}); err != nil {
			t.Fatal(err)
		}
	}
	if got := get(t, r); got != 5050 {
		t.Fatalf("sum = %d, want 5050 (ordered, each once)", got)
	}
	if got := who(t, r); got != "b" {
		t.Fatalf("who = %q", got)
	}
	// Watch: the remote actor stops for good; the remote ref follows.
	stopped := make(chan error, 1)
	r.Watch(func(reason error) { stopped <- reason })
	if err := r.Send(Msg{Op: "crash", N: 7}); err != nil {
		t.Fatal(err)
	}
	select {
	case reason := <-stopped:
		if !errors.Is(reason, actor.ErrStopped) || !strings.Contains(reason.Error(), "boom 7") {
			t.Fatalf("watch reason: %v", reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the remote ref did not stop")
	}
	if err := r.Send(Msg{Op: "add"}); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("send after stop: %v", err)
	}
	// Errors of Lookup.
	if _, err := remote.Lookup(ctxT(t, 5*time.Second), a, "b", "nobody", remote.JSON[Msg]{}); !errors.Is(err, actor.ErrNotFound) {
		t.Fatalf("lookup unknown actor: %v", err)
	}
	if _, err := remote.Lookup(ctxT(t, 50*time.Millisecond), a, "zz", "acct", remote.JSON[Msg]{}); !errors.Is(err, remote.ErrUnknownNode) {
		t.Fatalf("lookup unknown node: %v", err)
	}
	ref2, _ := actor.SpawnIn(cl.syss[1], "other", counterKind("b", nil))
	_ = remote.Expose(b, ref2, remote.JSON[Msg]{})
	if _, err := remote.Lookup(ctxT(t, 5*time.Second), a, "b", "other", remote.JSON[string]{}); !errors.Is(err, actor.ErrWrongType) {
		t.Fatalf("lookup wrong type: %v", err)
	}
}

// registerAll registers the counter kind on every node.
func registerAll(t *testing.T, cl *cluster, seen *atomic.Int64) {
	t.Helper()
	for _, n := range cl.nodes {
		if err := remote.Register(n, "counter", counterKind(n.Name(), seen), remote.JSON[Msg]{}); err != nil {
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

// supEvents records a supervisor's events.
type supEvents struct {
	ch chan supervisor.Event
}

func newSup(t *testing.T, strategy supervisor.Strategy, opts ...supervisor.Option) (*supervisor.Supervisor, *supEvents) {
	t.Helper()
	ev := &supEvents{ch: make(chan supervisor.Event, 1024)}
	opts = append(opts, supervisor.WithLogger(quiet), supervisor.WithEventHandler(func(e supervisor.Event) {
		select {
		case ev.ch <- e:
		default:
		}
	}))
	sup := supervisor.New("owner", strategy, supervisor.Permanent, opts...)
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sup.Stop() })
	return sup, ev
}

// waitRestarts waits until the supervisor reports child restarted n times.
func waitRestarts(t *testing.T, sup *supervisor.Supervisor, child string, n int) supervisor.ChildInfo {
	t.Helper()
	var info supervisor.ChildInfo
	waitFor(t, 10*time.Second, "restart of "+child, func() bool {
		for _, ci := range sup.WhichChildren() {
			if ci.Name == child {
				info = ci
				return ci.Restarts >= n && ci.State == supervisor.ChildRunning
			}
		}
		return false
	})
	return info
}

func TestRemoteCrashOneForOne(t *testing.T) {
	cl := startCluster(t)
	var seen atomic.Int64
	registerAll(t, cl, &seen)
	a := cl.nodes[0]
	dead := collectDead(t, cl.syss[1])
	sup, _ := newSup(t, supervisor.OneForOne)
	ref, err := remote.Spawn[Msg](sup, a, "c", "counter", remote.On("b"))
	if err != nil {
		t.Fatal(err)
	}
	if got := who(t, ref); got != "b" {
		t.Fatalf("runs on %q, want b", got)
	}
	// A burst: the crash in the middle; what follows it goes to the next
	// incarnation, in order, nothing twice.
	for i := 1; i <= 10; i++ {
		_ = ref.Send(Msg{Op: "add", N: 1})
	}
	_ = ref.Send(Msg{Op: "crash", N: 42})
	for i := 1; i <= 10; i++ {
		_ = ref.Send(Msg{Op: "add", N: 100})
	}
	info := waitRestarts(t, sup, "c", 1)
	var re *remote.RemoteError
	if !errors.As(info.LastErr, &re) || re.Node != "b" || !strings.Contains(re.Text, "boom 42") {
		t.Fatalf("LastErr = %v, want the remote error text", info.LastErr)
	}
	if got := get(t, ref); got != 1000 {
		t.Fatalf("sum after restart = %d, want 1000 (the 10 messages after the crash, once each)", got)
	}
	dl := dead.waitMatching(t, nil, 1, 5*time.Second)
	if m, ok := dl[0].Message.(Msg); !ok || m.Op != "crash" || !strings.Contains(dl[0].Reason.Error(), "boom 42") {
		t.Fatalf("dead letter on b: %+v", dl[0])
	}
	if got := seen.Load(); got != 10+1+10+1+1 {
		t.Fatalf("messages begun remotely: %d, want 23 (nothing twice)", got)
	}
}

func TestRemoteOneForAllAndRestForOne(t *testing.T) {
	for _, strategy := range []supervisor.Strategy{supervisor.OneForAll, supervisor.RestForOne} {
		t.Run(strategy.String(), func(t *testing.T) {
			cl := startCluster(t)
			registerAll(t, cl, nil)
			a := cl.nodes[0]
			sup, _ := newSup(t, strategy)
			first, err := remote.Spawn[Msg](sup, a, "first", "counter", remote.On("b"))
			if err != nil {
				t.Fatal(err)
			}
			second, err := remote.Spawn[Msg](sup, a, "second", "counter", remote.On("c"))
			if err != nil {
				t.Fatal(err)
			}
			third, err := remote.Spawn[Msg](sup, a, "third", "counter", remote.Local())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []actor.Ref[Msg]{first, second, third} {
				_ = r.Send(Msg{Op: "add", N: 5})
				if got := get(t, r); got != 5 {
					t.Fatalf("%v: sum %d", r, got)
				}
			}
			// The second crashes on c: OneForAll restarts all three;
			// RestForOne the second and the third.
			_ = second.Send(Msg{Op: "crash"})
			waitRestarts(t, sup, "second", 1)
			waitFor(t, 10*time.Second, "the restarts", func() bool {
				want := map[string]int{"first": 1, "second": 1, "third": 1}
				if strategy == supervisor.RestForOne {
					want["first"] = 0
				}
				for _, ci := range sup.WhichChildren() {
					if ci.Restarts != want[ci.Name] || ci.State != supervisor.ChildRunning {
						return false
					}
				}
				return true
			})
			wantFirst := 0 // fresh state after a restart
			if strategy == supervisor.RestForOne {
				wantFirst = 5
			}
			if got := get(t, first); got != wantFirst {
				t.Fatalf("first: sum %d, want %d", got, wantFirst)
			}
			if got := get(t, third); got != 0 {
				t.Fatalf("third: sum %d, want 0", got)
			}
			// Every incarnation that was replaced is gone from its node.
			waitFor(t, 5*time.Second, "placements", func() bool { return len(a.Children()) == 3 })
		})
	}
}

func TestRemoteIntensityEscalates(t *testing.T) {
	cl := startCluster(t)
	registerAll(t, cl, nil)
	sup, _ := newSup(t, supervisor.OneForOne, supervisor.WithIntensity(1, time.Minute))
	ref, err := remote.Spawn[Msg](sup, cl.nodes[0], "c", "counter", remote.On("c"))
	if err != nil {
		t.Fatal(err)
	}
	_ = ref.Send(Msg{Op: "crash", N: 1})
	waitRestarts(t, sup, "c", 1)
	_ = ref.Send(Msg{Op: "crash", N: 2})
	select {
	case <-sup.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the supervisor did not give up")
	}
	if err := sup.Err(); !errors.Is(err, supervisor.ErrIntensityExceeded) || !strings.Contains(err.Error(), "boom 2") {
		t.Fatalf("supervisor ended with %v", err)
	}
	// Nothing is left running on c.
	waitFor(t, 5*time.Second, "no child left", func() bool { return len(cl.nodes[0].Children()) == 0 })
}

func TestRemoteSpawnErrors(t *testing.T) {
	cl := startCluster(t)
	a := cl.nodes[0]
	if err := remote.Register(a, "counter", counterKind("a", nil), remote.JSON[Msg]{}); err != nil {
		t.Fatal(err)
	}
	sup, _ := newSup(t, supervisor.OneForOne)
	if _, err := remote.Spawn[Msg](sup, a, "x", "counter", remote.On("b")); !errors.Is(err, remote.ErrUnknownKind) {
		t.Fatalf("kind not registered on b: %v", err)
	}
	// A node never heard of is waited for, half the start timeout. The
	// other half is the margin for the start's own steps: 100 ms of it
	// (a 200 ms timeout) ran out once under -race on a loaded machine
	// (ErrStartTimeout), hence a second, as in spawnwait_test.go.
	if _, err := remote.Spawn[Msg](sup, a, "y", "counter", remote.On("nowhere"), actor.WithStartTimeout(time.Second)); !errors.Is(err, remote.ErrUnknownNode) {
		t.Fatalf("unknown node: %v", err)
	}
	if _, err := remote.Spawn[Msg](sup, a, "z", "nokind", remote.Local()); !errors.Is(err, remote.ErrUnknownKind) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := remote.Spawn[string](sup, a, "w", "counter", remote.Local()); !errors.Is(err, remote.ErrUnknownKind) {
		t.Fatalf("wrong type: %v", err)
	}
	if err := remote.Register(a, "counter", counterKind("a", nil), remote.JSON[Msg]{}); !errors.Is(err, remote.ErrInvalid) {
		t.Fatalf("register twice: %v", err)
	}
}

func TestNameTaken(t *testing.T) {
	cl := startCluster(t)
	sys := startSystem(t, "dup")
	n, err := remote.Start(context.Background(), "b", sys, remote.WithURL(cl.nc.URL(2)))
	if !errors.Is(err, remote.ErrNameTaken) {
		if n != nil {
			_ = n.Close(context.Background())
		}
		t.Fatalf("second node b: %v, want ErrNameTaken", err)
	}
}

// Nodes of different clusters on one NATS deployment never see each other,
// and the same node name may live in both.
func TestClustersNeverMix(t *testing.T) {
	nc := natstest.Start(t, 1)
	prodA := startNode(t, "a", startSystem(t, "pa"), remote.WithURL(nc.URL(0)), remote.WithCluster("prod"))
	startNode(t, "b", startSystem(t, "pb"), remote.WithURL(nc.URL(0)), remote.WithCluster("prod"))
	testA := startNode(t, "a", startSystem(t, "ta"), remote.WithURL(nc.URL(0)), remote.WithCluster("test"))
	waitFor(t, 10*window, "prod membership", func() bool { return len(prodA.Nodes()) == 1 })
	time.Sleep(3 * hbInterval) // heartbeats that would cross clusters have had time to
	if got := testA.Nodes(); len(got) != 0 {
		t.Fatalf("test cluster sees %v", got)
	}
	if got := prodA.Nodes(); len(got) != 1 || got[0].Name != "b" {
		t.Fatalf("prod a sees %v", got)
	}
}

// A request that crashes a remote child fails its Ask at once, with the
// crash, as locally.
func TestRemoteAskOfCrashingRequestFailsFast(t *testing.T) {
	cl := startCluster(t)
	registerAll(t, cl, nil)
	sup, _ := newSup(t, supervisor.OneForOne)
	ref, err := remote.Spawn[Msg](sup, cl.nodes[0], "c", "counter", remote.On("b"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = actor.Ask(ctxT(t, time.Minute), ref, func(r actor.Reply[int]) Msg { return Msg{Op: "crash", N: 9, Reply: r} })
	if err == nil || !strings.Contains(err.Error(), "boom 9") {
		t.Fatalf("Ask: %v, want the crash", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Ask took %v", d)
	}
}

// ClusterState (observe.Cluster) shows this node, its peers, its traffic
// and where its remote children run.
func TestClusterState(t *testing.T) {
	cl := startCluster(t)
	registerAll(t, cl, nil)
	a := cl.nodes[0]
	sup, _ := newSup(t, supervisor.OneForOne)
	ref, err := remote.Spawn[Msg](sup, a, "placed", "counter", remote.On("c"))
	if err != nil {
		t.Fatal(err)
	}
	_ = get(t, ref)
	waitFor(t, 10*window, "a round trip measured", func() bool { return a.Metrics().HeartbeatRTT.Count > 0 })
	st := a.ClusterState()
	if st.Node != "a" || len(st.Members) != 3 || !st.Members[0].Self {
		t.Fatalf("members %+v", st.Members)
	}
	for _, m := range st.Members[1:] {
		if !m.Up || m.LastHeartbeat.IsZero() || len(m.Kinds) != 1 {
			t.Fatalf("member %+v", m)
		}
	}
	if st.Placements["placed"] != "c" {
		t.Fatalf("placements %v", st.Placements)
	}
	if st.Traffic.Sent == 0 || st.Traffic.Received == 0 || st.Traffic.HeartbeatRoundTrips == 0 {
		t.Fatalf("traffic %+v", st.Traffic)
	}
}

// gate is a kind whose "hold" blocks Receive until released: a test can
// stop an incarnation while it is busy and messages wait behind it.
type gate struct {
	counter
	release <-chan struct{}
	holding chan<- struct{}
}

func (g *gate) Receive(cx *actor.Context[Msg], m Msg) error {
	if m.Op == "hold" {
		g.holding <- struct{}{}
		select {
		case <-g.release:
		case <-cx.Context().Done(): // stopped while busy
		}
		return nil
	}
	return g.counter.Receive(cx, m)
}

// Stopped here (TerminateChild, as a restart or a stop does), a remote
// child's incarnation is stopped on its node; the messages it had not begun
// go back to the mailbox and the next incarnation handles them, once each.
func TestRemoteStopRequeuesUnbegun(t *testing.T) {
	cl := startCluster(t)
	release, holding := make(chan struct{}), make(chan struct{}, 1)
	for _, n := range cl.nodes {
		name := n.Name()
		if err := remote.Register(n, "gate", func() actor.Actor[Msg] {
			return &gate{counter: counter{node: name}, release: release, holding: holding}
		}, remote.JSON[Msg]{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "kinds known", func() bool { return len(cl.nodes[0].Nodes()) == 2 && len(cl.nodes[0].Nodes()[0].Kinds) == 1 })
	sup, _ := newSup(t, supervisor.OneForOne)
	ref, err := remote.Spawn[Msg](sup, cl.nodes[0], "g", "gate", remote.On("b"))
	if err != nil {
		t.Fatal(err)
	}
	_ = ref.Send(Msg{Op: "hold"})
	<-holding
	for range 10 {
		_ = ref.Send(Msg{Op: "add", N: 1})
	}
	// The owner asks b to stop the incarnation; it ends after the Receive
	// under way (which the stop itself ends), without touching what waits.
	if err := sup.TerminateChild("g"); err != nil {
		t.Fatal(err)
	}
	if err := sup.RestartChild("g"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, ref); got != 10 {
		t.Fatalf("sum %d after the restart, want 10: the unbegun messages, once each", got)
	}
}
