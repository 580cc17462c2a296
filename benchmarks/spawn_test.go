package benchmarks

import (
	"runtime"
	"sync"
	"testing"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/supervisor"
	proto "github.com/asynkron/protoactor-go/actor"
)

// spawnWarmup is how many actors each library spawns, messages and stops
// before the timer starts.
const spawnWarmup = 1_000

// oneShot handles one message by stopping itself; its PostStop counts it
// as stopped.
type oneShot struct{ stopped *sync.WaitGroup }

func (oneShot) Receive(*actor.Context[Msg], Msg) error { return supervisor.ErrShutdown }
func (a oneShot) PostStop(*actor.Context[Msg])         { a.stopped.Done() }

// BenchmarkSpawnMessageStop: one op spawns an actor (with a name, in the
// library's registry), sends it one message, and the actor stops itself
// when it handles it. The timer runs until every actor has stopped for good
// (its stop hook has run and it is gone from the registry). The issue's
// size is 100,000 actors: -benchtime 100000x. Neither side keeps a handle
// to the actors it spawned: a held handle keeps a stopped actor's memory
// live, which costs the next spawns fresh pages and garbage-collector
// marking (22% of AirsSys-RT's time per actor when its side alone kept a
// []Ref, BENCHMARKS.md).
//
// AirsSys-RT's actors are Temporary, spawned with SpawnIn under the
// System's root, a running OneForOne supervisor: the form the supervisor
// package recommends for many short-lived children, whose spawn and end
// take the supervisor's lane (no trip through its goroutine), as
// protoactor-go spawns under its root with no supervisor call.
func BenchmarkSpawnMessageStop(b *testing.B) {
	b.Run(libRaw, func(b *testing.B) {
		// A goroutine per "actor", with a channel for its mailbox.
		noLeaks(b)
		var wg sync.WaitGroup
		spawn := func(n int) {
			wg.Add(n)
			for i := range n {
				ch := make(chan Msg, 1)
				go func() {
					<-ch
					wg.Done()
				}()
				ch <- Msg(i)
			}
			wg.Wait()
		}
		spawn(spawnWarmup)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		spawn(b.N)
		reportSpawnCPU(b, cpu)
	})

	b.Run(libAirsSys, func(b *testing.B) {
		noLeaks(b)
		sys := newSystem(b)
		var stopped sync.WaitGroup
		factory := func() actor.Actor[Msg] { return oneShot{&stopped} }
		// Made once, as protoactor-go's Props are.
		opts := []actor.Option{actor.WithRestart(supervisor.Temporary), actor.WithMailbox(actor.Unbounded())}
		spawn := func(names []string) {
			stopped.Add(len(names))
			for i, name := range names {
				ref, err := actor.SpawnIn(sys, name, factory, opts...)
				if err != nil {
					b.Fatal(err)
				}
				_ = ref.Send(Msg(i))
			}
			stopped.Wait()
			// PostStop runs before the actor leaves the registry (OTP's
			// order: terminate, then the name is free), so the last few
			// may still be registered: wait for them without keeping a
			// Ref per actor, as protoactor-go's side keeps no PID.
			for len(sys.Names()) != 0 {
				runtime.Gosched()
			}
		}
		spawn(names(spawnWarmup))
		all := names(spawnWarmup + b.N)[spawnWarmup:]
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		spawn(all)
		b.StopTimer()
		reportSpawnCPU(b, cpu)
		if n := len(sys.Names()); n != 0 {
			b.Fatalf("%d actors still registered", n)
		}
	})

	b.Run(libProtoActor, func(b *testing.B) {
		noLeaks(b)
		sys := newProtoSystem(b)
		var stopped sync.WaitGroup
		props := proto.PropsFromFunc(func(ctx proto.Context) {
			switch ctx.Message().(type) {
			case Msg:
				ctx.Stop(ctx.Self())
			case *proto.Stopped:
				stopped.Done()
			}
		}, proto.WithMailbox(proto.Unbounded()))
		spawn := func(names []string) {
			stopped.Add(len(names))
			for i, name := range names {
				pid, err := sys.Root.SpawnNamed(props, name)
				if err != nil {
					b.Fatal(err)
				}
				sys.Root.Send(pid, Msg(i))
			}
			stopped.Wait() // Stopped is handled after the PID leaves the registry
		}
		spawn(names(spawnWarmup))
		all := names(spawnWarmup + b.N)[spawnWarmup:]
		registered := protoRegistered(sys)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		spawn(all)
		b.StopTimer()
		reportSpawnCPU(b, cpu)
		if n := protoRegistered(sys) - registered; n != 0 {
			b.Fatalf("%d actors still registered", n)
		}
	})
}

// reportSpawnCPU reports the CPU time (all goroutines, the garbage
// collector's included) per actor since cpu0: on a shared machine it tells
// the work a spawn costs from the time spent waiting for a processor.
func reportSpawnCPU(b *testing.B, cpu0 int64) {
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
