package actor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airssys/rt/supervisor"
)

// The dead-letter rule (deadletters.go): every message sent is, exactly
// once, delivered, returned to its sender as retryable, or a dead letter.
// These tests hold a bounded mailbox to it under many senders, every
// policy, crashes (whose batch rest is put back) and a Shutdown while
// senders still send or wait, for a message type that is batched and one
// larger than batchBytes (taken one at a time). Along the way: Receive is
// never concurrent, each sender's messages arrive in its order, and,
// without crashes, MailboxLen never exceeds the capacity.

type fateSmall struct{ s, q int32 }

type fateBig struct {
	s, q int32
	_    [96]byte
}

func TestAudit3BoundedFates(t *testing.T) {
	for _, capacity := range []int{1, 3} {
		for _, policy := range []Overflow{Block, DropNewest, DropOldest, Fail} {
			for _, crash := range []bool{false, true} {
				for _, stopEarly := range []bool{false, true} {
					name := fmt.Sprintf("cap=%d/%v/crash=%v/stopEarly=%v", capacity, policy, crash, stopEarly)
					t.Run(name+"/small", func(t *testing.T) {
						boundedFates(t, capacity, policy, crash, stopEarly,
							func(s, q int32) fateSmall { return fateSmall{s, q} },
							func(m fateSmall) (int32, int32) { return m.s, m.q })
					})
					t.Run(name+"/big", func(t *testing.T) {
						boundedFates(t, capacity, policy, crash, stopEarly,
							func(s, q int32) fateBig { return fateBig{s: s, q: q} },
							func(m fateBig) (int32, int32) { return m.s, m.q })
					})
				}
			}
		}
	}
}

func boundedFates[M any](t *testing.T, capacity int, policy Overflow, crash, stopEarly bool,
	mk func(s, q int32) M, id func(M) (int32, int32)) {
	const senders, each = 4, 400
	sys := NewSystem("sys", WithSystemLogger(quiet),
		WithSupervisorOptions(supervisor.WithIntensity(1_000_000, time.Second)))
	var mu sync.Mutex
	fate := make(map[[2]int32]string, senders*each)
	note := func(s, q int32, f string) {
		mu.Lock()
		fate[[2]int32{s, q}] += f
		mu.Unlock()
	}
	var letters atomic.Int64
	cancel := sys.DeadLetters().Subscribe(func(dl DeadLetter) {
		s, q := id(dl.Message.(M))
		switch {
		case errors.Is(dl.Reason, errBoom):
			note(s, q, "C")
		case errors.Is(dl.Reason, ErrMailboxFull), errors.Is(dl.Reason, ErrStopped):
			note(s, q, "D")
		default:
			note(s, q, "?"+dl.Reason.Error())
		}
		letters.Add(1)
	})
	defer cancel()
	var inReceive atomic.Int32
	var last [senders]int32
	var bad atomic.Value
	var handled atomic.Int64
	var ref Ref[M]
	var err error
	ref, err = SpawnIn(sys, "b", func() Actor[M] {
		return Func[M](func(_ *Context[M], m M) error {
			if inReceive.Add(1) != 1 {
				bad.Store("Receive ran concurrently")
			}
			defer inReceive.Add(-1)
			s, q := id(m)
			if q <= last[s] {
				bad.Store(fmt.Sprintf("sender %d: %d after %d", s, q, last[s]))
			}
			last[s] = q
			if !crash {
				if n := ref.Stats().MailboxLen; n > capacity {
					bad.Store(fmt.Sprintf("MailboxLen %d > capacity %d", n, capacity))
				}
			}
			note(s, q, "H")
			handled.Add(1)
			if crash && q%11 == 0 {
				return errBoom
			}
			return nil
		})
	}, WithMailbox(Bounded(capacity, policy)))
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for s := range int32(senders) {
		wg.Go(func() {
			for q := int32(1); q <= each; q++ {
				var err error
				if policy == Block && q%3 == 0 {
					ctx, cancel := context.WithTimeout(context.Background(), time.Microsecond)
					err = ref.SendContext(ctx, mk(s, q))
					cancel()
				} else {
					err = ref.Send(mk(s, q))
				}
				switch {
				case err == nil:
				case errors.Is(err, ErrStopped):
					return // the dead letter is its fate
				case errors.Is(err, ErrMailboxFull) && policy == Fail,
					errors.Is(err, context.DeadlineExceeded) && policy == Block:
					note(s, q, "R") // returned: the sender holds it
				default:
					t.Errorf("Send: %v", err)
					return
				}
			}
		})
	}
	sent := make(chan struct{})
	go func() { wg.Wait(); close(sent) }()
	if stopEarly {
		for handled.Load() < senders*each/8 && !isClosed(sent) {
			time.Sleep(50 * time.Microsecond)
		}
	} else {
		<-sent
	}
	if err := sys.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-sent
	// Subscribers hear of dead letters on a goroutine of their own.
	for deadline := time.Now().Add(5 * time.Second); uint64(letters.Load()) != sys.DeadLetters().Count(); {
		if time.Now().After(deadline) {
			t.Fatalf("%d dead letters heard of, %d counted", letters.Load(), sys.DeadLetters().Count())
		}
		time.Sleep(time.Millisecond)
	}
	if b := bad.Load(); b != nil {
		t.Fatal(b)
	}
	mu.Lock()
	defer mu.Unlock()
	var counts = map[string]int{}
	for k, f := range fate {
		counts[f]++
		switch f {
		case "H", "D", "R":
		case "HC":
			if !crash {
				t.Errorf("%v: crashed without crashes", k)
			}
		default:
			t.Errorf("message %v: fates %q, want exactly one", k, f)
		}
	}
	// Every message a sender got to send has a fate: those after a
	// sender's ErrStopped were never sent.
	for s := range int32(senders) {
		for q := int32(1); q <= each; q++ {
			if _, ok := fate[[2]int32{s, q}]; !ok {
				// never sent only if every later one is missing too
				for r := q + 1; r <= each; r++ {
					if _, ok := fate[[2]int32{s, r}]; ok {
						t.Fatalf("message %d/%d has no fate, but %d/%d has %q", s, q, s, r, fate[[2]int32{s, r}])
					}
				}
				break
			}
		}
	}
	if testing.Verbose() {
		t.Logf("fates: %v", counts)
	}
}
