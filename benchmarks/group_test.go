package benchmarks

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/supervisor"
	proto "github.com/asynkron/protoactor-go/actor"
)

const (
	// groupSize is how many actors a group restart restarts.
	groupSize = 1_000
	// groupWarmup is how many group restarts each library goes through
	// before the timer starts.
	groupWarmup = 5
	// groupCrasher is the member that fails: one in the middle, so that
	// RestForOne-like orders cannot make the workload trivial.
	groupCrasher = groupSize / 2
)

// BenchmarkGroupRestart: 1,000 actors under one supervisor with the
// all-for-one strategy (OTP's one_for_all: when one fails, all are
// restarted); the one in the middle fails. One op is one whole group
// restart: from sending the crashing message until every one of the 1,000
// has a fresh instance (its factory has been called; protoactor-go's fresh
// actor has handled *Started, which its restart delivers right after
// calling the producer). Sub-benchmarks crash=error and crash=panic say
// how the member fails (protoactor-go: panic only).
func BenchmarkGroupRestart(b *testing.B) {
	// run restarts the group n times: crash makes the member fail, and up
	// counts fresh instances.
	run := func(b *testing.B, crash func(), up *sync.WaitGroup) {
		once := func() {
			up.Add(groupSize)
			crash()
			up.Wait()
		}
		for range groupWarmup {
			once()
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			once()
		}
		b.StopTimer()
	}

	for _, mode := range crashModes {
		b.Run(mode.name, func(b *testing.B) {
			b.Run(libRaw, func(b *testing.B) {
				// A goroutine per member reading its own channel (its
				// mailbox, which outlives it); a supervising goroutine
				// that, when one fails (recovering its panic), stops the
				// others one at a time in reverse order and starts all
				// again in order: what one_for_all does, written by hand.
				noLeaks(b)
				var up sync.WaitGroup
				type member struct {
					in   chan Msg
					quit chan struct{}
					done chan struct{}
				}
				members := make([]member, groupSize)
				failed := make(chan int)
				start := func(i int) {
					m := &members[i]
					m.quit, m.done = make(chan struct{}), make(chan struct{})
					go func() {
						defer close(m.done)
						err := recovered(func() error {
							up.Done()
							for {
								select {
								case msg := <-m.in:
									if msg == crash {
										return mode.fail()
									}
								case <-m.quit:
									return nil
								}
							}
						})
						if err != nil {
							failed <- i
						}
					}()
				}
				up.Add(groupSize)
				for i := range members {
					members[i].in = make(chan Msg, 1)
					start(i)
				}
				up.Wait()
				stop := make(chan struct{})
				supervised := make(chan struct{})
				go func() {
					defer close(supervised)
					for {
						select {
						case f := <-failed:
							<-members[f].done
							for i := groupSize - 1; i >= 0; i-- {
								if i != f {
									close(members[i].quit)
									<-members[i].done
								}
							}
							for i := range members {
								start(i)
							}
						case <-stop:
							for i := groupSize - 1; i >= 0; i-- {
								close(members[i].quit)
								<-members[i].done
							}
							return
						}
					}
				}()
				run(b, func() { members[groupCrasher].in <- crash }, &up)
				close(stop)
				<-supervised
			})

			b.Run(libAirsSys, func(b *testing.B) {
				noLeaks(b)
				var up sync.WaitGroup
				sup := supervisor.New("group", supervisor.OneForAll, supervisor.Permanent,
					supervisor.WithIntensity(1<<30, time.Millisecond), supervisor.WithLogger(discard))
				factory := func() actor.Actor[Msg] {
					up.Done()
					return actor.Func[Msg](func(_ *actor.Context[Msg], m Msg) error {
						if m == crash {
							return mode.fail()
						}
						return nil
					})
				}
				opts := []actor.Option{actor.WithMailbox(actor.Unbounded())}
				refs := make([]actor.Ref[Msg], groupSize)
				up.Add(groupSize)
				for i, name := range names(groupSize) {
					ref, err := actor.Spawn(sup, name, factory, opts...)
					if err != nil {
						b.Fatal(err)
					}
					refs[i] = ref
				}
				if err := sup.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				up.Wait()
				run(b, func() { _ = refs[groupCrasher].Send(crash) }, &up)
				if err := sup.Stop(); err != nil {
					b.Error(err)
				}
			})

			if mode.name != crashPanic {
				return // protoactor-go's actors can only panic
			}
			b.Run(libProtoActor, func(b *testing.B) {
				// The members are children of a parent actor whose
				// strategy is all-for-one, restarting without limit (a
				// window of 0 makes its failure count O(1)).
				noLeaks(b)
				sys := newProtoSystem(b)
				var up sync.WaitGroup
				member := proto.PropsFromFunc(func(ctx proto.Context) {
					switch m := ctx.Message().(type) {
					case *proto.Started:
						up.Done()
					case Msg:
						if m == crash {
							_ = mode.fail()
						}
					}
				}, proto.WithMailbox(proto.Unbounded()))
				pids := make(chan []*proto.PID, 1)
				up.Add(groupSize)
				strategy := proto.NewAllForOneStrategy(math.MaxInt, 0, proto.DefaultDecider)
				parent := sys.Root.Spawn(proto.PropsFromFunc(func(ctx proto.Context) {
					if _, ok := ctx.Message().(*proto.Started); ok {
						ps := make([]*proto.PID, groupSize)
						for i := range ps {
							ps[i] = ctx.Spawn(member)
						}
						pids <- ps
					}
				}, proto.WithSupervisor(strategy)))
				members := <-pids
				up.Wait()
				run(b, func() { sys.Root.Send(members[groupCrasher], crash) }, &up)
				protoStop(b, sys, parent)
			})
		})
	}
}
