// This file is the same in every example (each example's test checks it),
// so that a reader learns it once: how an example waits for its
// supervisors and shows their children. Copy it with the example.

package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/observe"
	"github.com/airssys/rt/supervisor"
)

// waitLimit bounds each wait for the supervisors to react to a fault. They
// take microseconds; reaching the limit means a bug.
const waitLimit = 5 * time.Second

// tell returns an event handler (for supervisor.WithEventHandler) that has
// n tell each event in plain words, then passes it on to events, so that
// await can see the end of the supervisors' reaction to a fault. The send
// never blocks: a handler must not hold up the events behind it, and
// events is buffered for more than an example produces.
func tell(n *observe.Narrator, events chan<- supervisor.Event) func(supervisor.Event) {
	return func(e supervisor.Event) {
		n.Event(e)
		select {
		case events <- e:
		default:
		}
	}
}

// await returns once an event from events matches. The narrator has told
// it, and every event before it, by then.
func await(ctx context.Context, events <-chan supervisor.Event, match func(supervisor.Event) bool) error {
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	for {
		select {
		case e := <-events:
			if match(e) {
				return nil
			}
		case <-timeout.C:
			return fmt.Errorf("the supervisors did not finish reacting within %v", waitLimit)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// is matches the events of one kind about one child ("" for the events of
// a supervisor itself).
func is(kind supervisor.EventKind, child string) func(supervisor.Event) bool {
	return func(e supervisor.Event) bool { return e.Kind == kind && e.Child == child }
}

// sleep pauses for d, a moment for a human reader between acts; not at all
// when d <= 0, as in the tests.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// table renders children as WhichChildren reports them, one a line: name,
// state, automatic restarts, and health when it is not healthy. The last
// line has no newline, for Printf to end.
func table(children []supervisor.ChildInfo) string {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, c := range children {
		line := fmt.Sprintf("  %s\t%v\trestarts=%d", c.Name, c.State, c.Restarts)
		if c.Health.State != health.StateHealthy {
			line += "\t" + c.Health.String()
		}
		fmt.Fprintln(tw, line)
	}
	_ = tw.Flush() // a bytes.Buffer does not fail
	return strings.TrimSuffix(buf.String(), "\n")
}
