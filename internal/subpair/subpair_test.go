package subpair

import (
	"testing"
	"time"
)

// TestRunCountsEachSideApart checks the alternation: chunks alternate
// without, with, without..., the warm-up of each chunk is left out, and
// the reported ratio is of the two sides' medians.
func TestRunCountsEachSideApart(t *testing.T) {
	var subscribes, cancels int
	var subscribed bool
	res := testing.Benchmark(func(b *testing.B) {
		if b.N < 4*Chunk {
			b.N = 4 * Chunk // testing.Benchmark grows b.N from 1; Run needs whole chunks
		}
		Run(b,
			func() func() {
				subscribes++
				subscribed = true
				return func() { cancels++; subscribed = false }
			},
			func() time.Duration {
				if subscribed {
					return 3 * time.Microsecond
				}
				return time.Microsecond
			})
	})
	if subscribes == 0 || subscribes != cancels {
		t.Fatalf("subscribed %d times, cancelled %d", subscribes, cancels)
	}
	if got := res.Extra["p50-sub/none"]; got != 3 {
		t.Fatalf("p50-sub/none = %v, want 3", got)
	}
	if got := res.Extra["p99-sub-none-ns"]; got != 2000 {
		t.Fatalf("p99-sub-none-ns = %v, want 2000", got)
	}
}
