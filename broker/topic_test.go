package broker_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/broker"
	"github.com/airssys/rt/supervisor"
)

func TestFanOutToEverySubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		var recs []*recorder[int]
		for i := range 3 {
			ref, rec := spawnRecorder[int](t, sys, fmt.Sprint("sub-", i), nil)
			mustSubscribe(t, topic, ref)
			recs = append(recs, rec)
		}
		for i := range 5 {
			if err := topic.Publish(t.Context(), i); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		for i, rec := range recs {
			if got := rec.messages(); !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
				t.Errorf("subscriber %d got %v", i, got)
			}
		}
		st := topic.Stats()
		want := broker.TopicStats{Name: "numbers", Subscribers: 3, Published: 5, Delivered: 15}
		if st != want {
			t.Errorf("stats = %+v, want %+v", st, want)
		}
	})
}

func TestAdaptedSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		ref, rec := spawnRecorder[string](t, sys, "strings", nil)
		sub, err := broker.Subscribe(topic, ref, func(n int) string { return fmt.Sprint("n=", n) })
		if err != nil {
			t.Fatal(err)
		}
		if sub.Topic() != "numbers" || sub.Subscriber() != "strings" {
			t.Errorf("subscription names %q, %q", sub.Topic(), sub.Subscriber())
		}
		_ = topic.Publish(t.Context(), 1)
		_ = topic.Publish(t.Context(), 2)
		synctest.Wait()
		if got := rec.messages(); !slices.Equal(got, []string{"n=1", "n=2"}) {
			t.Errorf("got %q", got)
		}
	})
}

func TestAdapterPanicIsAnErrorNotAPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		bad, _ := spawnRecorder[string](t, sys, "bad", nil)
		good, rec := spawnRecorder[int](t, sys, "good", nil)
		if _, err := broker.Subscribe(topic, bad, func(int) string { panic("boom") }); err != nil {
			t.Fatal(err)
		}
		sub := mustSubscribe(t, topic, good)
		err := topic.Publish(t.Context(), 7)
		if err == nil || !strings.Contains(err.Error(), "boom") {
			t.Errorf("Publish = %v, want the adapter's panic", err)
		}
		synctest.Wait()
		if got := rec.messages(); !slices.Equal(got, []int{7}) {
			t.Errorf("the other subscriber got %v", got)
		}
		if st := sub.Stats(); st.Delivered != 1 {
			t.Errorf("good subscriber stats %+v", st)
		}
		if st := topic.Stats(); st.Delivered != 1 || st.Dropped != 1 {
			t.Errorf("topic stats %+v", st)
		}
	})
}

func TestSubscriberRemovedWhenItStopsForGood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		ref, rec := spawnRecorder[int](t, sys, "leaver", nil)
		stay, stayRec := spawnRecorder[int](t, sys, "stayer", nil)
		sub := mustSubscribe(t, topic, ref)
		mustSubscribe(t, topic, stay)
		_ = topic.Publish(t.Context(), 1)
		synctest.Wait()

		if err := sys.Root().TerminateChild("leaver"); err != nil {
			t.Fatal(err)
		}
		if err := sys.Root().DeleteChild("leaver"); err != nil {
			t.Fatal(err)
		}
		<-ref.Done()
		synctest.Wait() // the watch fires
		if sub.Active() {
			t.Error("subscription still active after its actor stopped for good")
		}
		if n := topic.Stats().Subscribers; n != 1 {
			t.Errorf("%d subscribers, want 1", n)
		}
		dead := sys.DeadLetters().Count()
		if err := topic.Publish(t.Context(), 2); err != nil {
			t.Errorf("Publish after a subscriber stopped: %v", err)
		}
		synctest.Wait()
		if got := sys.DeadLetters().Count(); got != dead {
			t.Errorf("publishing made %d dead letters", got-dead)
		}
		if got := rec.messages(); !slices.Equal(got, []int{1}) {
			t.Errorf("stopped subscriber got %v", got)
		}
		if got := stayRec.messages(); !slices.Equal(got, []int{1, 2}) {
			t.Errorf("remaining subscriber got %v", got)
		}
	})
}

// Publish finds a stopped subscriber by its Done channel even before the
// watch has removed it, so the message does not become a dead letter.
func TestPublishSkipsStoppedSubscriberBeforeTheWatchFires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		ref, _ := spawnRecorder[int](t, sys, "leaver", nil)
		sub := mustSubscribe(t, topic, ref)
		_ = sys.Root().TerminateChild("leaver")
		_ = sys.Root().DeleteChild("leaver")
		<-ref.Done()
		dead := sys.DeadLetters().Count()
		if err := topic.Publish(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		if sub.Active() || topic.Stats().Subscribers != 0 {
			t.Error("Publish did not remove the stopped subscriber")
		}
		if got := sys.DeadLetters().Count(); got != dead {
			t.Errorf("%d dead letters", got-dead)
		}
		synctest.Wait()
	})
}

// A restart is not a stop: the Ref stays, and so does the subscription,
// and the messages queued behind the crash.
func TestSubscriptionSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		var mu sync.Mutex
		var got []int
		ref, err := actor.SpawnIn(sys, "crashy", func() actor.Actor[int] {
			return actor.Func[int](func(_ *actor.Context[int], n int) error {
				if n < 0 {
					return errors.New("negative")
				}
				mu.Lock()
				got = append(got, n)
				mu.Unlock()
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		sub := mustSubscribe(t, topic, ref)
		for _, n := range []int{1, -1, 2, 3} {
			if err := topic.Publish(t.Context(), n); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if !sub.Active() {
			t.Error("subscription ended by a restart")
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(got, []int{1, 2, 3}) {
			t.Errorf("got %v across the restart", got)
		}
		if ci := sys.Root().WhichChildren(); len(ci) != 1 || ci[0].Restarts != 1 {
			t.Errorf("children %+v, want one restart", ci)
		}
	})
}

func TestCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		ref, rec := spawnRecorder[int](t, sys, "sub", nil)
		sub := mustSubscribe(t, topic, ref)
		_ = topic.Publish(t.Context(), 1)
		sub.Cancel()
		sub.Cancel() // idempotent
		var nilSub *broker.Subscription
		nilSub.Cancel() // harmless
		_ = topic.Publish(t.Context(), 2)
		synctest.Wait()
		if got := rec.messages(); !slices.Equal(got, []int{1}) {
			t.Errorf("got %v after Cancel", got)
		}
		if sub.Active() || topic.Stats().Subscribers != 0 {
			t.Error("subscription still there after Cancel")
		}
		if ref.Err() != nil {
			t.Error("Cancel stopped the actor")
		}
		want := broker.SubscriptionStats{Topic: "numbers", Subscriber: "sub", Delivered: 1}
		if st := sub.Stats(); st != want {
			t.Errorf("stats %+v, want %+v", st, want)
		}
	})
}

// Cancel from inside the subscriber's own Receive must not deadlock.
func TestCancelFromReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		var sub *broker.Subscription
		subscribed := make(chan struct{})
		var seen []int
		ref, err := actor.SpawnIn(sys, "once", func() actor.Actor[int] {
			return actor.Func[int](func(_ *actor.Context[int], n int) error {
				<-subscribed
				seen = append(seen, n)
				sub.Cancel()
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		sub = mustSubscribe(t, topic, ref)
		close(subscribed)
		_ = topic.Publish(t.Context(), 1)
		synctest.Wait()
		_ = topic.Publish(t.Context(), 2)
		synctest.Wait()
		if !slices.Equal(seen, []int{1}) {
			t.Errorf("seen %v", seen)
		}
	})
}

func TestSameActorTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		ref, rec := spawnRecorder[int](t, sys, "sub", nil)
		first := mustSubscribe(t, topic, ref)
		mustSubscribe(t, topic, ref)
		_ = topic.Publish(t.Context(), 1)
		first.Cancel()
		_ = topic.Publish(t.Context(), 2)
		synctest.Wait()
		if got := rec.messages(); !slices.Equal(got, []int{1, 1, 2}) {
			t.Errorf("got %v", got)
		}
	})
}

func TestPublishWithoutSubscribers(t *testing.T) {
	topic := mustOpen[int](t, broker.New(), "empty")
	if err := topic.Publish(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if st := topic.Stats(); st.Published != 1 || st.Delivered != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Mailbox policies: a gated subscriber with a mailbox of one is full after
// two messages (one in Receive, one queued).

func TestPublishUnbounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		gate := make(chan struct{})
		ref, rec := spawnRecorder[int](t, sys, "slow", gate)
		mustSubscribe(t, topic, ref)
		for i := range 100 {
			if err := topic.Publish(t.Context(), i); err != nil {
				t.Fatal(err)
			}
		}
		close(gate)
		synctest.Wait()
		if n := len(rec.messages()); n != 100 {
			t.Errorf("got %d messages, want 100", n)
		}
	})
}

func TestPublishBlockWaitsForRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		gate := make(chan struct{})
		ref, rec := spawnRecorder[int](t, sys, "slow", gate, actor.WithMailbox(actor.Bounded(1, actor.Block)))
		mustSubscribe(t, topic, ref)
		_ = topic.Publish(t.Context(), 1)
		synctest.Wait() // 1 is in Receive
		_ = topic.Publish(t.Context(), 2)

		published := make(chan error)
		go func() { published <- topic.Publish(t.Context(), 3) }()
		synctest.Wait()
		select {
		case err := <-published:
			t.Fatalf("Publish returned %v while the mailbox was full", err)
		default:
		}
		close(gate)
		if err := <-published; err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := rec.messages(); !slices.Equal(got, []int{1, 2, 3}) {
			t.Errorf("got %v", got)
		}
	})
}

// A full Block mailbox and a deadline: Publish returns a ctx error when the
// deadline passes, and never hangs; subscribers after the full one are not
// reached and are counted as drops.
func TestPublishBlockFullReturnsCtxError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		gate := make(chan struct{})
		slow, slowRec := spawnRecorder[int](t, sys, "slow", gate, actor.WithMailbox(actor.Bounded(1, actor.Block)))
		fast, fastRec := spawnRecorder[int](t, sys, "fast", nil)
		mustSubscribe(t, topic, slow)
		fastSub := mustSubscribe(t, topic, fast)
		_ = topic.Publish(t.Context(), 1)
		synctest.Wait()
		_ = topic.Publish(t.Context(), 2)

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		err := topic.Publish(ctx, 3)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Publish = %v, want DeadlineExceeded", err)
		}
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("waited %v, want the deadline (1s)", waited)
		}
		if !strings.Contains(err.Error(), "1 of 2 subscribers not reached") {
			t.Errorf("error %q does not say who was skipped", err)
		}
		// The full Block mailbox does not cost the unbounded one its copy.
		if st := topic.Stats(); st.Delivered != 5 || st.Dropped != 1 {
			t.Errorf("topic stats %+v", st)
		}
		if st := fastSub.Stats(); st.Delivered != 3 || st.Dropped != 0 {
			t.Errorf("fast subscriber stats %+v", st)
		}

		// A ctx done already: the Block subscriber is skipped (and
		// reported), the unbounded one still gets its copy.
		if err := topic.Publish(ctx, 4); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Publish with a done ctx = %v", err)
		}
		close(gate)
		synctest.Wait()
		if got := slowRec.messages(); !slices.Equal(got, []int{1, 2}) {
			t.Errorf("slow got %v", got)
		}
		if got := fastRec.messages(); !slices.Equal(got, []int{1, 2, 3, 4}) {
			t.Errorf("fast got %v", got)
		}
	})
}

func TestPublishDropNewest(t *testing.T) {
	testDropping(t, actor.DropNewest, []int{1, 2}, 3)
}

func TestPublishDropOldest(t *testing.T) {
	testDropping(t, actor.DropOldest, []int{1, 3}, 2)
}

// testDropping publishes 1, 2, 3 to a gated subscriber with a mailbox of
// one: Publish succeeds each time, and the policy makes a dead letter.
func testDropping(t *testing.T, policy actor.Overflow, want []int, dropped int) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		var letters []actor.DeadLetter
		var mu sync.Mutex
		defer sys.DeadLetters().Subscribe(func(dl actor.DeadLetter) {
			mu.Lock()
			letters = append(letters, dl)
			mu.Unlock()
		})()
		topic := mustOpen[int](t, broker.New(), "numbers")
		gate := make(chan struct{})
		ref, rec := spawnRecorder[int](t, sys, "slow", gate, actor.WithMailbox(actor.Bounded(1, policy)))
		mustSubscribe(t, topic, ref)
		_ = topic.Publish(t.Context(), 1)
		synctest.Wait()
		for _, n := range []int{2, 3} {
			if err := topic.Publish(t.Context(), n); err != nil {
				t.Fatalf("Publish(%d) = %v", n, err)
			}
		}
		close(gate)
		synctest.Wait()
		if got := rec.messages(); !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(letters) != 1 || letters[0].Message != dropped || !errors.Is(letters[0].Reason, actor.ErrMailboxFull) {
			t.Errorf("dead letters %+v, want %d dropped for a full mailbox", letters, dropped)
		}
		// The sender cannot tell a dropped message from a queued one.
		if st := topic.Stats(); st.Delivered != 3 || st.Dropped != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestPublishFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		gate := make(chan struct{})
		slow, slowRec := spawnRecorder[int](t, sys, "slow", gate, actor.WithMailbox(actor.Bounded(1, actor.Fail)))
		fast, fastRec := spawnRecorder[int](t, sys, "fast", nil)
		slowSub := mustSubscribe(t, topic, slow)
		mustSubscribe(t, topic, fast)
		_ = topic.Publish(t.Context(), 1)
		synctest.Wait()
		_ = topic.Publish(t.Context(), 2)
		err := topic.Publish(t.Context(), 3)
		if !errors.Is(err, actor.ErrMailboxFull) || !strings.Contains(err.Error(), `"slow"`) {
			t.Errorf("Publish = %v, want ErrMailboxFull naming slow", err)
		}
		close(gate)
		synctest.Wait()
		if got := slowRec.messages(); !slices.Equal(got, []int{1, 2}) {
			t.Errorf("slow got %v", got)
		}
		if got := fastRec.messages(); !slices.Equal(got, []int{1, 2, 3}) {
			t.Errorf("fast got %v: a full subscriber must not stop the others", got)
		}
		if st := slowSub.Stats(); st.Delivered != 2 || st.Dropped != 1 {
			t.Errorf("slow stats %+v", st)
		}
		if sys.DeadLetters().Count() != 0 {
			t.Errorf("Fail made a dead letter")
		}
	})
}

// Concurrent publishers, subscribers coming and going: every subscriber
// present throughout gets every message, each publisher's in order.
func TestConcurrentPublishers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const publishers, each = 4, 250
		sys := startSystem(t)
		topic := mustOpen[[2]int](t, broker.New(), "pairs")
		var recs []*recorder[[2]int]
		for i := range 3 {
			ref, rec := spawnRecorder[[2]int](t, sys, fmt.Sprint("sub-", i), nil)
			mustSubscribe(t, topic, ref)
			recs = append(recs, rec)
		}
		churn, _ := spawnRecorder[[2]int](t, sys, "churn", nil)

		var wg sync.WaitGroup
		for p := range publishers {
			wg.Go(func() {
				for i := range each {
					if err := topic.Publish(t.Context(), [2]int{p, i}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			for range 50 {
				mustSubscribe(t, topic, churn).Cancel()
			}
		})
		wg.Wait()
		synctest.Wait()
		for r, rec := range recs {
			got := rec.messages()
			if len(got) != publishers*each {
				t.Errorf("subscriber %d got %d messages, want %d", r, len(got), publishers*each)
			}
			next := make([]int, publishers)
			for _, m := range got {
				if m[1] != next[m[0]] {
					t.Fatalf("subscriber %d: publisher %d's message %d arrived when %d was due", r, m[0], m[1], next[m[0]])
				}
				next[m[0]]++
			}
		}
		if st := topic.Stats(); st.Published != publishers*each || st.Subscribers != 3 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestTopicBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		topic := mustOpen[int](t, broker.New(), "numbers")
		var nilTopic *broker.Topic[int]
		live, _ := spawnRecorder[int](t, sys, "live", nil)
		if _, err := nilTopic.Subscribe(live); !errors.Is(err, broker.ErrInvalid) {
			t.Errorf("Subscribe on a nil Topic: %v", err)
		}
		if err := nilTopic.Publish(t.Context(), 1); !errors.Is(err, broker.ErrInvalid) {
			t.Errorf("Publish on a nil Topic: %v", err)
		}
		if _, err := topic.Subscribe(actor.Ref[int]{}); !errors.Is(err, broker.ErrInvalid) {
			t.Errorf("Subscribe of the zero Ref: %v", err)
		}
		if _, err := broker.Subscribe(nilTopic, live, func(int) int { return 0 }); !errors.Is(err, broker.ErrInvalid) {
			t.Errorf("Subscribe to a nil Topic: %v", err)
		}
		if _, err := broker.Subscribe(topic, actor.Ref[string]{}, func(int) string { return "" }); !errors.Is(err, broker.ErrInvalid) {
			t.Errorf("adapted Subscribe of the zero Ref: %v", err)
		}
		if _, err := broker.Subscribe[int, int](topic, live, nil); !errors.Is(err, broker.ErrInvalid) {
			t.Errorf("Subscribe with a nil adapter: %v", err)
		}
		if err := topic.Publish(nil, 1); !errors.Is(err, broker.ErrInvalid) {
			t.Errorf("Publish with a nil ctx: %v", err)
		}

		gone, _ := spawnRecorder[int](t, sys, "gone", nil, actor.WithRestart(supervisor.Temporary))
		_ = sys.Root().TerminateChild("gone")
		<-gone.Done()
		if _, err := topic.Subscribe(gone); !errors.Is(err, actor.ErrStopped) {
			t.Errorf("Subscribe of a stopped actor: %v", err)
		}
		if n := topic.Stats().Subscribers; n != 0 {
			t.Errorf("%d subscribers after failed subscriptions", n)
		}
	})
}
