package benchmarks

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/supervisor"
	proto "github.com/asynkron/protoactor-go/actor"
	"go.uber.org/goleak"
)

// Msg is the message type of every workload, for every library: a plain
// value, so that no library is charged for allocating its messages (ours
// and the raw channels carry it unboxed; protoactor-go's untyped mailbox
// boxes it in an interface, which is part of its cost).
type Msg int

// crash is the message that makes an actor fail in the restart workloads.
const crash Msg = -1

// Sub-benchmark names: lib=<library>, so that benchstat can put the
// libraries side by side (benchstat -col /lib) and cmd/table can take
// ratios to raw and to protoactor (or suture).
const (
	libRaw        = "lib=raw"
	libAirsSys    = "lib=airssys"
	libProtoActor = "lib=protoactor"
	libSuture     = "lib=suture"
)

var discard = slog.New(slog.DiscardHandler)

// noLeaks fails the benchmark if goroutines it started outlive it: every
// benchmark stops what it started, so that one cannot slow the next down.
// Register it first, so that its check runs after the other cleanups.
func noLeaks(b *testing.B) {
	b.Helper()
	opt := goleak.IgnoreCurrent()
	b.Cleanup(func() { goleak.VerifyNone(b, opt) })
}

// newSystem starts an AirsSys-RT System whose logs are discarded (as are
// protoactor-go's and suture's) and shuts it down when the benchmark ends.
func newSystem(b *testing.B, opts ...supervisor.Option) *actor.System {
	b.Helper()
	opts = append(opts, supervisor.WithLogger(discard))
	sys := actor.NewSystem("bench", actor.WithSystemLogger(discard), actor.WithSupervisorOptions(opts...))
	if err := sys.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sys.Shutdown(ctx); err != nil {
			b.Errorf("airssys shutdown: %v", err)
		}
	})
	return sys
}

// newProtoSystem returns a protoactor-go ActorSystem with its logs
// discarded. An ActorSystem has no way to stop its actors: each benchmark
// stops the ones it spawned, and this cleanup only marks the system shut.
func newProtoSystem(b *testing.B) *proto.ActorSystem {
	b.Helper()
	sys := proto.NewActorSystem(proto.WithLoggerFactory(func(*proto.ActorSystem) *slog.Logger { return discard }))
	b.Cleanup(sys.Shutdown)
	return sys
}

// protoStop stops protoactor-go actors and waits until they have stopped.
func protoStop(b *testing.B, sys *proto.ActorSystem, pids ...*proto.PID) {
	b.Helper()
	futures := make([]*proto.Future, len(pids))
	for i, pid := range pids {
		futures[i] = sys.Root.StopFuture(pid)
	}
	for _, f := range futures {
		if err := f.Wait(); err != nil {
			b.Errorf("protoactor stop: %v", err)
		}
	}
}

// protoRegistered counts the processes in a protoactor-go registry.
func protoRegistered(sys *proto.ActorSystem) int {
	n := 0
	for _, bucket := range sys.ProcessRegistry.LocalPIDs.LocalPIDs {
		n += bucket.Count()
	}
	return n
}

// reportLatencies adds the median and the 99th percentile of samples, in
// microseconds, to the benchmark's results.
func reportLatencies(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	b.ReportMetric(us(samples[len(samples)/2]), "p50-µs")
	b.ReportMetric(us(samples[len(samples)*99/100]), "p99-µs")
}

// names returns n distinct actor names, made before the timer starts.
func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "a" + itoa(i)
	}
	return out
}

func itoa(i int) string {
	var buf [20]byte
	n := len(buf)
	for {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(buf[n:])
		}
	}
}
