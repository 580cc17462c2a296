package benchmarks

import (
	"slices"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	proto "github.com/asynkron/protoactor-go/actor"
)

// pingPongWarmup is how many round trips each library makes before the
// timer starts.
const pingPongWarmup = 10_000

// BenchmarkPingPong: two actors pass a counter back and forth, one message
// in flight at any time. One op is one round trip (ping -> pong -> ping).
// The size is 1M round trips: -benchtime 1000000x.
func BenchmarkPingPong(b *testing.B) {
	b.Run(libRaw, func(b *testing.B) {
		// Two goroutines, each reading its own channel; a buffer of one
		// makes a send asynchronous, as a send to a mailbox is.
		noLeaks(b)
		ping, done, stop := rawPingPong()
		defer stop()
		ping <- pingPongWarmup
		<-done
		b.ReportAllocs()
		b.ResetTimer()
		ping <- Msg(b.N)
		<-done
	})

	b.Run(libAirsSys, func(b *testing.B) {
		noLeaks(b)
		ping, done := airssysPingPong(b)
		_ = ping.Send(pingPongWarmup)
		<-done
		b.ReportAllocs()
		b.ResetTimer()
		_ = ping.Send(Msg(b.N))
		<-done
		b.StopTimer()
	})

	b.Run(libProtoActor, func(b *testing.B) {
		noLeaks(b)
		sys := newProtoSystem(b)
		done := make(chan struct{})
		var pong *proto.PID
		ping := sys.Root.Spawn(proto.PropsFromFunc(func(ctx proto.Context) {
			if n, ok := ctx.Message().(Msg); ok {
				if n == 0 {
					done <- struct{}{}
					return
				}
				ctx.Send(pong, n-1)
			}
		}, proto.WithMailbox(proto.Unbounded())))
		pong = sys.Root.Spawn(proto.PropsFromFunc(func(ctx proto.Context) {
			if n, ok := ctx.Message().(Msg); ok {
				ctx.Send(ping, n)
			}
		}, proto.WithMailbox(proto.Unbounded())))
		sys.Root.Send(ping, Msg(pingPongWarmup))
		<-done
		b.ReportAllocs()
		b.ResetTimer()
		sys.Root.Send(ping, Msg(b.N))
		<-done
		b.StopTimer()
		protoStop(b, sys, ping, pong)
	})
}

// pairedChunk is how many round trips each side of BenchmarkPingPongPaired
// makes before the other side takes its turn.
const pairedChunk = 10_000

// BenchmarkPingPongPaired is BenchmarkPingPong's raw and airssys pairs in
// one process, taking turns in chunks of pairedChunk round trips, raw
// first. On a shared machine the load changes from one second to the next:
// two runs, or two sub-benchmarks seconds apart, can differ by 2x while a
// chunk and the next see the same machine. So it reports, beside
// airssys's time per round trip (ns/op; raw's chunks are not timed) and
// raw's (raw-ns/op), the median over chunk pairs of airssys's time divided
// by raw's just before (x-raw): the number to compare across trees.
// Not in run.sh's suite, whose table wants one result per library.
func BenchmarkPingPongPaired(b *testing.B) {
	noLeaks(b)
	rawPing, rawDone, stop := rawPingPong()
	defer stop()
	ping, done := airssysPingPong(b)
	rawPing <- pingPongWarmup
	<-rawDone
	_ = ping.Send(pingPongWarmup)
	<-done

	var ratios []float64
	var rawTotal time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for left := b.N; left > 0; {
		n := min(left, pairedChunk)
		left -= n
		b.StopTimer()
		start := time.Now()
		rawPing <- Msg(n)
		<-rawDone
		raw := time.Since(start)
		rawTotal += raw
		b.StartTimer()
		start = time.Now()
		_ = ping.Send(Msg(n))
		<-done
		ratios = append(ratios, float64(time.Since(start))/float64(raw))
	}
	b.StopTimer()
	slices.Sort(ratios)
	b.ReportMetric(float64(rawTotal.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(ratios[len(ratios)/2], "x-raw")
}

// rawPingPong starts two goroutines that bounce a count over two channels:
// a count n sent to ping comes back on done after n round trips. stop
// ends both goroutines.
func rawPingPong() (ping chan<- Msg, done <-chan struct{}, stop func()) {
	pi, po := make(chan Msg, 1), make(chan Msg, 1)
	d := make(chan struct{})
	go func() {
		for n := range pi {
			if n == 0 {
				d <- struct{}{}
				continue
			}
			po <- n - 1
		}
	}()
	go func() {
		for n := range po {
			pi <- n
		}
	}()
	return pi, d, func() { close(pi); close(po) }
}

// airssysPingPong spawns the same two players as actors with unbounded
// mailboxes on a System of their own, which b's cleanup shuts down.
func airssysPingPong(b *testing.B) (ping actor.Ref[Msg], done <-chan struct{}) {
	sys := newSystem(b)
	d := make(chan struct{})
	var pong actor.Ref[Msg]
	ping, err := actor.SpawnIn(sys, "ping", func() actor.Actor[Msg] {
		return actor.Func[Msg](func(_ *actor.Context[Msg], n Msg) error {
			if n == 0 {
				d <- struct{}{}
				return nil
			}
			return pong.Send(n - 1)
		})
	}, actor.WithMailbox(actor.Unbounded()))
	if err != nil {
		b.Fatal(err)
	}
	pong, err = actor.SpawnIn(sys, "pong", func() actor.Actor[Msg] {
		return actor.Func[Msg](func(_ *actor.Context[Msg], n Msg) error {
			return ping.Send(n)
		})
	}, actor.WithMailbox(actor.Unbounded()))
	if err != nil {
		b.Fatal(err)
	}
	return ping, d
}
