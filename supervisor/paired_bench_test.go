package supervisor

import (
	"context"
	"testing"
	"time"

	"github.com/airssys/rt/internal/subpair"
)

// BenchmarkRestartLatencySubscribedPaired is BenchmarkRestartLatency
// with one subscriber attached and detached every subpair.Chunk restarts
// of the same supervisor (see package subpair), so that both sides of the
// ratio it reports (p50-sub/none) see the same machine at the same
// moments.
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
	subpair.Run(b, func() func() { return s.Subscribe(onEvent) }, func() time.Duration {
		t0 := time.Now()
		rt.fail <- struct{}{}
		<-rt.ready
		return time.Since(t0)
	})
	if err := s.Stop(); err != nil {
		b.Fatal(err)
	}
}
