package benchmarks

import (
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	proto "github.com/asynkron/protoactor-go/actor"
)

const (
	// fanInProducers is how many goroutines send to the one consumer.
	fanInProducers = 4
	// fanInWarmup is how many messages each library takes before the
	// timer starts.
	fanInWarmup = 100_000
	// rawFanInBuffer is the raw baseline's channel capacity, and the
	// airssys row's mailbox capacity.
	rawFanInBuffer = 1024
	// libAirsSysUnbounded is the fan-in's informational row: airssys
	// with its default, Unbounded, mailbox.
	libAirsSysUnbounded = "lib=airssys-unbounded"
)

// BenchmarkFanIn: fanInProducers goroutines send b.N messages in all to one
// consumer, which counts them. One op is one message; Mmsg/s is the
// throughput from the first send to the last message handled, and
// cpu-ns/op the CPU time the process used meanwhile per message (all
// goroutines, the runtime's included): on a shared machine the first
// depends on how much processor time the run got, the second much less.
//
// The airssys row is the equal-work form: the actor's mailbox is
// Bounded(rawFanInBuffer, Block), whose senders wait while it is full, as
// the raw baseline's do on its full channel; the bar is judged on it. The
// airssys-unbounded row, informational, is the default Unbounded mailbox,
// whose Send never waits: its four senders stay runnable, take both
// processors from the actor and grow a backlog of millions, which is more
// work than the baseline does (see BENCHMARKS.md, "Fan-in").
func BenchmarkFanIn(b *testing.B) {
	measure := fanInRunner()
	b.Run(libRaw, func(b *testing.B) {
		// A buffered channel: the consumer a Go programmer would write.
		noLeaks(b)
		ch := make(chan Msg, rawFanInBuffer)
		expect := make(chan int)
		done := make(chan struct{})
		go func() {
			for n := range expect {
				for range n {
					<-ch
				}
				done <- struct{}{}
			}
		}()
		defer close(expect)
		measure(b, func(n int) { expect <- n }, func(m Msg) { ch <- m }, done)
	})

	b.Run(libAirsSys, func(b *testing.B) {
		benchActorFanIn(b, actor.Bounded(rawFanInBuffer, actor.Block), measure)
	})

	b.Run(libAirsSysUnbounded, func(b *testing.B) {
		benchActorFanIn(b, actor.Unbounded(), measure)
	})

	b.Run(libProtoActor, func(b *testing.B) {
		noLeaks(b)
		sys := newProtoSystem(b)
		done := make(chan struct{})
		left := 0
		sink := sys.Root.Spawn(proto.PropsFromFunc(func(ctx proto.Context) {
			if _, ok := ctx.Message().(Msg); ok {
				if left--; left == 0 {
					done <- struct{}{}
				}
			}
		}, proto.WithMailbox(proto.Unbounded())))
		measure(b, func(n int) { left = n }, func(m Msg) { sys.Root.Send(sink, m) }, done)
		protoStop(b, sys, sink)
	})
}

// fanInMeasure runs a warm-up and then the timed fan-in of b.N messages
// into a consumer: expect(n) tells the consumer how many messages come
// next, send is the producers' send, and done signals that the consumer
// has had them all.
type fanInMeasure func(b *testing.B, expect func(n int), send func(Msg), done <-chan struct{})

// fanInRunner returns the fan-in's measure: each run starts the producers,
// each calling send for its share of the messages, and waits for done;
// the timed run reports its throughput and CPU time per message.
func fanInRunner() fanInMeasure {
	var cpu int64 // CPU time of the last run
	run := func(n int, send func(Msg), done <-chan struct{}) time.Duration {
		cpu0 := cpuTime()
		defer func() { cpu = cpuTime() - cpu0 }()
		start := time.Now()
		for p := range fanInProducers {
			share := n / fanInProducers
			if p < n%fanInProducers {
				share++
			}
			go func() {
				for i := range share {
					send(Msg(i))
				}
			}()
		}
		<-done
		return time.Since(start)
	}
	return func(b *testing.B, expect func(n int), send func(Msg), done <-chan struct{}) {
		expect(fanInWarmup)
		run(fanInWarmup, send, done)
		b.ReportAllocs()
		b.ResetTimer()
		expect(b.N)
		elapsed := run(b.N, send, done)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds()/1e6, "Mmsg/s")
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	}
}

// benchActorFanIn is the fan-in into one actor with mailbox mb.
func benchActorFanIn(b *testing.B, mb actor.Mailbox, measure fanInMeasure) {
	noLeaks(b)
	sys := newSystem(b)
	done := make(chan struct{})
	left := 0 // set before each run's first send, read by the actor
	sink, err := actor.SpawnIn(sys, "sink", func() actor.Actor[Msg] {
		return actor.Func[Msg](func(*actor.Context[Msg], Msg) error {
			if left--; left == 0 {
				done <- struct{}{}
			}
			return nil
		})
	}, actor.WithMailbox(mb))
	if err != nil {
		b.Fatal(err)
	}
	measure(b, func(n int) { left = n }, func(m Msg) { _ = sink.Send(m) }, done)
}
