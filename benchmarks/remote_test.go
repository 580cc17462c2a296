package benchmarks

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/airssys/rt/internal/natstest"
)

// The remote workloads (issue 8) run over TCP loopback to a NATS server
// started in the benchmark's process. Their lib=raw is nats.go used by hand,
// the least a Go program can do over NATS for the same effect; lib=airssys
// is the remote package on the same server.

const (
	// remoteWarmup is how many round trips or messages each library makes
	// before the timer starts: connections, subscriptions and the
	// server's routing caches are warm by then.
	remoteWarmup = 1_000
	// remoteFanInSenders is how many senders, each with a connection (raw)
	// or on one node (airssys), send to the one receiver.
	remoteFanInSenders = 4
)

// natsServer starts one NATS server listening on a random loopback port,
// stopped when the benchmark ends.
func natsServer(b *testing.B) *natstest.Cluster {
	b.Helper()
	return natstest.Start(b, 1)
}

// natsConn connects to url over TCP, closed when the benchmark ends.
func natsConn(b *testing.B, url string) *nats.Conn {
	b.Helper()
	nc, err := nats.Connect(url, nats.NoReconnect())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	return nc
}

// payload is a message as the default JSON codec would write a Msg: the
// number's digits.
func payload(m Msg) []byte { return strconv.AppendInt(nil, int64(m), 10) }

// BenchmarkRemotePingPong: one request and its reply between two
// connections (raw) or nodes (airssys) over TCP loopback, one in flight at a
// time. One op is one round trip; p50/p99 are per round trip.
func BenchmarkRemotePingPong(b *testing.B) {
	b.Run(libRaw, func(b *testing.B) {
		// nats.go's Request against a subscriber that echoes: the
		// request/reply every NATS user starts with.
		noLeaks(b)
		srv := natsServer(b)
		server, client := natsConn(b, srv.URL(0)), natsConn(b, srv.URL(0))
		sub, err := server.Subscribe("echo", func(m *nats.Msg) { _ = m.Respond(m.Data) })
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = sub.Unsubscribe() })
		if err := server.Flush(); err != nil {
			b.Fatal(err)
		}
		ask := func(i int) {
			if _, err := client.Request("echo", payload(Msg(i)), 10*time.Second); err != nil {
				b.Fatal(err)
			}
		}
		for i := range remoteWarmup {
			ask(i)
		}
		samples := make([]time.Duration, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			ask(i)
			samples[i] = time.Since(t0)
		}
		b.StopTimer()
		reportLatencies(b, samples)
	})
}

// BenchmarkRemoteFanIn: remoteFanInSenders senders send b.N messages in all
// to one receiver on another connection (raw) or node (airssys), which
// counts them. One op is one message; Mmsg/s is the throughput from the
// first send to the last message received.
func BenchmarkRemoteFanIn(b *testing.B) {
	// run starts the senders, each calling send for its share of n
	// messages, and waits for the receiver to signal done.
	run := func(n int, send func(sender int, m Msg), done <-chan struct{}) time.Duration {
		start := time.Now()
		for p := range remoteFanInSenders {
			share := n / remoteFanInSenders
			if p < n%remoteFanInSenders {
				share++
			}
			go func() {
				for i := range share {
					send(p, Msg(i))
				}
			}()
		}
		<-done
		return time.Since(start)
	}
	report := func(b *testing.B, elapsed time.Duration) {
		b.ReportMetric(float64(b.N)/elapsed.Seconds()/1e6, "Mmsg/s")
	}

	b.Run(libRaw, func(b *testing.B) {
		// Four connections publish to a subject one connection subscribes
		// to. The subscriber's pending limits are lifted so that nats.go
		// never drops a message for being behind (it would count a slow
		// consumer): the benchmark then measures delivery, not loss.
		noLeaks(b)
		srv := natsServer(b)
		rx := natsConn(b, srv.URL(0))
		var left atomic.Int64
		done := make(chan struct{})
		sub, err := rx.Subscribe("sink", func(*nats.Msg) {
			if left.Add(-1) == 0 {
				done <- struct{}{}
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = sub.Unsubscribe() })
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			b.Fatal(err)
		}
		if err := rx.Flush(); err != nil {
			b.Fatal(err)
		}
		txs := make([]*nats.Conn, remoteFanInSenders)
		for i := range txs {
			txs[i] = natsConn(b, srv.URL(0))
		}
		send := func(p int, m Msg) {
			if err := txs[p].Publish("sink", payload(m)); err != nil {
				b.Error(err)
			}
		}
		left.Store(remoteWarmup)
		run(remoteWarmup, send, done)
		b.ReportAllocs()
		b.ResetTimer()
		left.Store(int64(b.N))
		elapsed := run(b.N, send, done)
		b.StopTimer()
		report(b, elapsed)
		if d, _ := sub.Dropped(); d > 0 {
			b.Fatalf("the subscriber dropped %d messages", d)
		}
	})
}
