package observe

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Cluster is what the observer shows of the cluster a tree belongs to: its
// members and the remote traffic of this node. *remote.Node implements it;
// pass it with WithCluster. ClusterState is called at each snapshot and each
// scrape, so it must be cheap and safe for concurrent use.
type Cluster interface {
	ClusterState() ClusterState
}

// Located is implemented by children that run on another node: a snapshot
// reports the node (ChildSnapshot.Node). Like Actor, it is found by duck
// typing on ChildInfo.Instance. Children whose instance does not say, such
// as the remote package's (a local actor that forwards), are placed by
// ClusterState.Placements instead.
type Located interface {
	Node() string
}

// ClusterState is a cluster as one of its nodes sees it, in GET /api/tree's
// "cluster" and in the airssys_remote_* metrics.
type ClusterState struct {
	// Node is the name of the node this observer runs on.
	Node string `json:"node"`
	// Members are the nodes this node knows of, itself included (Self),
	// up or down.
	Members []Member `json:"members"`
	// Traffic counts this node's remote messages since it started.
	Traffic ClusterTraffic `json:"traffic"`
	// Placements says on which node each running remote child of this
	// node runs, by child name; the snapshot shows it as the child's
	// Node. A child name is unique in its supervisor, not in the tree:
	// a local child named like a remote one elsewhere would show that
	// node too, so give remote children distinct names.
	Placements map[string]string `json:"-"`
}

// Member is one node of the cluster.
type Member struct {
	Name string `json:"name"`
	Up   bool   `json:"up"`
	// Self marks the node the observer runs on.
	Self bool `json:"self,omitempty"`
	// LastHeartbeat is when this node last heard from the member (zero
	// for Self, or for a member never heard from).
	LastHeartbeat time.Time `json:"last_heartbeat"`
	// HeartbeatAgeSeconds is how long ago that was, when the snapshot
	// was taken; the observer fills it in from LastHeartbeat. A member
	// whose age passes the heartbeat window is about to be declared down.
	HeartbeatAgeSeconds float64 `json:"heartbeat_age_seconds"`
	// RTTSeconds is the latest heartbeat round trip to the member (0 if
	// none measured yet).
	RTTSeconds float64 `json:"rtt_seconds"`
	// Kinds are the kinds of child the member registered: where Any()
	// placements may go.
	Kinds []string `json:"kinds,omitempty"`
}

// ClusterTraffic counts what crossed the network from and to this node.
type ClusterTraffic struct {
	// Sent and Received count actor messages (and replies) over NATS,
	// and SentBytes and ReceivedBytes their payloads.
	Sent          uint64 `json:"sent"`
	Received      uint64 `json:"received"`
	SentBytes     uint64 `json:"sent_bytes"`
	ReceivedBytes uint64 `json:"received_bytes"`
	// DeadLetters counts the messages this node could not deliver, by
	// reason ("node_down", "codec", "unknown_actor", "too_large", ...).
	DeadLetters map[string]uint64 `json:"dead_letters,omitempty"`
	// HeartbeatRoundTrips counts the heartbeat round trips measured, and
	// HeartbeatRoundTripSeconds is their sum: rate(sum)/rate(count) is
	// the mean round trip. HeartbeatRTTBuckets, when the source keeps
	// them, spread the same round trips over upper bounds (cumulative
	// counts, as Prometheus histograms are).
	HeartbeatRoundTrips       uint64      `json:"heartbeat_round_trips"`
	HeartbeatRoundTripSeconds float64     `json:"heartbeat_round_trip_seconds"`
	HeartbeatRTTBuckets       []RTTBucket `json:"heartbeat_rtt_buckets,omitempty"`
}

// RTTBucket is one bucket of a round-trip histogram: how many round trips
// took at most UpperSeconds.
type RTTBucket struct {
	UpperSeconds float64 `json:"le"`
	Count        uint64  `json:"count"`
}

// WithCluster shows the cluster that the observed tree's node belongs to:
// its members in GET /api/tree and on the live page, and the
// airssys_remote_* metrics in Collector (see the package documentation).
func WithCluster(c Cluster) Option {
	return func(cfg *config) {
		if c == nil {
			cfg.fail("nil cluster")
			return
		}
		cfg.cluster = c
	}
}

// clusterState reads c at now, with heartbeat ages filled in and members
// sorted by name (self first), or returns nil without a cluster.
func clusterState(c Cluster, now time.Time) *ClusterState {
	if c == nil {
		return nil
	}
	st := c.ClusterState()
	st.Members = slices.Clone(st.Members)
	for i := range st.Members {
		m := &st.Members[i]
		if !m.LastHeartbeat.IsZero() {
			m.HeartbeatAgeSeconds = max(0, now.Sub(m.LastHeartbeat).Seconds())
		}
	}
	slices.SortFunc(st.Members, func(a, b Member) int {
		if a.Self != b.Self {
			if a.Self {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
	if st.Members == nil {
		st.Members = []Member{}
	}
	return &st
}

var (
	descNodeUp = desc("airssys_remote_node_up",
		"1 if the member node is up as this node sees it, 0 if declared down.", "node")
	descNodeHeartbeatAge = desc("airssys_remote_node_heartbeat_age_seconds",
		"Time since this node last heard the member's heartbeat.", "node")
	descNodeRTT = desc("airssys_remote_node_rtt_seconds",
		"Latest heartbeat round trip to the member node.", "node")
	descRemoteSent = desc("airssys_remote_messages_sent_total",
		"Actor messages and replies this node sent over NATS.")
	descRemoteReceived = desc("airssys_remote_messages_received_total",
		"Actor messages and replies this node received over NATS.")
	descRemoteSentBytes = desc("airssys_remote_sent_bytes_total",
		"Payload bytes of the messages this node sent over NATS.")
	descRemoteReceivedBytes = desc("airssys_remote_received_bytes_total",
		"Payload bytes of the messages this node received over NATS.")
	descRemoteDead = desc("airssys_remote_dead_letters_total",
		"Remote messages this node could not deliver, by reason.", "reason")
	descHeartbeatRTT = desc("airssys_remote_heartbeat_rtt_seconds",
		"Heartbeat round trips measured by this node to its peers.")

	clusterDescs = []*prometheus.Desc{
		descNodeUp, descNodeHeartbeatAge, descNodeRTT, descRemoteSent, descRemoteReceived,
		descRemoteSentBytes, descRemoteReceivedBytes, descRemoteDead, descHeartbeatRTT,
	}
)

// collectCluster sends the airssys_remote_* series. The node label is
// bounded by the cluster's size, the reason label by the remote package's
// fixed set of reasons.
func collectCluster(ch chan<- prometheus.Metric, c Cluster) {
	st := clusterState(c, time.Now())
	if st == nil {
		return
	}
	for _, m := range st.Members {
		if m.Self {
			continue
		}
		up := 0.0
		if m.Up {
			up = 1
		}
		emit(ch, descNodeUp, prometheus.GaugeValue, up, m.Name)
		if !m.LastHeartbeat.IsZero() {
			emit(ch, descNodeHeartbeatAge, prometheus.GaugeValue, m.HeartbeatAgeSeconds, m.Name)
		}
		if m.RTTSeconds > 0 {
			emit(ch, descNodeRTT, prometheus.GaugeValue, m.RTTSeconds, m.Name)
		}
	}
	tr := st.Traffic
	emit(ch, descRemoteSent, prometheus.CounterValue, float64(tr.Sent))
	emit(ch, descRemoteReceived, prometheus.CounterValue, float64(tr.Received))
	emit(ch, descRemoteSentBytes, prometheus.CounterValue, float64(tr.SentBytes))
	emit(ch, descRemoteReceivedBytes, prometheus.CounterValue, float64(tr.ReceivedBytes))
	reasons := make([]string, 0, len(tr.DeadLetters))
	for r := range tr.DeadLetters {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		emit(ch, descRemoteDead, prometheus.CounterValue, float64(tr.DeadLetters[r]), r)
	}
	buckets := make(map[float64]uint64, len(tr.HeartbeatRTTBuckets))
	for _, b := range tr.HeartbeatRTTBuckets {
		buckets[b.UpperSeconds] = b.Count
	}
	m, err := prometheus.NewConstHistogram(descHeartbeatRTT, tr.HeartbeatRoundTrips, tr.HeartbeatRoundTripSeconds, buckets)
	if err != nil {
		m = prometheus.NewInvalidMetric(descHeartbeatRTT, fmt.Errorf("heartbeat round trips: %w", err))
	}
	ch <- m
}
