package actor

import (
	"errors"
	"testing"
	"time"

	"github.com/airssys/rt/internal/subpair"
	"github.com/airssys/rt/supervisor"
)

// BenchmarkRestartSubscribedPaired is BenchmarkRestart/actor with one
// event subscriber attached and detached every subpair.Chunk restarts of
// the same actor (see package subpair), so that both sides of the ratio it
// reports (p50-sub/none) see the same machine at the same moments.
func BenchmarkRestartSubscribedPaired(b *testing.B) {
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
	subpair.Run(b, func() func() { return sup.Subscribe(onEvent) }, func() time.Duration {
		start := time.Now()
		_ = ref.Send(true)
		_ = ref.Send(false)
		return (<-handled).Sub(start)
	})
}
