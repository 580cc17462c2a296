package remote

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// stats are the node's counters: atomics, so that counting costs the hot
// paths one add.
type stats struct {
	sent, received                      atomic.Uint64
	sentBytes, receivedBytes            atomic.Uint64
	heartbeatsSent, heartbeatsReceived  atomic.Uint64
	pingFailures, fenced                atomic.Uint64
	orphansStopped                      atomic.Uint64
	remoteRestarts                      atomic.Uint64
	rttCount, rttSumNanos, rttLastNanos atomic.Uint64

	mu   sync.Mutex
	dead map[string]uint64 // by reason
	rtt  [12]uint64        // len(rttBuckets)+1
}

// rttBuckets are the upper bounds of the heartbeat round-trip histogram.
var rttBuckets = []time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
}

func (s *stats) init() { s.dead = map[string]uint64{} }

// countSent counts a message as sent before it goes: its answer may arrive,
// and someone read the counters, before Publish returns.
func (s *stats) countSent(bytes int) {
	s.sent.Add(1)
	s.sentBytes.Add(uint64(bytes))
}

// uncountSent takes back a countSent whose Publish failed.
func (s *stats) uncountSent(bytes int) {
	s.sent.Add(^uint64(0))
	s.sentBytes.Add(^uint64(bytes - 1))
}

// deadLetter counts a dead letter this node recorded, by reason.
func (s *stats) deadLetter(reason string) {
	s.mu.Lock()
	s.dead[reason]++
	s.mu.Unlock()
}

func (s *stats) observeRTT(d time.Duration) {
	s.rttCount.Add(1)
	s.rttSumNanos.Add(uint64(d))
	s.rttLastNanos.Store(uint64(d))
	i := sort.Search(len(rttBuckets), func(i int) bool { return d <= rttBuckets[i] })
	s.mu.Lock()
	s.rtt[i]++
	s.mu.Unlock()
}

// Metrics is a snapshot of a node's counters, shaped for Prometheus:
// every field is a counter (monotonic) except where noted. The observe
// package and examples/cluster export them.
type Metrics struct {
	Node               string
	Sent               uint64            // messages this node sent to actors on other nodes (and its own, through NATS)
	Received           uint64            // messages delivered to local actors from the network
	SentBytes          uint64            // payload bytes of Sent
	ReceivedBytes      uint64            // payload bytes of Received
	DeadLetters        map[string]uint64 // dead letters this node recorded, by reason (see the package doc)
	HeartbeatsSent     uint64
	HeartbeatsReceived uint64
	PingFailures       uint64 // round-trip probes that got no answer in an interval
	Fenced             uint64 // hosted children stopped because their owner went down
	OrphansStopped     uint64 // incarnations elsewhere this node no longer wanted, told to stop
	RemoteRestarts     uint64 // remote children of this node started again after an exit
	// HeartbeatRTT is a histogram of round trips to peers: Buckets[i]
	// counts those at most RTTBuckets[i] (cumulative, as Prometheus
	// wants), Count all of them, Sum their total.
	HeartbeatRTT RTTHistogram
	Members      []NodeInfo // gauges: the cluster as this node sees it
}

// RTTHistogram is a cumulative histogram of round-trip times.
type RTTHistogram struct {
	Bounds  []time.Duration
	Buckets []uint64
	Count   uint64
	Sum     time.Duration
}

// Metrics returns a snapshot of the node's counters.
func (n *Node) Metrics() Metrics {
	s := &n.stats
	m := Metrics{
		Node: n.name, Sent: s.sent.Load(), Received: s.received.Load(),
		SentBytes: s.sentBytes.Load(), ReceivedBytes: s.receivedBytes.Load(),
		HeartbeatsSent: s.heartbeatsSent.Load(), HeartbeatsReceived: s.heartbeatsReceived.Load(),
		PingFailures: s.pingFailures.Load(), Fenced: s.fenced.Load(), OrphansStopped: s.orphansStopped.Load(), RemoteRestarts: s.remoteRestarts.Load(),
		DeadLetters: map[string]uint64{},
	}
	s.mu.Lock()
	for k, v := range s.dead {
		m.DeadLetters[k] = v
	}
	h := RTTHistogram{Bounds: append([]time.Duration(nil), rttBuckets...), Buckets: make([]uint64, len(rttBuckets))}
	var cum uint64
	for i := range rttBuckets {
		cum += s.rtt[i]
		h.Buckets[i] = cum
	}
	s.mu.Unlock()
	h.Count = s.rttCount.Load()
	h.Sum = time.Duration(s.rttSumNanos.Load())
	m.HeartbeatRTT = h
	m.Members = n.Members()
	return m
}
