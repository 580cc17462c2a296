// Command trading shows a OneForAll supervisor: three services of a trading
// desk that share one view of the market and must restart together.
//
//	go run ./examples/trading
//
// market-data turns the exchange feed into prices, order-book keeps resting
// orders priced from them, and risk limits exposure from both. Each builds
// its state from the others: if one restarted alone, empty, while the other
// two kept state derived from its old self, the desk would trade on a view
// of the market nobody holds any more. So when any of them fails, the
// supervisor stops the other two (newest first) and starts all three again,
// in order, with clean state.
//
// The program injects two faults, tells what the supervisor does about each
// in plain words (observe.Narrator), then shows the restart count of each
// service, as WhichChildren reports it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/airssys/rt/observe"
	"github.com/airssys/rt/supervisor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// The pause between faults is for a human reader; the test runs without.
	if err := run(ctx, os.Stdout, 300*time.Millisecond); err != nil {
		fmt.Fprintln(os.Stderr, "trading:", err)
		os.Exit(1)
	}
}

// services in start order: each depends on the ones before it.
var services = []string{"market-data", "order-book", "risk"}

// faults are injected in this order, one once the desk has recovered from
// the one before.
var faults = []struct {
	service string
	err     error
	story   string
}{
	{"risk", errors.New("exposure 1.4M over the 1M limit: position out of date"),
		"risk fails. OneForAll stops the others, newest first, then starts all three in order."},
	{"market-data", errors.New("feed gap: sequence 1041 followed by 1043"),
		"market-data fails. The same again: no service keeps state built on the old feed."},
}

func run(ctx context.Context, w io.Writer, pause time.Duration) error {
	// The narrator tells every event of the supervisor, in order with the
	// program's own lines; tell also passes the events on, so that run can
	// wait for the end of the supervisor's reaction to a fault.
	out := observe.NewNarrator(w)
	events := make(chan supervisor.Event, 256)
	desk := supervisor.New("trading", supervisor.OneForAll, supervisor.Permanent,
		supervisor.WithLogger(slog.New(slog.DiscardHandler)), // the narrator says it all
		supervisor.WithEventHandler(tell(out, events)),
	)

	// Each service's incarnations share one fault channel: whichever
	// incarnation is running takes the fault.
	inject := make(map[string]chan error, len(services))
	for _, name := range services {
		ch := make(chan error)
		inject[name] = ch
		// SpawnFunc: every (re)start gets a fresh service, with clean state.
		err := desk.Child(name).SpawnFunc(func() supervisor.Child {
			return &service{faults: ch}
		})
		if err != nil {
			return err
		}
	}

	out.Printf("trading: a OneForAll supervisor over market-data, order-book and risk.")
	out.Printf("Each indented line is the supervisor telling what it did.\n")
	if err := desk.Start(ctx); err != nil {
		return err
	}
	err := func() error {
		if err := await(ctx, events, is(supervisor.EventSupervisorStarted, "")); err != nil {
			return err
		}
		for _, f := range faults {
			out.Printf("\n%s", f.story)
			if err := send(ctx, inject[f.service], f.err); err != nil {
				return err
			}
			// The last service in start order is the last to restart.
			last := services[len(services)-1]
			if err := await(ctx, events, is(supervisor.EventChildRestarted, last)); err != nil {
				return err
			}
			out.Flush()
			if err := sleep(ctx, pause); err != nil {
				return err
			}
		}
		out.Printf("\nRestarts per service, from WhichChildren:\n%s", table(desk.WhichChildren()))
		return nil
	}()

	out.Printf("\nStopping: services stop newest first.")
	if stopErr := desk.Stop(); err == nil {
		err = stopErr
	}
	return err
}

// service is one incarnation of a desk service. Its state (here only a
// count of updates) is built from scratch on every (re)start.
type service struct {
	faults  <-chan error
	updates int
}

// Serve applies market updates until it is stopped or a fault arrives.
func (s *service) Serve(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-s.faults:
			return err // let it crash: the supervisor restarts the desk
		case <-tick.C:
			s.updates++
		}
	}
}

// send hands a fault to the running incarnation of a service.
func send(ctx context.Context, ch chan<- error, err error) error {
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	select {
	case ch <- err:
		return nil
	case <-timeout.C:
		return fmt.Errorf("no running service took the fault within %v", waitLimit)
	case <-ctx.Done():
		return ctx.Err()
	}
}
