package observe_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/observe"
	"github.com/airssys/rt/remote"
	"github.com/airssys/rt/supervisor"
)

// TestClusterOfRealNodes observes a tree whose child runs on another node,
// with real nodes over a real NATS server: the snapshot says where the
// child runs and who the members are, and the metrics follow a node's fall.
func TestClusterOfRealNodes(t *testing.T) {
	ctx := context.Background()
	hb := remote.WithHeartbeat(50*time.Millisecond, 4)
	// Quiet: once b is gone, far cannot restart On("b") and the tree gives
	// up, which the test does not look at.
	quiet := slog.New(slog.DiscardHandler)
	start := func(name string, opts ...remote.Option) (*remote.Node, *actor.System) {
		t.Helper()
		sys := actor.NewSystem(name, actor.WithSystemLogger(quiet),
			actor.WithSupervisorOptions(supervisor.WithLogger(quiet)))
		if err := sys.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sys.Shutdown(ctx) })
		n, err := remote.Start(ctx, name, sys, append([]remote.Option{hb, remote.WithLogger(quiet)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Close(ctx) })
		return n, sys
	}
	a, sysA := start("a", remote.WithListen("127.0.0.1:0"))
	b, _ := start("b", remote.WithURL(a.ClientURL()))
	worker := func() actor.Actor[string] {
		return actor.Func[string](func(*actor.Context[string], string) error { return nil })
	}
	for _, n := range []*remote.Node{a, b} {
		if err := remote.Register(n, "worker", worker, remote.JSON[string]{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a to see b offer the kind", func() bool {
		for _, m := range a.Nodes() {
			if m.Name == "b" && len(m.Kinds) > 0 {
				return true
			}
		}
		return false
	})
	sup := supervisor.New("jobs", supervisor.OneForOne, supervisor.Permanent, supervisor.WithLogger(quiet))
	if err := sysA.Root().AddSupervisor(sup); err != nil {
		t.Fatal(err)
	}
	ref, err := remote.Spawn[string](sup, a, "far", "worker", remote.On("b"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Send("hello"); err != nil {
		t.Fatal(err)
	}

	o, err := observe.NewForSystem(sysA, observe.WithCluster(a))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	snap := o.Snapshot()
	var far *observe.ChildSnapshot
	var find func(s observe.SupervisorSnapshot)
	find = func(s observe.SupervisorSnapshot) {
		for i := range s.Children {
			if s.Children[i].Name == "far" {
				far = &s.Children[i]
			}
			if s.Children[i].Supervisor != nil {
				find(*s.Children[i].Supervisor)
			}
		}
	}
	find(snap.Root)
	if far == nil || far.Node != "b" {
		t.Fatalf("child far: %+v, want it on node b", far)
	}
	if snap.Cluster == nil || snap.Cluster.Node != "a" {
		t.Fatalf("cluster %+v, want one seen from a", snap.Cluster)
	}
	members := map[string]observe.Member{}
	for _, m := range snap.Cluster.Members {
		members[m.Name] = m
	}
	if !members["a"].Self || !members["b"].Up || members["b"].HeartbeatAgeSeconds > 5 {
		t.Fatalf("members %+v, want a (self) and b up, heard recently", snap.Cluster.Members)
	}
	waitFor(t, "a message counted as sent", func() bool { return o.Snapshot().Cluster.Traffic.Sent > 0 })
	if err := testutil.CollectAndCompare(o.Collector(), strings.NewReader(`
# HELP airssys_remote_node_up 1 if the member node is up as this node sees it, 0 if declared down.
# TYPE airssys_remote_node_up gauge
airssys_remote_node_up{node="b"} 1
`), "airssys_remote_node_up"); err != nil {
		t.Error(err)
	}

	// b leaves: a sees it down at once, in the snapshot and the metrics.
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b down in the snapshot", func() bool {
		for _, m := range o.Snapshot().Cluster.Members {
			if m.Name == "b" {
				return !m.Up
			}
		}
		return false
	})
	if err := testutil.CollectAndCompare(o.Collector(), strings.NewReader(`
# HELP airssys_remote_node_up 1 if the member node is up as this node sees it, 0 if declared down.
# TYPE airssys_remote_node_up gauge
airssys_remote_node_up{node="b"} 0
`), "airssys_remote_node_up"); err != nil {
		t.Error(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
