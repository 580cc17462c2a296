package actor

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/airssys/rt/supervisor"
)

// BenchmarkRestartSubscribedPaired is BenchmarkRestart/actor with one
// event subscriber attached and detached every 1,000 restarts of the same
// actor, so that both sides of the ratio it reports (sub/none: the p50
// with the subscriber over the p50 without) see the same machine at the
// same moments, which two benchmarks run one after the other on a shared
// machine do not (issue 10.6's bar is on that ratio). The first 100
// restarts after each switch are not counted.
func BenchmarkRestartSubscribedPaired(b *testing.B) {
	const chunk, warm = 1000, 100
	boom := errors.New("boom")
	sup := startSup(b, supervisor.WithIntensity(1000, time.Microsecond))
	handled := make(chan time.Time, 1)
	ref, err := Spawn(sup, "crashy", func() Actor[bool] {
		return Func[bool](func(_ *Context[bool], crash bool) error {
			if crash {
				return boom
			}
			handled <- time.Now()
			return nil
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	var seen int
	onEvent := func(supervisor.Event) { seen++ }
	var with, without []time.Duration
	cancel := func() {}
	b.ResetTimer()
	for i := range b.N {
		subscribed := i/chunk%2 == 1
		if i%chunk == 0 {
			cancel()
			cancel = func() {}
			if subscribed {
				cancel = sup.Subscribe(onEvent)
			}
		}
		start := time.Now()
		_ = ref.Send(true)
		_ = ref.Send(false)
		d := (<-handled).Sub(start)
		switch {
		case i%chunk < warm:
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
