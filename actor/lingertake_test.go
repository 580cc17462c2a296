package actor

import (
	"sync"
	"testing"

	"github.com/airssys/rt/supervisor"
)

// idleCellOwned spawns an unbounded actor that was sent nothing, and takes
// its cell as an activation would (stActive), so that the test goroutine
// plays the lingering activation: sends only queue. release gives the cell
// back and starts an activation for whatever is left.
func idleCellOwned(t *testing.T) (c *cell[int], inc *incarnation[int], got <-chan int, release func()) {
	t.Helper()
	sup := newSup(t, supervisor.OneForOne)
	ch := make(chan int, 64)
	ref, err := Spawn(sup, "lingerer", func() Actor[int] {
		return Func[int](func(_ *Context[int], n int) error {
			ch <- n
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	c = ref.c
	c.mu.Lock()
	inc = c.inc
	c.mu.Unlock()
	if inc == nil {
		t.Fatal("no incarnation after Spawn")
	}
	if !c.activate() {
		t.Fatal("an activation owns an actor that was sent nothing")
	}
	return c, inc, ch, func() {
		c.state.And(^stActive)
		if c.runnable() && c.activate() {
			go c.run()
		}
	}
}

// A lingering activation takes the inbox's oldest message without the lock
// (takeLingering) only while nothing was put back at the head since its
// last look under the lock: the put-back messages come first. Fails with
// ringLocked not setting stLookLocked (the lock-free take returns 3, ahead
// of the 2 put back).
func TestLingeringTakeLeavesPutBackMessagesFirst(t *testing.T) {
	c, inc, got, release := idleCellOwned(t)
	defer release()

	// Ten messages through, taken under the lock, put the consumer in a
	// segment of 8 slots with room left: a lock-free take is refused here
	// for the put-back message, not for a segment's end.
	var buf [batchMax]int
	for i := range 10 {
		if err := c.send(nil, 100+i); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	n := c.popLocked(buf[:])
	c.mu.Unlock()
	c.dropHand(n - 1)
	if n != 10 {
		t.Fatalf("took %d of 10 under the lock", n)
	}

	if err := c.send(nil, 1); err != nil {
		t.Fatal(err)
	}
	var m int
	if !c.takeLingering(inc, &m) || m != 1 {
		t.Fatalf("lock-free take of the only message: got %d", m)
	}

	c.mu.Lock()
	c.ringLocked().pushFront(2) // as Requeue does
	c.mu.Unlock()
	if err := c.send(nil, 3); err != nil {
		t.Fatal(err)
	}
	if c.takeLingering(inc, &m) {
		t.Fatalf("lock-free take of %d while message 2 waits at the head", m)
	}

	// The look under the lock takes 2, then 3, and clears the mark.
	c.mu.Lock()
	n = c.popLocked(buf[:])
	c.mu.Unlock()
	if n != 2 || buf[0] != 2 || buf[1] != 3 {
		t.Fatalf("look under the lock took %v, want [2 3]", buf[:n])
	}
	c.dropHand(n - 1) // the test delivers nothing: uncount the batch
	if err := c.send(nil, 4); err != nil {
		t.Fatal(err)
	}
	if !c.takeLingering(inc, &m) || m != 4 {
		t.Fatalf("lock-free take after the look under the lock: got %d, %v", m, c.state.Load()&stLookLocked != 0)
	}
	select {
	case n := <-got:
		t.Fatalf("Receive got %d while the test owned the cell", n)
	default:
	}
}

// The stop's taking of the whole mailbox (takeAllLocked, under the lock)
// can run while the lingering activation takes lock-free: each message is
// taken by exactly one of them, across segments. Fails (a message taken
// twice, and a data race under -race) when takeAllLocked reads slots before
// it claims them, as inPopInto does.
func TestLingeringTakeRacesTheStopsTakeAll(t *testing.T) {
	c, inc, _, release := idleCellOwned(t)
	defer release()

	const rounds, per = 300, 100
	seen := make([]int, rounds*per)
	next := 0
	for range rounds {
		for range per {
			if err := c.send(nil, next); err != nil {
				t.Fatal(err)
			}
			next++
		}
		var lingering []int
		var wg sync.WaitGroup
		done := make(chan struct{})
		wg.Go(func() {
			for {
				var m int
				if c.takeLingering(inc, &m) {
					lingering = append(lingering, m)
					continue
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})
		var all []int
		wg.Go(func() {
			defer close(done)
			c.mu.Lock()
			all = c.takeAllLocked()
			c.mu.Unlock()
		})
		wg.Wait()
		for _, m := range append(lingering, all...) {
			seen[m]++
		}
		for i := 1; i < len(lingering); i++ {
			if lingering[i] <= lingering[i-1] {
				t.Fatalf("lock-free takes out of order: %v", lingering)
			}
		}
		for i := 1; i < len(all); i++ {
			if all[i] <= all[i-1] {
				t.Fatalf("takeAllLocked out of order: %v", all)
			}
		}
		// Anything left (a take that stopped at a segment's end after
		// takeAllLocked finished) is taken under the lock.
		c.mu.Lock()
		for _, m := range c.takeAllLocked() {
			seen[m]++
		}
		c.mu.Unlock()
	}
	for m, k := range seen {
		if k != 1 {
			t.Fatalf("message %d taken %d times", m, k)
		}
	}
}

// MailboxLen and Stats count the inbox as its tail less its head, under
// c.mu; with the lock-free take (takeLingering) the head moves under that
// lock too, so a count that read the tail first could find the head past
// it (a message sent and taken between the two loads) and report -1.
// Fails when inLen loads the tail before the head.
func TestRegressionMailboxLenNeverNegativeUnderLingeringTake(t *testing.T) {
	c, inc, _, release := idleCellOwned(t)
	defer release()
	ref := Ref[int]{c: c}

	done := make(chan struct{})
	var bad [2]int
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if n := c.mailboxLen(); n < 0 {
				bad[0] = n
			}
			if n := ref.Stats().MailboxLen; n < 0 {
				bad[1] = n
			}
		}
	})
	var buf [1]int
	for i := range 2_000_000 {
		if err := c.send(nil, i); err != nil {
			t.Fatal(err)
		}
		var m int
		if !c.takeLingering(inc, &m) { // a segment's end: the look under the lock
			c.mu.Lock()
			if c.popLocked(buf[:]) != 1 {
				c.mu.Unlock()
				t.Fatalf("message %d neither taken lock-free nor under the lock", i)
			}
			c.mu.Unlock()
		}
	}
	close(done)
	wg.Wait()
	if bad != [2]int{} {
		t.Fatalf("MailboxLen %d, Stats().MailboxLen %d: negative", bad[0], bad[1])
	}
}
