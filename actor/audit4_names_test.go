package actor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/airssys/rt/supervisor"
)

// Names reads the registry, then the root's table, not one snapshot of
// both. A name read in neither place would be a name that moved from the
// root's table to the registry between the two reads; that takes its
// holder ending (a holder keeps its place for life, and neither place lets
// a second actor take a name the other holds), so the name did not exist
// throughout the call: Names may miss it, as it may miss any name spawned
// or stopped during the call. A name held throughout is never missed. This
// test holds two names throughout, one in each place, restarting their
// actors, while other names churn between the two places, and checks that
// every Names and Lookup sees both.
func TestAudit4NamesSeesANameHeldThroughout(t *testing.T) {
	// Restarts without limit: the held actors crash again and again.
	forever := supervisor.WithIntensity(1<<30, time.Nanosecond)
	sys := NewSystem("sys", WithSystemLogger(quiet), WithSupervisorOptions(forever))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Shutdown(context.Background()) })
	sub := supervisor.New("sub", supervisor.OneForOne, supervisor.Permanent, supervisor.WithLogger(quiet), forever)
	if err := sys.Root().AddSupervisor(sub); err != nil {
		t.Fatal(err)
	}
	crashy := func() Actor[int] {
		return Func[int](func(*Context[int], int) error { return errors.New("restart me") })
	}
	onLane, err := SpawnIn(sys, "held-on-lane", crashy)
	if err != nil {
		t.Fatal(err)
	}
	inRegistry, err := Spawn(sub, "held-in-registry", crashy)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := range 1500 {
				name := fmt.Sprintf("n%d", i%5)
				var ref Ref[int]
				var err error
				if (w+i)%2 == 0 {
					ref, err = SpawnIn(sys, name, stopper, WithRestart(supervisor.Temporary))
				} else {
					ref, err = Spawn(sub, name, stopper, WithRestart(supervisor.Temporary))
				}
				if err != nil {
					continue // taken by another worker
				}
				if i%50 == 0 { // restarts of the held ones meanwhile
					_ = onLane.Send(1)
					_ = inRegistry.Send(1)
				}
				_ = ref.Send(1)
				<-ref.Done()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	calls := 0
	for !isClosed(done) {
		calls++
		names := sys.Names()
		for _, held := range []string{"held-on-lane", "held-in-registry"} {
			if !slices.Contains(names, held) {
				t.Fatalf("Names call %d misses %q, held throughout: %v", calls, held, names)
			}
		}
		if _, err := Lookup[int](sys, "held-on-lane"); err != nil {
			t.Fatalf("Lookup of the name held on the lane: %v", err)
		}
		if _, err := Lookup[int](sys, "held-in-registry"); err != nil {
			t.Fatalf("Lookup of the name held in the registry: %v", err)
		}
	}
	<-done
	t.Logf("%d Names calls during the churn", calls)
}
