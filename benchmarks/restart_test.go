package benchmarks

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/supervisor"
	proto "github.com/asynkron/protoactor-go/actor"
	"github.com/thejerf/suture/v4"
)

// restartWarmup is how many crashes and restarts each library goes through
// before the timer starts.
const restartWarmup = 200

var errCrash = errors.New("crash")

// How a worker fails in the restart workloads. A Go program's bugs panic,
// and an actor or service may also fail by returning an error: the two cost
// different amounts (a panic unwinds and its recover may capture a stack),
// so every restart workload runs in both forms, as sub-benchmarks
// crash=error and crash=panic, for every library that supports the form.
// protoactor-go's Receive returns nothing: its actors fail only by
// panicking, so it has no crash=error form.
const (
	crashError = "crash=error"
	crashPanic = "crash=panic"
)

// crashModes lists the forms; fail is how a worker of that form fails.
var crashModes = []struct {
	name string
	fail func() error
}{
	{crashError, func() error { return errCrash }},
	{crashPanic, func() error { panic(errCrash) }},
}

// recovered runs fn and turns a panic into an error, as a hand-written
// supervising goroutine would.
func recovered(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = errCrash
		}
	}()
	return fn()
}

// BenchmarkActorRestart: an actor fails on the message crash and its
// supervisor restarts it; the next message in its mailbox is handled by the
// fresh incarnation. One op is one crash; p50-µs and p99-µs are the latency
// from sending the crashing message to the next message being handled.
// Each library restarts without limit (no intensity cut-off, no backoff)
// and with its logging discarded. Sub-benchmarks crash=error and
// crash=panic say how the actor fails.
func BenchmarkActorRestart(b *testing.B) {
	// measure crashes the actor n times and returns the latencies;
	// crashAndNext sends crash then an ordinary message, and handled
	// yields when the ordinary one was handled.
	measure := func(n int, crashAndNext func(), handled <-chan time.Time) []time.Duration {
		lat := make([]time.Duration, 0, n)
		for range n {
			start := time.Now()
			crashAndNext()
			lat = append(lat, (<-handled).Sub(start))
		}
		return lat
	}
	run := func(b *testing.B, crashAndNext func(), handled <-chan time.Time) {
		measure(restartWarmup, crashAndNext, handled)
		b.ReportAllocs()
		b.ResetTimer()
		lat := measure(b.N, crashAndNext, handled)
		b.StopTimer()
		reportLatencies(b, lat)
	}

	for _, mode := range crashModes {
		b.Run(mode.name, func(b *testing.B) {
			b.Run(libRaw, func(b *testing.B) {
				// A worker goroutine reads a channel (the mailbox, which
				// outlives it) and fails on crash (recovering its own
				// panic, as a supervising goroutine must); a supervising
				// goroutine starts a new worker each time one fails.
				noLeaks(b)
				in := make(chan Msg, 2)
				handled := make(chan time.Time, 1)
				exited := make(chan error)
				worker := func() {
					exited <- recovered(func() error {
						for m := range in {
							if m == crash {
								return mode.fail()
							}
							handled <- time.Now()
						}
						return nil
					})
				}
				supervised := make(chan struct{})
				go func() {
					defer close(supervised)
					go worker()
					for err := range exited {
						if err == nil {
							return
						}
						go worker()
					}
				}()
				run(b, func() { in <- crash; in <- 0 }, handled)
				close(in)
				<-supervised
			})

			b.Run(libAirsSys, func(b *testing.B) {
				noLeaks(b)
				sys := newSystem(b, supervisor.WithIntensity(1<<30, time.Millisecond))
				handled := make(chan time.Time, 1)
				ref, err := actor.SpawnIn(sys, "crashy", func() actor.Actor[Msg] {
					return actor.Func[Msg](func(_ *actor.Context[Msg], m Msg) error {
						if m == crash {
							return mode.fail()
						}
						handled <- time.Now()
						return nil
					})
				}, actor.WithMailbox(actor.Unbounded()))
				if err != nil {
					b.Fatal(err)
				}
				run(b, func() { _ = ref.Send(crash); _ = ref.Send(0) }, handled)
			})

			if mode.name != crashPanic {
				return // protoactor-go's actors can only panic
			}
			b.Run(libProtoActor, func(b *testing.B) {
				// The crashing actor is the child of a parent actor whose
				// strategy always restarts (OneForOne with a retry limit
				// keeps every failure time and scans them all on each
				// failure, so it would slow down as the benchmark goes on).
				noLeaks(b)
				sys := newProtoSystem(b)
				handled := make(chan time.Time, 1)
				child := proto.PropsFromFunc(func(ctx proto.Context) {
					if m, ok := ctx.Message().(Msg); ok {
						if m == crash {
							_ = mode.fail()
						}
						handled <- time.Now()
					}
				}, proto.WithMailbox(proto.Unbounded()))
				pids := make(chan *proto.PID, 1)
				parent := sys.Root.Spawn(proto.PropsFromFunc(func(ctx proto.Context) {
					if _, ok := ctx.Message().(*proto.Started); ok {
						pids <- ctx.Spawn(child)
					}
				}, proto.WithSupervisor(proto.NewRestartingStrategy())))
				pid := <-pids
				run(b, func() { sys.Root.Send(pid, crash); sys.Root.Send(pid, Msg(0)) }, handled)
				protoStop(b, sys, parent)
			})
		})
	}
}

// restartee serves until told to fail, announcing each incarnation; fail
// is how it fails (returning an error or panicking).
type restartee struct {
	ready chan<- time.Time
	fail  <-chan struct{}
	crash func() error
}

func (r restartee) Serve(ctx context.Context) error {
	r.ready <- time.Now()
	select {
	case <-r.fail:
		return r.crash()
	case <-ctx.Done():
		return nil
	}
}

// BenchmarkSupervisorRestart: a supervisor's plain child (a goroutine per
// incarnation, no actor) fails and is restarted. One op is one failure;
// p50-µs and p99-µs are the latency from telling the child to fail to its
// next incarnation running. Each supervisor restarts without limit and
// without backoff, with its logging discarded. Sub-benchmarks crash=error
// and crash=panic say how the child fails (suture recovers panics in
// Serve, as we do).
func BenchmarkSupervisorRestart(b *testing.B) {
	run := func(b *testing.B, ready <-chan time.Time, fail chan<- struct{}) {
		<-ready // the first incarnation
		measure := func(n int) []time.Duration {
			lat := make([]time.Duration, 0, n)
			for range n {
				start := time.Now()
				fail <- struct{}{}
				lat = append(lat, (<-ready).Sub(start))
			}
			return lat
		}
		measure(restartWarmup)
		b.ReportAllocs()
		b.ResetTimer()
		lat := measure(b.N)
		b.StopTimer()
		reportLatencies(b, lat)
	}

	for _, mode := range crashModes {
		b.Run(mode.name, func(b *testing.B) {
			b.Run(libRaw, func(b *testing.B) {
				// A supervising goroutine that starts a goroutine per
				// incarnation (recovering its panic) and starts another
				// when one fails.
				noLeaks(b)
				ready, fail := make(chan time.Time), make(chan struct{})
				child := restartee{ready: ready, fail: fail, crash: mode.fail}
				ctx, cancel := context.WithCancel(context.Background())
				exited := make(chan error)
				supervised := make(chan struct{})
				go func() {
					defer close(supervised)
					for {
						go func() { exited <- recovered(func() error { return child.Serve(ctx) }) }()
						if err := <-exited; err == nil {
							return
						}
					}
				}()
				run(b, ready, fail)
				cancel()
				<-supervised
			})

			b.Run(libAirsSys, func(b *testing.B) {
				noLeaks(b)
				ready, fail := make(chan time.Time), make(chan struct{})
				sup := supervisor.New("bench", supervisor.OneForOne, supervisor.Permanent,
					supervisor.WithIntensity(1<<30, time.Millisecond), supervisor.WithLogger(discard))
				if err := sup.SpawnChild("child", restartee{ready: ready, fail: fail, crash: mode.fail}); err != nil {
					b.Fatal(err)
				}
				if err := sup.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				run(b, ready, fail)
				if err := sup.Stop(); err != nil {
					b.Error(err)
				}
			})

			b.Run(libSuture, func(b *testing.B) {
				noLeaks(b)
				ready, fail := make(chan time.Time), make(chan struct{})
				sup := suture.New("bench", suture.Spec{
					EventHook:        func(suture.Event) {},
					FailureThreshold: math.MaxFloat64, // never back off
				})
				sup.Add(restartee{ready: ready, fail: fail, crash: mode.fail})
				ctx, cancel := context.WithCancel(context.Background())
				errs := sup.ServeBackground(ctx)
				run(b, ready, fail)
				cancel()
				if err := <-errs; err != nil && !errors.Is(err, context.Canceled) {
					b.Error(err)
				}
			})
		})
	}
}
