package supervisor

// Where Dispose hooks run. Not on the control goroutine: a hook may call
// its own supervisor (WhichChildren, StartChild, even Stop), which answers
// only from that goroutine. A removal the public API asked for (DeleteChild,
// TerminateChild of a Temporary child, a StartChild that failed) is
// disposed by the caller before the call returns; a removal the supervisor
// decided on its own (a Temporary child's exit, a temporary bystander of a
// group restart) by a goroutine of the supervisor's, held only while it
// has hooks to run. Stop and Serve wait for those, as for event handlers.

import "sync"

// disposer runs Dispose hooks in order off the control goroutine.
type disposer struct {
	mu      sync.Mutex
	q       []*child
	running bool
	idle    chan struct{} // closed when the current goroutine exits
}

// add queues the disposal of cs.
func (d *disposer) add(cs []*child) {
	d.mu.Lock()
	d.q = append(d.q, cs...)
	if d.running {
		d.mu.Unlock()
		return
	}
	d.running = true
	d.idle = make(chan struct{})
	d.mu.Unlock()
	go d.run()
}

// run is the disposer's goroutine. Its name is known to drain.
func (d *disposer) run() {
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
		disposeEach(q)
	}
}

// drain waits until every queued hook has run; from a hook itself (one
// that stops its supervisor) it returns at once rather than wait for itself.
func (d *disposer) drain() {
	d.mu.Lock()
	if !d.running {
		d.mu.Unlock()
		return
	}
	idle := d.idle
	d.mu.Unlock()
	if onStack(disposerLoop) {
		return
	}
	<-idle
}

// disposerLoop is the name of (*disposer).run in tracebacks.
const disposerLoop = "github.com/airssys/rt/supervisor.(*disposer).run"
