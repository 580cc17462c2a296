package remote

import "github.com/airssys/rt/observe"

// ClusterState implements observe.Cluster: pass the node to
// observe.WithCluster and the observer's tree, live page and metrics show
// the cluster's members (up or down, heartbeat age, round trip) and this
// node's remote traffic.
func (n *Node) ClusterState() observe.ClusterState {
	m := n.Metrics()
	st := observe.ClusterState{
		Node: n.name,
		Traffic: observe.ClusterTraffic{
			Sent: m.Sent, Received: m.Received, SentBytes: m.SentBytes, ReceivedBytes: m.ReceivedBytes,
			DeadLetters:               m.DeadLetters,
			HeartbeatRoundTrips:       m.HeartbeatRTT.Count,
			HeartbeatRoundTripSeconds: m.HeartbeatRTT.Sum.Seconds(),
		},
	}
	for i, b := range m.HeartbeatRTT.Bounds {
		st.Traffic.HeartbeatRTTBuckets = append(st.Traffic.HeartbeatRTTBuckets,
			observe.RTTBucket{UpperSeconds: b.Seconds(), Count: m.HeartbeatRTT.Buckets[i]})
	}
	st.Placements = map[string]string{}
	for _, c := range n.Children() {
		st.Placements[c.Name] = c.Node
	}
	st.Members = append(st.Members, observe.Member{Name: n.name, Up: !n.closing.Load(), Self: true, Kinds: n.kindNames()})
	for _, mi := range m.Members {
		st.Members = append(st.Members, observe.Member{
			Name: mi.Name, Up: mi.Up, LastHeartbeat: mi.LastHeartbeat,
			RTTSeconds: mi.RTT.Seconds(), Kinds: mi.Kinds,
		})
	}
	return st
}

var _ observe.Cluster = (*Node)(nil)

// Node reports where this incarnation of a remote child runs (observe's
// Located, through the actor package).
func (f *forwarder[M]) Node() string { return f.node }

func (n *Node) kindNames() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.kinds))
	for k := range n.kinds {
		out = append(out, k)
	}
	return out
}
