package benchmarks

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/supervisor"
	proto "github.com/asynkron/protoactor-go/actor"
)

// idleActors is how many idle actors the memory workload holds.
const idleActors = 100_000

// idleProfile, if set, is where BenchmarkIdleMemory writes a heap profile
// of each library's idle set, taken while it sits idle (a -memprofile is
// written after the teardown, when nothing is in use any more): the
// library's name is appended to the file name. Use it with
// -test.memprofilerate 64 so that small objects are sampled.
var idleProfile = flag.String("idleprofile", "", "write a heap profile of the idle actors to this file (plus .lib)")

// BenchmarkIdleMemory: 100,000 actors are spawned, each handles one
// message, and then they sit idle. B/actor is the growth of live heap plus
// goroutine stacks (runtime.MemStats after GC) per actor, everything the
// library holds for it included (registry, supervisor records, mailbox);
// goroutines/actor is how many goroutines each one keeps. One op is the
// whole set, built and torn down, and it runs once whatever -benchtime
// says (ns/op is not the point), so that it can share a command line with
// benchmarks that want -benchtime 100000x.
func BenchmarkIdleMemory(b *testing.B) {
	// measure builds the idle set with build, which returns its teardown,
	// and reports the memory and goroutines it holds.
	measure := func(b *testing.B, build func(names []string) (teardown func())) {
		noLeaks(b)
		all := names(idleActors)
		for range min(b.N, 1) {
			g0 := runtime.NumGoroutine()
			m0, s0 := liveBytes()
			teardown := build(all)
			settleGoroutines() // activations finishing their last turn
			m1, s1 := liveBytes()
			g1 := runtime.NumGoroutine()
			if *idleProfile != "" {
				writeHeapProfile(b, *idleProfile+"."+strings.TrimPrefix(b.Name()[strings.LastIndex(b.Name(), "/")+1:], "lib="))
			}
			b.ReportMetric(float64(int64(m1)-int64(m0))/idleActors, "B/actor")
			b.ReportMetric(float64(int64(s1)-int64(s0))/idleActors, "stack-B/actor")
			b.ReportMetric(float64(g1-g0)/idleActors, "goroutines/actor")
			teardown()
		}
	}

	b.Run(libRaw, func(b *testing.B) {
		// A goroutine blocked on its own channel: the cheapest Go "actor".
		measure(b, func(names []string) func() {
			chans := make([]chan Msg, len(names))
			var handled, ended sync.WaitGroup
			handled.Add(len(names))
			ended.Add(len(names))
			for i := range chans {
				ch := make(chan Msg, 1)
				chans[i] = ch
				go func() {
					defer ended.Done()
					for range ch {
						handled.Done()
					}
				}()
				ch <- Msg(i)
			}
			handled.Wait()
			return func() {
				for _, ch := range chans {
					close(ch)
				}
				ended.Wait()
			}
		})
	})

	b.Run(libAirsSys, func(b *testing.B) {
		measure(b, func(names []string) func() {
			sys := actor.NewSystem("idle", actor.WithSystemLogger(discard),
				actor.WithSupervisorOptions(supervisor.WithLogger(discard)))
			if err := sys.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			var handled sync.WaitGroup
			handled.Add(len(names))
			// One stateless actor value for all, as protoactor-go's
			// PropsFromFunc shares its receive function: a factory that
			// made a closure per call would charge our actors 16 B that
			// protoactor-go's do not pay (equal work).
			receive := actor.Func[Msg](func(*actor.Context[Msg], Msg) error {
				handled.Done()
				return nil
			})
			factory := func() actor.Actor[Msg] { return receive }
			opts := []actor.Option{actor.WithMailbox(actor.Unbounded())}
			refs := make([]actor.Ref[Msg], len(names))
			for i, name := range names {
				ref, err := actor.SpawnIn(sys, name, factory, opts...)
				if err != nil {
					b.Fatal(err)
				}
				_ = ref.Send(Msg(i))
				refs[i] = ref
			}
			handled.Wait()
			return func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := sys.Shutdown(ctx); err != nil {
					b.Error(err)
				}
				runtime.KeepAlive(refs)
			}
		})
	})

	b.Run(libProtoActor, func(b *testing.B) {
		measure(b, func(names []string) func() {
			sys := proto.NewActorSystem(proto.WithLoggerFactory(func(*proto.ActorSystem) *slog.Logger { return discard }))
			var handled, stopped sync.WaitGroup
			handled.Add(len(names))
			stopped.Add(len(names))
			props := proto.PropsFromFunc(func(ctx proto.Context) {
				switch ctx.Message().(type) {
				case Msg:
					handled.Done()
				case *proto.Stopped:
					stopped.Done()
				}
			}, proto.WithMailbox(proto.Unbounded()))
			pids := make([]*proto.PID, len(names))
			for i, name := range names {
				pid, err := sys.Root.SpawnNamed(props, name)
				if err != nil {
					b.Fatal(err)
				}
				sys.Root.Send(pid, Msg(i))
				pids[i] = pid
			}
			handled.Wait()
			return func() {
				for _, pid := range pids {
					sys.Root.Stop(pid)
				}
				stopped.Wait()
				sys.Shutdown()
			}
		})
	})
}

// liveBytes is the live heap plus goroutine stacks, after a full GC, and
// the stacks' part alone.
func liveBytes() (total, stacks uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse, ms.StackInuse
}

// settleGoroutines waits, up to a second, until the number of goroutines
// has not changed for 20ms.
func settleGoroutines() {
	deadline := time.Now().Add(time.Second)
	n, since := runtime.NumGoroutine(), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < 20*time.Millisecond {
		time.Sleep(time.Millisecond)
		if m := runtime.NumGoroutine(); m != n {
			n, since = m, time.Now()
		}
	}
}

// writeHeapProfile writes the heap profile (in-use and allocated) to path.
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}
