package supervisor

import (
	"context"
	"slices"
	"testing"
	"time"
)

// pairedChunk is how many restarts run between two switches of the
// subscription in the paired benchmarks, pairedWarm how many of them
// after a switch are not counted (the delivery goroutine's first events).
const pairedChunk, pairedWarm = 1000, 100

// BenchmarkRestartLatencySubscribedPaired is BenchmarkRestartLatency
// with one subscriber attached and detached every pairedChunk restarts
// of the same supervisor, so that both sides of the ratio it reports
// (sub/none: the p50 with the subscriber over the p50 without) see the
// same machine at the same moments: on a shared machine, two benchmarks
// run one after the other do not (issue 10.6's bar is on that ratio).
func BenchmarkRestartLatencySubscribedPaired(b *testing.B) {
	rt := &restartee{ready: make(chan struct{}), fail: make(chan struct{})}
	s := New("bench", OneForOne, Permanent, quiet, WithIntensity(1<<30, time.Millisecond))
	if err := s.SpawnChild("w", rt); err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	<-rt.ready
	var seen int
	onEvent := func(Event) { seen++ }
	var with, without []time.Duration
	cancel := func() {}
	b.ResetTimer()
	for i := range b.N {
		subscribed := i/pairedChunk%2 == 1
		if i%pairedChunk == 0 {
			cancel()
			cancel = func() {}
			if subscribed {
				cancel = s.Subscribe(onEvent)
			}
		}
		t0 := time.Now()
		rt.fail <- struct{}{}
		<-rt.ready
		d := time.Since(t0)
		switch {
		case i%pairedChunk < pairedWarm:
		case subscribed:
			with = append(with, d)
		default:
			without = append(without, d)
		}
	}
	b.StopTimer()
	cancel()
	reportPaired(b, with, without)
	if err := s.Stop(); err != nil {
		b.Fatal(err)
	}
}

// reportPaired reports the p50 and p99 of restarts with a subscriber and
// without, and their ratios.
func reportPaired(b *testing.B, with, without []time.Duration) {
	if len(with) == 0 || len(without) == 0 {
		return
	}
	slices.Sort(with)
	slices.Sort(without)
	p := func(s []time.Duration, q int) float64 { return float64(s[len(s)*q/100].Nanoseconds()) }
	b.ReportMetric(p(with, 50), "p50-sub-ns")
	b.ReportMetric(p(without, 50), "p50-none-ns")
	b.ReportMetric(p(with, 50)/p(without, 50), "p50-sub/none")
	b.ReportMetric(p(with, 99)-p(without, 99), "p99-sub-none-ns")
}
