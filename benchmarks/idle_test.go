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
// message, and then they sit idle. B/actor is what the idle set holds, per
// actor: the growth of live heap plus goroutine stacks (runtime.MemStats
// after two GCs), everything the library keeps for it included (registry,
// supervisor records, mailbox), plus the runtime's record of every
// goroutine the set keeps alive (see reserveGoroutineRecords);
// stack-B/actor is the stacks' part and goroutines/actor how many
// goroutines each actor keeps. One op is the whole set, built and torn
// down, and it runs once whatever -benchtime says (ns/op is not the
// point), so that it can share a command line with benchmarks that want
// -benchtime 100000x.
//
// What it does not count, by the same rule for every library: the
// runtime's records of goroutines that ended during the build. The
// runtime never frees a goroutine's record (about 480 B of heap): an
// ended goroutine's record waits in a free pool for the next goroutine.
// A build that ran many goroutines at once (activations outrun by the
// spawning loop, more of them the busier the machine) used to leave that
// many records behind, up to 46 B per actor that no actor holds, so the
// same binary read 448-501 B per actor (BENCHMARKS.md, seventh pass,
// idle2). Before its baseline every library's set now finds the pool
// filled with more records than its build can use at once, so that the
// heap's growth holds no record, and each goroutine alive at the end is
// charged its record's size explicitly (the raw set's 100,000 pay it; the
// actor libraries keep none). What remains in the stacks' part besides
// live goroutines' stacks is the runtime's own cache (up to 63 ended
// goroutines' stacks per processor, and the stack spans they keep in
// use): up to about 2 MB, -12 to +19 B per actor in the rounds recorded.
func BenchmarkIdleMemory(b *testing.B) {
	// measure builds the idle set with build, which returns its teardown,
	// and reports the memory and goroutines it holds.
	measure := func(b *testing.B, build func(names []string) (teardown func())) {
		noLeaks(b)
		all := names(idleActors)
		record := reserveGoroutineRecords(b)
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
			held := int64(m1) - int64(m0) + int64(g1-g0)*int64(record)
			b.ReportMetric(float64(held)/idleActors, "B/actor")
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

// goroutineRecords is the size of the runtime's record of a goroutine
// (its g, a heap object the runtime never frees), found by the first
// reserveGoroutineRecords.
var goroutineRecords struct {
	once sync.Once
	size uint64
}

// reserveGoroutineRecords makes sure, once per process, that the runtime
// holds more records of ended goroutines than any idle set's build can
// use at once (each actor runs at most one goroutine at a time, the raw
// set one each), so that no build allocates one: it runs that many
// goroutines at once and ends them. It returns the size of one record, as
// the heap profile's allocations in runtime.malg say (the reservation
// itself makes ~48 MB of them, so the default sampling sees some).
func reserveGoroutineRecords(b *testing.B) (size uint64) {
	goroutineRecords.once.Do(func() {
		n := idleActors + 1024 + runtime.NumGoroutine()
		var started, ended sync.WaitGroup
		release := make(chan struct{})
		started.Add(n)
		ended.Add(n)
		for range n {
			go func() {
				defer ended.Done()
				started.Done()
				<-release
			}()
		}
		started.Wait()
		close(release)
		ended.Wait()
		runtime.GC() // publishes the heap profile's allocations
		goroutineRecords.size = recordSize()
	})
	if goroutineRecords.size == 0 {
		b.Fatal("no goroutine record in the heap profile (is -test.memprofilerate 0?)")
	}
	return goroutineRecords.size
}

// recordSize is the size of the objects the heap profile saw allocated by
// runtime.malg, the goroutine records; 0 if it saw none.
func recordSize() uint64 {
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+64)
		var ok bool
		if n, ok = runtime.MemProfile(recs, true); ok {
			recs = recs[:n]
			break
		}
	}
	for _, r := range recs {
		if r.AllocObjects == 0 {
			continue
		}
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			if f.Function == "runtime.malg" {
				return uint64(r.AllocBytes / r.AllocObjects)
			}
			if !more {
				break
			}
		}
	}
	return 0
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
