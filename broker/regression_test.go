package broker_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/broker"
)

// Issue 7: Publish with a ctx that was done already delivered nothing,
// even to mailboxes that never make a publisher wait. Now only the Block
// subscribers are skipped (and reported); the others get the message.
func TestRegressionPublishDoneCtxStillDeliversToNonBlocking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		unbounded, unboundedRec := spawnRecorder[int](t, sys, "unbounded", nil)
		dropping, droppingRec := spawnRecorder[int](t, sys, "dropping", nil, actor.WithMailbox(actor.Bounded(4, actor.DropNewest)))
		blocking, blockingRec := spawnRecorder[int](t, sys, "blocking", nil, actor.WithMailbox(actor.Bounded(4, actor.Block)))
		mustSubscribe(t, topic, unbounded)
		mustSubscribe(t, topic, blocking)
		mustSubscribe(t, topic, dropping)

		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := topic.Publish(ctx, 7)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Publish = %v, want an error wrapping context.Canceled", err)
		}
		if !strings.Contains(err.Error(), "1 of 3 subscribers not reached") {
			t.Errorf("error %q does not say who was skipped", err)
		}
		synctest.Wait()
		if got := unboundedRec.messages(); !slices.Equal(got, []int{7}) {
			t.Errorf("unbounded got %v, want [7]", got)
		}
		if got := droppingRec.messages(); !slices.Equal(got, []int{7}) {
			t.Errorf("dropping got %v, want [7]", got)
		}
		if got := blockingRec.messages(); len(got) != 0 {
			t.Errorf("blocking got %v, want nothing", got)
		}
		if st := topic.Stats(); st.Published != 1 || st.Delivered != 2 || st.Dropped != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}
