package subpair_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/airssys/rt/internal/subpair"
)

// Run alternates chunks of operations with and without a subscriber; here
// the "subscriber" is a flag that makes each operation do more work.
func ExampleRun() {
	var subscribed bool
	res := testing.Benchmark(func(b *testing.B) {
		subpair.Run(b,
			func() func() { subscribed = true; return func() { subscribed = false } },
			func() time.Duration {
				t0 := time.Now()
				n := 100
				if subscribed {
					n = 200
				}
				for i := range n {
					_ = fmt.Sprint(i)
				}
				return time.Since(t0)
			})
	})
	fmt.Println(res.Extra["p50-sub/none"] > 1)
	// Output: true
}
