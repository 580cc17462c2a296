package supervisor

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// A burst far larger than a queue block, queued while the handler is busy,
// is delivered whole and in order; the blocks are reused afterwards, and a
// dispatcher keeps only a few of them once the burst is over.
func TestDispatcherQueueBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &dispatcher{open: true}
		release := make(chan struct{})
		var got []int
		handler := func(e Event) {
			if e.Restarts == 0 {
				<-release // the rest of the burst queues meanwhile
			}
			got = append(got, e.Restarts)
		}
		const n = (maxFreeBlocks+2)*eventBlockLen + 3
		for i := range n {
			e := Event{Kind: EventChildFailed, Restarts: i}
			d.push(&e, nil, handler, false)
			if i == 0 {
				synctest.Wait() // the delivery goroutine holds the first one
			}
		}
		close(release)
		synctest.Wait()
		if len(got) != n {
			t.Fatalf("%d events delivered, want %d", len(got), n)
		}
		for i, r := range got {
			if r != i {
				t.Fatalf("event %d delivered as %d: out of order", i, r)
			}
		}
		d.mu.Lock()
		nfree, free := d.nfree, d.free
		d.mu.Unlock()
		if nfree != maxFreeBlocks {
			t.Fatalf("%d blocks kept, want %d", nfree, maxFreeBlocks)
		}
		for b := free; b != nil; b = b.next {
			for i := range b.items {
				if b.items[i].handler != nil || b.items[i].e.Kind != 0 {
					t.Fatal("a delivered event is still referenced by a kept block")
				}
			}
		}
		// The next burst takes kept blocks rather than new ones.
		e := Event{Restarts: n}
		d.push(&e, nil, handler, false)
		synctest.Wait()
		d.mu.Lock()
		nfree = d.nfree
		d.mu.Unlock()
		if nfree != maxFreeBlocks || len(got) != n+1 {
			t.Fatalf("after a reuse: %d blocks kept, %d events", nfree, len(got))
		}
		d.setOpen(false)
		d.drain()
	})
}

// Emitters on several goroutines (a supervisor's own, a spawn on the lane,
// a health check) share a dispatcher: every event is delivered once, and
// each emitter's events in the order it emitted them.
func TestDispatcherConcurrentEmitters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &dispatcher{open: true}
		const emitters, each = 4, 3 * eventBlockLen * maxFreeBlocks
		next := make([]int, emitters)
		var bad []string
		handler := func(e Event) {
			who := int(e.Delay)
			if e.Restarts != next[who] {
				bad = append(bad, fmt.Sprintf("emitter %d: event %d, want %d", who, e.Restarts, next[who]))
			}
			next[who] = e.Restarts + 1
		}
		var wg sync.WaitGroup
		for who := range emitters {
			wg.Go(func() {
				for i := range each {
					e := Event{Kind: EventChildStarted, Restarts: i, Delay: time.Duration(who)}
					d.push(&e, nil, handler, false)
					if i%100 == 0 {
						runtime.Gosched() // let the others in between
					}
				}
			})
		}
		wg.Wait()
		d.drain()
		if len(bad) > 0 {
			t.Fatalf("%d events out of order, first: %s", len(bad), bad[0])
		}
		for who, n := range next {
			if n != each {
				t.Errorf("emitter %d: %d events delivered, want %d", who, n, each)
			}
		}
		d.setOpen(false)
		d.drain()
	})
}

// A closed dispatcher (its supervisor ended; a descendant still emits)
// delivers each burst on a goroutine that exits after it, and a burst
// after that gets a new one; drain waits for the exit.
func TestDispatcherClosedBurstsExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &dispatcher{}
		var got []int
		handler := func(e Event) { got = append(got, e.Restarts) }
		for burst := range 3 {
			for i := range 5 {
				e := Event{Restarts: burst*5 + i}
				d.push(&e, nil, handler, false)
			}
			d.drain()
			d.mu.Lock()
			running := d.running
			d.mu.Unlock()
			if running {
				t.Fatalf("burst %d: a delivery goroutine is still running after drain", burst)
			}
			if len(got) != (burst+1)*5 {
				t.Fatalf("burst %d: %d events delivered, want %d", burst, len(got), (burst+1)*5)
			}
		}
		for i, r := range got {
			if r != i {
				t.Fatalf("event %d delivered as %d", i, r)
			}
		}
		// synctest.Test fails if a delivery goroutine is still there.
	})
}
