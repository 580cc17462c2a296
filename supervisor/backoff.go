package supervisor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff spaces out the restarts of a child that keeps failing. The delay
// before the n-th consecutive restart is min(Max, Initial*Multiplier^(n-1)),
// spread by ±Jitter (a fraction, 0.1 = 10%). A child that has run for
// ResetAfter without failing starts again at Initial. Delays are timers on
// the supervisor: it keeps serving calls and other children meanwhile.
type Backoff struct {
	Initial    time.Duration // delay before the first restart; 0 disables backoff
	Max        time.Duration // cap on the delay; 0: no cap
	Multiplier float64       // growth per consecutive restart; 0 means 2
	Jitter     float64       // in [0, 1)
	ResetAfter time.Duration // 0: Max, or 10×Initial if Max is 0
}

func (b Backoff) validate() error {
	if b.Initial < 0 || b.Max < 0 || b.ResetAfter < 0 || b.Multiplier < 0 ||
		b.Jitter < 0 || b.Jitter >= 1 || math.IsNaN(b.Multiplier) || math.IsNaN(b.Jitter) ||
		(b.Max > 0 && b.Max < b.Initial) || (b.Multiplier > 0 && b.Multiplier < 1) {
		return fmt.Errorf("backoff %+v: durations must be >= 0, Max >= Initial, Multiplier >= 1, 0 <= Jitter < 1", b)
	}
	return nil
}

func (b Backoff) enabled() bool { return b.Initial > 0 }

// delay is the wait before the n-th consecutive restart (n >= 1).
func (b Backoff) delay(n int) time.Duration {
	if !b.enabled() || n < 1 {
		return 0
	}
	m := b.Multiplier
	if m == 0 {
		m = 2
	}
	d := float64(b.Initial) * math.Pow(m, float64(n-1))
	if b.Max > 0 && d > float64(b.Max) {
		d = float64(b.Max)
	}
	if d > math.MaxInt64/2 {
		d = math.MaxInt64 / 2
	}
	if b.Jitter > 0 {
		d *= 1 + b.Jitter*(2*rand.Float64()-1)
	}
	return time.Duration(d)
}

func (b Backoff) resetAfter() time.Duration {
	switch {
	case b.ResetAfter > 0:
		return b.ResetAfter
	case b.Max > 0:
		return b.Max
	}
	return 10 * b.Initial
}
