package observe

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/airssys/rt/supervisor"
)

// staticCluster is a cluster whose state the test sets: the observer's
// side of WithCluster is tested here; remote's own tests check what a real
// node reports.
type staticCluster struct {
	mu sync.Mutex
	st ClusterState
}

func (c *staticCluster) ClusterState() ClusterState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	// A copy of what the tests change under c.mu: the caller reads it
	// after the lock is released (TestRegressionStaticClusterIsSafeForConcurrentUse).
	st.Members = slices.Clone(st.Members)
	return st
}

// locatedActor is a fake actor that says it runs on another node.
type locatedActor struct {
	*fakeActor
	node string
}

func (a locatedActor) Node() string { return a.node }

func clusterFixture(t *testing.T) (*supervisor.Supervisor, *staticCluster) {
	t.Helper()
	root := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet)
	must(t, root.Child("far").SpawnFunc(func() supervisor.Child {
		return locatedActor{fakeActor: newFakeActor().(*fakeActor), node: "b"}
	}))
	must(t, root.Child("near").SpawnFunc(newFakeActor))
	must(t, root.Child("placed").SpawnFunc(newFakeActor))
	must(t, root.Start(context.Background()))
	t.Cleanup(func() { _ = root.Stop() })
	heard := time.Now().Add(-1500 * time.Millisecond)
	return root, &staticCluster{st: ClusterState{
		Node: "a",
		Members: []Member{
			{Name: "c", Up: false, LastHeartbeat: heard.Add(-time.Minute)},
			{Name: "b", Up: true, LastHeartbeat: heard, RTTSeconds: 0.0004, Kinds: []string{"worker"}},
			{Name: "a", Up: true, Self: true},
		},
		Traffic: ClusterTraffic{
			Sent: 10, Received: 7, SentBytes: 100, ReceivedBytes: 70,
			DeadLetters:         map[string]uint64{"node_down": 2, "codec": 1},
			HeartbeatRoundTrips: 4, HeartbeatRoundTripSeconds: 0.002,
			HeartbeatRTTBuckets: []RTTBucket{{UpperSeconds: 0.0005, Count: 3}, {UpperSeconds: 0.001, Count: 4}},
		},
		Placements: map[string]string{"placed": "c"},
	}}
}

func TestClusterInSnapshot(t *testing.T) {
	root, cl := clusterFixture(t)
	o, srv := newObserver(t, root, WithCluster(cl))

	snap := o.Snapshot()
	if snap.Cluster == nil {
		t.Fatal("no cluster in the snapshot")
	}
	var names []string
	for _, m := range snap.Cluster.Members {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, ","); got != "a,b,c" {
		t.Errorf("members %s, want self first then by name: a,b,c", got)
	}
	b := snap.Cluster.Members[1]
	if b.HeartbeatAgeSeconds < 1.5 || b.HeartbeatAgeSeconds > 60 {
		t.Errorf("b's heartbeat age %v s, want about 1.5 s", b.HeartbeatAgeSeconds)
	}
	if self := snap.Cluster.Members[0]; self.HeartbeatAgeSeconds != 0 {
		t.Errorf("self has a heartbeat age %v", self.HeartbeatAgeSeconds)
	}
	nodes := map[string]string{}
	for _, c := range snap.Root.Children {
		nodes[c.Name] = c.Node
	}
	if nodes["far"] != "b" || nodes["near"] != "" || nodes["placed"] != "c" {
		t.Errorf("child nodes %v, want far on b (Located), placed on c (Placements) and near local", nodes)
	}

	// The same over HTTP, as the live page reads it.
	_, _, doc := call(t, "GET", srv.URL+"/api/tree", "", "")
	c, ok := doc["cluster"].(map[string]any)
	if !ok {
		t.Fatalf("GET /api/tree has no cluster: %v", doc)
	}
	expectKeys(t, "cluster", c, "node", "members", "traffic")
	m := c["members"].([]any)[1].(map[string]any)
	expectKeys(t, "member", m, "name", "up", "last_heartbeat", "heartbeat_age_seconds", "rtt_seconds", "kinds")

	// The source's slice is not the snapshot's: filling in ages must not
	// write into the cluster's own state (a Cluster that hands out its
	// own slice, as staticCluster no longer does).
	shared := sharedCluster{cl.ClusterState()}
	o2, _ := newObserver(t, root, WithCluster(shared))
	_ = o2.Snapshot()
	if shared.st.Members[1].HeartbeatAgeSeconds != 0 {
		t.Error("the snapshot wrote into the source's members")
	}
}

// sharedCluster hands out its state as it is, slices included.
type sharedCluster struct{ st ClusterState }

func (c sharedCluster) ClusterState() ClusterState { return c.st }

func TestNoClusterByDefault(t *testing.T) {
	root, _ := clusterFixture(t)
	o, srv := newObserver(t, root)
	if o.Snapshot().Cluster != nil {
		t.Error("a cluster without WithCluster")
	}
	_, _, doc := call(t, "GET", srv.URL+"/api/tree", "", "")
	if _, ok := doc["cluster"]; ok {
		t.Error("GET /api/tree shows a cluster without WithCluster")
	}
	if n, err := testutil.GatherAndCount(o.gatherer, "airssys_remote_messages_sent_total"); err != nil || n != 0 {
		t.Errorf("remote series without a cluster: %d, %v", n, err)
	}
	if _, err := New(root, WithCluster(nil)); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("WithCluster(nil): %v, want ErrInvalidOption", err)
	}
}

func TestClusterMetrics(t *testing.T) {
	root, cl := clusterFixture(t)
	o, _ := newObserver(t, root, WithCluster(cl))
	lint(t, o.Collector())
	err := testutil.CollectAndCompare(o.Collector(), strings.NewReader(`
# HELP airssys_remote_dead_letters_total Remote messages this node could not deliver, by reason.
# TYPE airssys_remote_dead_letters_total counter
airssys_remote_dead_letters_total{reason="codec"} 1
airssys_remote_dead_letters_total{reason="node_down"} 2
# HELP airssys_remote_heartbeat_rtt_seconds Heartbeat round trips measured by this node to its peers.
# TYPE airssys_remote_heartbeat_rtt_seconds histogram
airssys_remote_heartbeat_rtt_seconds_bucket{le="0.0005"} 3
airssys_remote_heartbeat_rtt_seconds_bucket{le="0.001"} 4
airssys_remote_heartbeat_rtt_seconds_bucket{le="+Inf"} 4
airssys_remote_heartbeat_rtt_seconds_sum 0.002
airssys_remote_heartbeat_rtt_seconds_count 4
# HELP airssys_remote_messages_received_total Actor messages and replies this node received over NATS.
# TYPE airssys_remote_messages_received_total counter
airssys_remote_messages_received_total 7
# HELP airssys_remote_messages_sent_total Actor messages and replies this node sent over NATS.
# TYPE airssys_remote_messages_sent_total counter
airssys_remote_messages_sent_total 10
# HELP airssys_remote_sent_bytes_total Payload bytes of the messages this node sent over NATS.
# TYPE airssys_remote_sent_bytes_total counter
airssys_remote_sent_bytes_total 100
# HELP airssys_remote_received_bytes_total Payload bytes of the messages this node received over NATS.
# TYPE airssys_remote_received_bytes_total counter
airssys_remote_received_bytes_total 70
# HELP airssys_remote_node_rtt_seconds Latest heartbeat round trip to the member node.
# TYPE airssys_remote_node_rtt_seconds gauge
airssys_remote_node_rtt_seconds{node="b"} 0.0004
# HELP airssys_remote_node_up 1 if the member node is up as this node sees it, 0 if declared down.
# TYPE airssys_remote_node_up gauge
airssys_remote_node_up{node="b"} 1
airssys_remote_node_up{node="c"} 0
`), "airssys_remote_dead_letters_total", "airssys_remote_heartbeat_rtt_seconds",
		"airssys_remote_messages_received_total", "airssys_remote_messages_sent_total",
		"airssys_remote_node_rtt_seconds", "airssys_remote_node_up",
		"airssys_remote_sent_bytes_total", "airssys_remote_received_bytes_total")
	if err != nil {
		t.Error(err)
	}
	// Ages move with the clock: only their presence and order are fixed.
	if n := testutil.CollectAndCount(o.Collector(), "airssys_remote_node_heartbeat_age_seconds"); n != 2 {
		t.Errorf("%d heartbeat age series, want one per other member (2)", n)
	}

	// A member that appears later gets its series at the next scrape.
	cl.mu.Lock()
	cl.st.Members = append(cl.st.Members, Member{Name: "d", Up: true, LastHeartbeat: time.Now()})
	cl.mu.Unlock()
	if n := testutil.CollectAndCount(o.Collector(), "airssys_remote_node_up"); n != 3 {
		t.Errorf("%d node_up series after d joined, want 3", n)
	}
}

// TestBrowserCluster failed once under -race, the report naming an
// httptest goroutine: staticCluster returned its Members slice itself, so
// a snapshot under way (the page polls) read it while the test, holding
// the lock, marked b down in it. A Cluster must be safe for concurrent
// use; the fixture now hands out a copy. Without the copy -race reports
// this test every time: the snapshots race the write, with no socket in
// between to order them (in the browser test one usually did).
func TestRegressionStaticClusterIsSafeForConcurrentUse(t *testing.T) {
	root, cl := clusterFixture(t)
	o, _ := newObserver(t, root, WithCluster(cl))
	var taken atomic.Int64
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			_ = o.Snapshot()
			taken.Add(1)
		}
	}()
	for taken.Load() < 2 {
		runtime.Gosched()
	}
	cl.mu.Lock()
	cl.st.Members[1].Up = false // what TestBrowserCluster does
	cl.mu.Unlock()
	for n := taken.Load(); taken.Load() < n+2; {
		runtime.Gosched()
	}
	stop.Store(true)
	<-done
}
