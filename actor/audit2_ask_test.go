package actor

// Adversarial tests of Asks whose requests an actor holds while it ends
// (audit2): many Asks in flight while the actor crashes, is restarted and
// is stopped for good, under synctest, so that an Ask that waits for its
// ctx shows as an hour of fake time and a DeadlineExceeded, never as a
// hung test.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airssys/rt/supervisor"
)

// a2Req asks a2Holder to keep its Reply (hold), to answer all it keeps
// (flush), or to crash.
type a2Req struct {
	op    string
	reply Reply[int]
}

// a2Holder keeps Replies in a field to answer them later.
type a2Holder struct{ pending []Reply[int] }

func (h *a2Holder) Receive(_ *Context[a2Req], m a2Req) error {
	switch m.op {
	case "hold":
		h.pending = append(h.pending, m.reply)
	case "flush":
		for _, r := range h.pending {
			r.Send(1)
		}
		h.pending = nil
		m.reply.Send(1)
	case "crash":
		return errBoom
	}
	return nil
}

// TestAudit2AsksRaceEnds sends many held Asks to an actor while other
// goroutines make it crash (it is restarted) and, in the end, its
// supervisor stops. Every Ask must return without waiting for its ctx:
// answered (flush), or failed with ErrNoReply (the incarnation that held
// it ended) or ErrStopped (still queued, or sent, when the actor stopped
// for good). It catches a held Reply forgotten by the exit path (the
// reply walk after PostStop), a request lost between the mailbox and an
// ending incarnation, and a stop that leaves an Ask hanging.
func TestAudit2AsksRaceEnds(t *testing.T) {
	for _, pol := range []supervisor.RestartPolicy{supervisor.Permanent, supervisor.Transient, supervisor.Temporary} {
		for round := range 10 {
			t.Run(fmt.Sprintf("%v/%d", pol, round), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) { a2AsksRaceEnds(t, pol, round) })
			})
		}
	}
}

func a2AsksRaceEnds(t *testing.T, pol supervisor.RestartPolicy, round int) {
	sup := idleSup("asks", supervisor.OneForOne, supervisor.WithIntensity(1000, time.Second))
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ref, err := Spawn(sup, "holder", func() Actor[a2Req] { return &a2Holder{} }, WithRestart(pol))
	if err != nil {
		t.Fatal(err)
	}
	const askers = 24
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	for i := range askers {
		wg.Go(func() {
			op := "hold"
			switch {
			case i%8 == 3:
				op = "flush"
			case i%8 == 5:
				op = "crash"
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			_, err := Ask(ctx, ref, func(r Reply[int]) a2Req { return a2Req{op, r} })
			kind := "answered"
			switch {
			case err == nil:
			case errors.Is(err, context.DeadlineExceeded):
				kind = "waited for its ctx"
				t.Errorf("round %d: %s Ask waited for its ctx: %v", round, op, err)
			case errors.Is(err, ErrNoReply):
				kind = "no reply"
			case errors.Is(err, ErrStopped):
				kind = "stopped"
			case op == "crash" && errors.Is(err, errBoom):
				kind = "crashed on it"
			default:
				t.Errorf("round %d: %s Ask: unexpected %v", round, op, err)
			}
			mu.Lock()
			outcomes[kind]++
			mu.Unlock()
		})
		if i == askers/2-1 {
			synctest.Wait() // the first half are taken (held, answered, crashed on) or queued
		}
		if i == askers/2+round%(askers/2) {
			// The stop for good meets the Asks at a different place in
			// each round.
			wg.Go(func() {
				if err := sup.Stop(); err != nil {
					t.Errorf("Stop: %v", err)
				}
			})
		}
	}
	wg.Wait()
	synctest.Wait()
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, c := range outcomes {
		n += c
	}
	if n != askers {
		t.Fatalf("%d of %d Asks returned: %v", n, askers, outcomes)
	}
	select {
	case <-ref.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
}

// TestAudit2HeldAsksFailOnRestart crashes an actor among concurrent Asks
// that it holds, with no stop for good to come: the Asks held by the
// crashed incarnation must fail with ErrNoReply at once, and those taken
// by the next incarnation must be answered by its flush. It catches the
// exit path forgetting the Replies an ended incarnation keeps in its
// fields (they would wait for their ctx: Done never closes on a restart).
func TestAudit2HeldAsksFailOnRestart(t *testing.T) {
	for _, pol := range []supervisor.RestartPolicy{supervisor.Permanent, supervisor.Transient} {
		for round := range 10 {
			t.Run(fmt.Sprintf("%v/%d", pol, round), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					sup := newSup(t, supervisor.OneForOne, supervisor.WithIntensity(1000, time.Second))
					ref, err := Spawn(sup, "holder", func() Actor[a2Req] { return &a2Holder{} }, WithRestart(pol))
					if err != nil {
						t.Fatal(err)
					}
					const askers = 16
					var wg sync.WaitGroup
					var mu sync.Mutex
					var got []error
					ask := func(op string) {
						ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
						defer cancel()
						_, err := Ask(ctx, ref, func(r Reply[int]) a2Req { return a2Req{op, r} })
						mu.Lock()
						got = append(got, err)
						mu.Unlock()
					}
					for i := range askers {
						wg.Go(func() { ask("hold") })
						if i == round {
							wg.Go(func() { ask("crash") })
						}
					}
					synctest.Wait() // held by one incarnation or the other, or failed
					wg.Go(func() { ask("flush") })
					wg.Wait()
					mu.Lock()
					defer mu.Unlock()
					if len(got) != askers+2 {
						t.Fatalf("%d of %d Asks returned", len(got), askers+2)
					}
					for _, err := range got {
						if err != nil && !errors.Is(err, ErrNoReply) {
							t.Errorf("Ask = %v, want an answer or ErrNoReply", err)
						}
						if errors.Is(err, context.DeadlineExceeded) {
							t.Errorf("an Ask waited for its ctx")
						}
					}
				})
			})
		}
	}
}
