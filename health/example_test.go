package health_test

import (
	"context"
	"fmt"

	"github.com/airssys/rt/health"
)

type pool struct{ open, max int }

// CheckHealth reports degraded when the pool runs hot and unhealthy when empty.
func (p *pool) CheckHealth(ctx context.Context) health.Status {
	switch {
	case p.open == 0:
		return health.Unhealthy("no connections")
	case p.open < p.max/2:
		return health.Degraded("pool below half")
	}
	return health.Healthy()
}

func Example() {
	var c health.Checker = &pool{open: 3, max: 10}
	fmt.Println(c.CheckHealth(context.Background()))
	c = &pool{open: 0, max: 10}
	fmt.Println(c.CheckHealth(context.Background()))
	// Output:
	// degraded: pool below half
	// unhealthy: no connections
}
