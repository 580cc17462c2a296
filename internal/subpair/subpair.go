// Package subpair measures what an event subscriber costs an operation
// (a restart, in the actor and supervisor packages' benchmarks): it
// attaches one subscriber for every other chunk of operations on the same
// running system, so that both sides of the ratio it reports see the same
// machine at the same moments. Two benchmarks run one after the other on
// a shared machine differ by more than the 5% that issue 10's subscriber
// target allows; chunks a millisecond apart do not.
package subpair

import (
	"slices"
	"testing"
	"time"
)

// Chunk is how many operations run between two switches of the
// subscription; the first Warm of each chunk are not counted (the
// delivery goroutine's first events after a switch).
const Chunk, Warm = 1000, 100

// Run runs op b.N times, op returning the latency of one operation, with
// a subscriber attached by subscribe (which returns its cancel) during
// every other chunk of Chunk operations, and reports the p50 with the
// subscriber (p50-sub-ns), without it (p50-none-ns), their ratio
// (p50-sub/none) and the difference of the p99s (p99-sub-none-ns).
func Run(b *testing.B, subscribe func() (cancel func()), op func() time.Duration) {
	var with, without []time.Duration
	cancel := func() {}
	b.ResetTimer()
	for i := range b.N {
		subscribed := i/Chunk%2 == 1
		if i%Chunk == 0 {
			cancel()
			cancel = func() {}
			if subscribed {
				cancel = subscribe()
			}
		}
		d := op()
		switch {
		case i%Chunk < Warm:
		case subscribed:
			with = append(with, d)
		default:
			without = append(without, d)
		}
	}
	b.StopTimer()
	cancel()
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
