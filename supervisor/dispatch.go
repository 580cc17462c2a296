package supervisor

import (
	"log/slog"
	"sync"
)

// dispatcher delivers events off the control goroutine so that a slow
// handler or a slow log sink never stalls supervision. It holds a goroutine
// only while it has events to deliver.
type dispatcher struct {
	mu      sync.Mutex
	q       []dispatchItem
	running bool
	idle    chan struct{} // closed when the current delivery goroutine exits
}

type dispatchItem struct {
	e       Event
	logger  *slog.Logger // nil: do not log
	handler func(Event)  // nil: no handler
}

func (d *dispatcher) push(it dispatchItem) {
	d.mu.Lock()
	d.q = append(d.q, it)
	if d.running {
		d.mu.Unlock()
		return
	}
	d.running = true
	d.idle = make(chan struct{})
	d.mu.Unlock()
	go d.deliver()
}

func (d *dispatcher) deliver() {
	for {
		d.mu.Lock()
		q := d.q
		d.q = nil
		if len(q) == 0 {
			d.running = false
			close(d.idle)
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
		for _, it := range q {
			if it.logger != nil {
				it.e.log(it.logger)
			}
			if it.handler != nil {
				callHandler(it.handler, it.e)
			}
		}
	}
}

// callHandler keeps a panicking handler from killing the delivery goroutine
// and, with it, every later event.
func callHandler(h func(Event), e Event) {
	defer func() { _ = recover() }()
	h(e)
}

// drain waits until every queued event has been delivered.
func (d *dispatcher) drain() {
	d.mu.Lock()
	if !d.running {
		d.mu.Unlock()
		return
	}
	idle := d.idle
	d.mu.Unlock()
	<-idle
}
