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
		release := make(chan struct{})
		var got []int
		handler := func(e Event) {
			if e.Restarts == 0 {
				<-release // the rest of the burst queues meanwhile
			}
			got = append(got, e.Restarts)
		}
		d := &dispatcher{open: true, handler: handler}
		const n = (maxFreeBlocks+2)*eventBlockLen + 3
		for i := range n {
			e := Event{Kind: EventChildFailed, Restarts: i}
			d.push(&e, false, false)
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
				if b.items[i] != (dispatchItem{}) {
					t.Fatal("a delivered event is still referenced by a kept block")
				}
			}
			for _, e := range b.full[:cap(b.full)] {
				if len(b.full) != 0 || e != (Event{}) {
					t.Fatal("a delivered event is still referenced by a kept block")
				}
			}
		}
		// The next burst takes kept blocks rather than new ones.
		e := Event{Restarts: n}
		d.push(&e, false, false)
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
		d := &dispatcher{open: true, handler: handler}
		var wg sync.WaitGroup
		for who := range emitters {
			wg.Go(func() {
				for i := range each {
					e := Event{Kind: EventChildStarted, Restarts: i, Delay: time.Duration(who)}
					d.push(&e, false, false)
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
		var got []int
		d := &dispatcher{handler: func(e Event) { got = append(got, e.Restarts) }}
		for burst := range 3 {
			for i := range 5 {
				e := Event{Restarts: burst*5 + i}
				d.push(&e, false, false)
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

// An incarnation's start and end are queued by reference and built into
// their Events on the delivery goroutine: they arrive in order among the
// events queued whole, with the time, restarts, child, supervisor and
// (for an end) error they were emitted with, and a kept block references
// none of them afterwards.
func TestDispatcherEventsByReference(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []Event
		d := &dispatcher{open: true, handler: func(e Event) { got = append(got, e) }}
		r := &run{path: "root/web"}
		c := &child{spec: childSpec{Name: "w"}}
		failed := &incarnation{c: c, incCtx: incCtx{r: r}, err: errBoom}
		started := &incarnation{c: c, incCtx: incCtx{r: r}}
		var want []Event
		for i := range 3 * eventBlockLen {
			now := time.Now()
			switch i % 3 {
			case 0:
				d.pushInc(EventChildFailed, failed, &now, i, false, false)
				want = append(want, Event{Time: now, Supervisor: "root/web", Child: "w", Kind: EventChildFailed, Err: errBoom, Restarts: i})
			case 1:
				d.pushInc(EventChildRestarted, started, &now, i, false, false)
				want = append(want, Event{Time: now, Supervisor: "root/web", Child: "w", Kind: EventChildRestarted, Restarts: i})
			default:
				e := Event{Time: now, Supervisor: "root", Kind: EventChildRestartScheduled, Delay: time.Duration(i), Restarts: i}
				d.push(&e, false, false)
				want = append(want, e)
			}
			time.Sleep(time.Duration(i) * time.Millisecond)
		}
		synctest.Wait()
		if len(got) != len(want) {
			t.Fatalf("%d events delivered, want %d", len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if !g.Time.Equal(w.Time) || g.Time.Sub(w.Time) != 0 {
				t.Fatalf("event %d: time %v, want %v", i, g.Time, w.Time)
			}
			g.Time, w.Time = time.Time{}, time.Time{}
			if g != w {
				t.Fatalf("event %d: %+v, want %+v", i, g, w)
			}
		}
		d.mu.Lock()
		for b := d.free; b != nil; b = b.next {
			if b.n != 0 || len(b.full) != 0 {
				t.Error("a kept block is not empty")
			}
			for i := range b.items {
				if b.items[i] != (dispatchItem{}) {
					t.Fatal("a delivered event is still referenced by a kept block")
				}
			}
		}
		d.mu.Unlock()
		d.setOpen(false)
		d.drain()
	})
}
