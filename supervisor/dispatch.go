package supervisor

import (
	"bytes"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// dispatcher delivers events off the control goroutine so that a slow
// handler or a slow log sink never stalls supervision. It holds a goroutine
// only while it has events to deliver.
type dispatcher struct {
	mu      sync.Mutex
	q       []dispatchItem
	running bool
	idle    chan struct{} // closed when the current delivery goroutine exits
	stopped atomic.Bool   // a cancelled subscription: deliver nothing more
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
	id := goid()
	deliverers.Store(id, struct{}{})
	defer deliverers.Delete(id)
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
			if d.stopped.Load() {
				continue
			}
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

// drain waits until every queued event has been delivered. Called from a
// delivery goroutine (a handler stopping a supervisor, or cancelling its
// own subscription) it returns at once: waiting there would wait for
// itself.
func (d *dispatcher) drain() {
	if onDeliverer() {
		return
	}
	d.mu.Lock()
	if !d.running {
		d.mu.Unlock()
		return
	}
	idle := d.idle
	d.mu.Unlock()
	<-idle
}

// deliverers holds the goroutine ids of running delivery goroutines. Go
// has no goroutine-local state; this is the one place that needs to know
// "am I a handler's goroutine", and only on Stop and cancel, never on the
// supervision path.
var deliverers sync.Map

func onDeliverer() bool {
	_, ok := deliverers.Load(goid())
	return ok
}

// goid parses the current goroutine's id from its stack header,
// "goroutine 42 [running]:".
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
