package supervisor

import (
	"slices"
	"sync"
)

// inbox is the control goroutine's mailbox: an unbounded queue that never
// blocks a sender (a child reporting its exit, a timer, a caller), plus a
// one-slot signal channel the loop selects on. The mutex guards only the
// queue, never supervisor state, which the loop alone owns.
type inbox struct {
	mu     sync.Mutex
	q      []msg
	spare  []msg
	closed bool
	signal chan struct{}
}

func newInbox() *inbox { return &inbox{signal: make(chan struct{}, 1)} }

// push enqueues m and reports false when the loop has ended.
func (in *inbox) push(m msg) bool {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return false
	}
	in.q = append(in.q, m)
	in.mu.Unlock()
	select {
	case in.signal <- struct{}{}:
	default:
	}
	return true
}

// pushExit is push(msg{op: opExit, inc: inc}) for the exit of a launched
// child, which may be reported from the end of a deep, small goroutine
// stack (an actor's activation): it keeps its own frame small, so that the
// report does not make that stack grow.
func (in *inbox) pushExit(inc *incarnation) {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return
	}
	if len(in.q) == cap(in.q) {
		in.grow()
	}
	in.q = in.q[:len(in.q)+1]
	in.q[len(in.q)-1] = msg{op: opExit, inc: inc}
	in.mu.Unlock()
	select {
	case in.signal <- struct{}{}:
	default:
	}
}

//go:noinline
func (in *inbox) grow() { in.q = slices.Grow(in.q, 1) }

// take returns everything queued; the slice is valid until the next take.
func (in *inbox) take() []msg {
	in.mu.Lock()
	q := in.q
	in.q, in.spare = in.spare[:0], nil
	in.mu.Unlock()
	return q
}

// recycle hands a drained batch back for reuse, clearing its pointers.
func (in *inbox) recycle(q []msg) {
	clear(q)
	in.mu.Lock()
	if in.spare == nil && cap(q) <= 4096 {
		in.spare = q[:0]
	}
	in.mu.Unlock()
}

// close refuses later pushes and returns what was still queued.
func (in *inbox) close() []msg {
	in.mu.Lock()
	in.closed = true
	q := in.q
	in.q = nil
	in.mu.Unlock()
	return q
}

// rearm raises the signal again if messages are waiting: awaitExit may
// have consumed it while the loop was busy.
func (in *inbox) rearm() {
	in.mu.Lock()
	pending := len(in.q) > 0
	in.mu.Unlock()
	if pending {
		select {
		case in.signal <- struct{}{}:
		default:
		}
	}
}
