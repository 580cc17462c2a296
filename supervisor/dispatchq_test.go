package supervisor

import (
	"testing"
	"testing/synctest"
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
			d.push(&e, nil, handler)
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
		d.push(&e, nil, handler)
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
