package benchmarks

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/internal/natstest"
	"github.com/airssys/rt/remote"
	"github.com/airssys/rt/supervisor"
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

	// actor.Ask from node a to an actor on node b, both connected over TCP
	// to the same server: the Ref is the one remote.Lookup returns, and the
	// Reply crosses back through NATS.
	b.Run(libAirsSys, func(b *testing.B) {
		noLeaks(b)
		srv := natsServer(b)
		na, _ := remoteNode(b, "a", srv.URL(0))
		nb, sysB := remoteNode(b, "b", srv.URL(0))
		echo, err := actor.SpawnIn(sysB, "echo", func() actor.Actor[Ping] {
			return actor.Func[Ping](func(_ *actor.Context[Ping], p Ping) error {
				p.Reply.Send(p.N)
				return nil
			})
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := remote.Expose(nb, echo, remote.JSON[Ping]{}); err != nil {
			b.Fatal(err)
		}
		waitUp(b, na, "", "b")
		ref := lookup[Ping](b, na, "b", "echo")
		ask := func(i int) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := actor.Ask(ctx, ref, func(r actor.Reply[Msg]) Ping { return Ping{N: Msg(i), Reply: r} })
			if err != nil || got != Msg(i) {
				b.Fatalf("ask %d: %v, %v", i, got, err)
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

	b.Run(libRaw+"-1conn", func(b *testing.B) {
		// As raw, but the four goroutines share one connection, as the
		// senders on one node share the node's: what the connection's
		// lock and single write buffer cost.
		noLeaks(b)
		srv := natsServer(b)
		rx, tx := natsConn(b, srv.URL(0)), natsConn(b, srv.URL(0))
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
		send := func(_ int, m Msg) {
			if err := tx.Publish("sink", payload(m)); err != nil {
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

	b.Run(libAirsSys, func(b *testing.B) {
		// Four goroutines on node a Send to the Ref remote.Lookup gives for
		// an actor on node b, with the default JSON codec. A message that
		// cannot be delivered would be a dead letter on one side or the
		// other: both are watched, so that a loss fails the benchmark
		// instead of hanging it.
		noLeaks(b)
		srv := natsServer(b)
		na, sysA := remoteNode(b, "a", srv.URL(0))
		nb, sysB := remoteNode(b, "b", srv.URL(0))
		var left, dead atomic.Int64
		done := make(chan struct{}, 1)
		settle := func() {
			if left.Add(-1) == 0 {
				done <- struct{}{}
			}
		}
		for _, sys := range []*actor.System{sysA, sysB} {
			b.Cleanup(sys.DeadLetters().Subscribe(func(actor.DeadLetter) {
				dead.Add(1)
				settle()
			}))
		}
		sink, err := actor.SpawnIn(sysB, "sink", func() actor.Actor[Msg] {
			return actor.Func[Msg](func(*actor.Context[Msg], Msg) error {
				settle()
				return nil
			})
		}, actor.WithMailbox(actor.Unbounded()))
		if err != nil {
			b.Fatal(err)
		}
		if err := remote.Expose(nb, sink, remote.JSON[Msg]{}); err != nil {
			b.Fatal(err)
		}
		waitUp(b, na, "", "b")
		ref := lookup[Msg](b, na, "b", "sink")
		send := func(_ int, m Msg) {
			if err := ref.Send(m); err != nil {
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
		if n := dead.Load(); n > 0 {
			b.Fatalf("%d dead letters", n)
		}
	})
}

// Ping is the request of the remote ping-pong: the JSON codec carries the
// Reply across, as actor.Ask does locally.
type Ping struct {
	N     Msg              `json:"n"`
	Reply actor.Reply[Msg] `json:"reply"`
}

// remoteNode starts a node called name on the NATS server at url, with its
// own System; both are closed when the benchmark ends.
func remoteNode(b *testing.B, name, url string, opts ...remote.Option) (*remote.Node, *actor.System) {
	b.Helper()
	sys := newSystem(b)
	opts = append([]remote.Option{remote.WithURL(url), remote.WithLogger(discard)}, opts...)
	n, err := remote.Start(context.Background(), name, sys, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			b.Errorf("closing node %s: %v", name, err)
		}
	})
	return n, sys
}

// waitUp waits until n sees every node of names up (and, with kind, offering
// it): membership travels with heartbeats.
func waitUp(b *testing.B, n *remote.Node, kind string, names ...string) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ready := 0
		for _, m := range n.Nodes() {
			if slices.Contains(names, m.Name) && (kind == "" || slices.Contains(m.Kinds, kind)) {
				ready++
			}
		}
		if ready == len(names) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("node %s sees %d of %v up after 10 s", n.Name(), ready, names)
		}
		time.Sleep(time.Millisecond)
	}
}

// lookup finds the actor name on node, retrying while the new node's
// subscription spreads.
func lookup[M any](b *testing.B, n *remote.Node, node, name string) actor.Ref[M] {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ref, err := remote.Lookup(ctx, n, node, name, remote.JSON[M]{})
	if err != nil {
		b.Fatal(err)
	}
	return ref
}

// BenchmarkRemoteRestart: a remote child crashes and its supervisor, on
// another node, restarts it there. One op is one crash; p50/p99 are from
// the send of the crashing message to the supervisor's restarted event
// (the new incarnation has started on its node by then: a remote start
// confirms before it returns).
func BenchmarkRemoteRestart(b *testing.B) {
	b.Run(libRaw, func(b *testing.B) {
		// The least a remote restart needs: ask another connection to
		// start a goroutine and say when it runs (one request/reply
		// round trip, one goroutine start).
		noLeaks(b)
		srv := natsServer(b)
		server, client := natsConn(b, srv.URL(0)), natsConn(b, srv.URL(0))
		sub, err := server.Subscribe("spawn", func(m *nats.Msg) {
			running := make(chan struct{})
			go func() { close(running) }()
			<-running
			_ = m.Respond(nil)
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = sub.Unsubscribe() })
		if err := server.Flush(); err != nil {
			b.Fatal(err)
		}
		spawn := func() {
			if _, err := client.Request("spawn", nil, 10*time.Second); err != nil {
				b.Fatal(err)
			}
		}
		for range remoteWarmup {
			spawn()
		}
		samples := make([]time.Duration, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			spawn()
			samples[i] = time.Since(t0)
		}
		b.StopTimer()
		reportLatencies(b, samples)
	})

	b.Run(libAirsSys, func(b *testing.B) {
		// Node a declares the child under its supervisor, placed On("b");
		// a crash message makes the remote incarnation fail, and a's
		// OneForOne starts a new one on b.
		noLeaks(b)
		srv := natsServer(b)
		na, _ := remoteNode(b, "a", srv.URL(0))
		nb, _ := remoteNode(b, "b", srv.URL(0))
		factory := func() actor.Actor[Msg] {
			return actor.Func[Msg](func(_ *actor.Context[Msg], m Msg) error {
				if m == crash {
					return errBenchCrash
				}
				return nil
			})
		}
		for _, n := range []*remote.Node{na, nb} {
			if err := remote.Register(n, "crasher", factory, remote.JSON[Msg]{}); err != nil {
				b.Fatal(err)
			}
		}
		waitUp(b, na, "crasher", "b")
		restarted := make(chan time.Time, 1)
		sup := supervisor.New("remote-restart", supervisor.OneForOne, supervisor.Permanent,
			supervisor.WithLogger(discard), supervisor.WithIntensity(1<<30, time.Second),
			supervisor.WithEventHandler(func(e supervisor.Event) {
				if e.Kind == supervisor.EventChildRestarted {
					restarted <- e.Time
				}
			}))
		if err := sup.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = sup.Stop() })
		ref, err := remote.Spawn[Msg](sup, na, "crasher-1", "crasher", remote.On("b"))
		if err != nil {
			b.Fatal(err)
		}
		crashOnce := func() time.Duration {
			t0 := time.Now()
			if err := ref.Send(crash); err != nil {
				b.Fatal(err)
			}
			select {
			case at := <-restarted:
				return at.Sub(t0)
			case <-time.After(10 * time.Second):
				b.Fatal("no restart within 10 s")
				return 0
			}
		}
		for range 100 {
			crashOnce()
		}
		samples := make([]time.Duration, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			samples[i] = crashOnce()
		}
		b.StopTimer()
		reportLatencies(b, samples)
	})
}

var errBenchCrash = errors.New("crash")

// BenchmarkRemoteNodeDown: a node dies without a word (its NATS connection
// is cut, as when its process is killed) and another node declares it down
// from the heartbeats it misses, at the defaults (250 ms x 4). One op is
// one death; ms/op is from the cut to NodeDown. There is no raw baseline:
// NATS itself tells nobody that a client died (see BENCHMARKS.md).
func BenchmarkRemoteNodeDown(b *testing.B) {
	b.Run(libAirsSys, func(b *testing.B) {
		noLeaks(b)
		srv := natsServer(b)
		watcher, _ := remoteNode(b, "watcher", srv.URL(0))
		downs := make(chan remote.NodeEvent, 16)
		b.Cleanup(watcher.Subscribe(func(e remote.NodeEvent) {
			if e.Kind == remote.NodeDown {
				downs <- e
			}
		}))
		samples := make([]time.Duration, b.N)
		b.ResetTimer()
		for i := range b.N {
			b.StopTimer()
			name := "victim-" + itoa(i)
			victim, _ := remoteNode(b, name, srv.URL(0))
			waitUp(b, watcher, "", name)
			b.StartTimer()
			t0 := time.Now()
			victim.Conn().Close() // what SIGKILL does to its connection
			var ev remote.NodeEvent
			for ev.Node != name {
				select {
				case ev = <-downs:
				case <-time.After(10 * time.Second):
					b.Fatalf("%s not declared down within 10 s", name)
				}
			}
			samples[i] = ev.Time.Sub(t0)
		}
		b.StopTimer()
		slices.Sort(samples)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
		b.ReportMetric(ms(samples[len(samples)/2]), "p50-ms")
		b.ReportMetric(ms(samples[len(samples)-1]), "max-ms")
	})
}
