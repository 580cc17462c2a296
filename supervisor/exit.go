package supervisor

// Exits and stops: what the loop does when an incarnation ends on its own,
// and how it stops one (ShutdownPolicy), one child or all of them.

import (
	"errors"
	"fmt"
	"time"
)

// isNormal applies the exit-reason rules.
func isNormal(inc *incarnation) bool {
	return inc.err == nil || inc.cancelled() || isShutdown(inc.err)
}

// isShutdown reports whether a child's own exit error ends it normally:
// it wraps ErrShutdown and is no panic. A panic is a crash whatever its
// value, as the exit-reason rules say (so is OTP's erlang:error(shutdown),
// whose exit reason is {shutdown, Stack}); errors.Is still finds the
// panic value's errors through PanicError.Unwrap. The crash path's case,
// a PanicError itself, is decided first, without unwrapping it.
func isShutdown(err error) bool {
	if _, ok := err.(*PanicError); ok {
		return false
	}
	if !errors.Is(err, ErrShutdown) {
		return false
	}
	_, panicked := errors.AsType[*PanicError](err)
	return !panicked
}

// onExit handles an incarnation that ended on its own.
func (r *run) onExit(inc *incarnation) {
	c := inc.c
	if inc.lane != 0 {
		r.f.claim(c) // the loop owns what it handles (lane.go)
	}
	if c.inc != inc {
		r.forget(c, inc)
		return // stopped by the supervisor already, or abandoned
	}
	r.stopPolling(c)
	inc.cancel()
	since := c.since // for backoff's ResetAfter; read now, before it is cleared
	c.inc, c.since = nil, 0
	c.setLastErr(inc.err)
	normal := isNormal(inc)
	now := time.Now() // one clock read for the event and the restart's intensity and backoff
	r.holding = true  // see holdWakes
	if normal {
		r.emitInc(EventChildExited, inc, now)
	} else {
		r.emitInc(EventChildFailed, inc, now)
	}
	r.afterExit(c, inc.err, normal, since, now)
	r.holding = false
	if r.held {
		r.settleHeld()
	}
	r.carrier = nil
	if !normal {
		// Here, where the stack has room (see NewPanicError), and after
		// the restart, which need not wait for the allocation.
		refillPanicSpares()
	}
}

// afterExit applies c's restart policy to an exit the supervisor did not
// ask for (a return from Serve, or a health-check failure), at now. A child
// that is still running (a health-check failure) is stopped here when it
// will not be restarted, and by the strategy, in its place among the
// siblings it restarts, when it will.
func (r *run) afterExit(c *child, err error, normal bool, since int64, now time.Time) {
	switch {
	case c.restart() == Temporary:
		r.stopChild(c)
		r.remove(c)
		r.significantExit(c)
	case c.restart() == Transient && normal:
		r.stopChild(c)
		r.significantExit(c)
	default:
		r.restart(c, err, since, now)
	}
}

// significantExit ends the supervisor when a significant child's own exit
// calls for it (AutoShutdown).
func (r *run) significantExit(c *child) {
	if !c.spec.significant() {
		return
	}
	switch r.s.cfg.autoShutdown {
	case AnySignificant:
	case AllSignificant:
		for o := r.f.head; o != nil; o = o.next {
			if o != c && o.spec.significant() && (o.inc != nil || o.rd().job != nil) {
				return
			}
		}
	default:
		return
	}
	r.emit(Event{Kind: EventAutoShutdown, Child: c.spec.Name})
	r.shutdown(nil)
}

// terminate stops a child by API: no restart, no auto-shutdown.
func (r *run) terminate(c *child) {
	r.stopChild(c)
	c.rw().terminated = true
	if c.restart() == Temporary {
		r.remove(c)
	}
}

// stopChild stops c per its ShutdownPolicy (see stopInc) and cancels any
// pending restart. It waits on the child alone: calls and other exits wait
// in the inbox.
func (r *run) stopChild(c *child) {
	if c.rd().job != nil {
		c.rare.job = nil
	}
	inc := c.inc
	if inc == nil {
		c.setState(ChildStopped)
		return
	}
	c.setState(ChildStopping)
	r.stopPolling(c)
	// An incarnation that ended on its own before it was asked to stop (a
	// lane child whose exit the reaper had not handled yet when the
	// shutdown took it, an exit still in the inbox) is reported as such:
	// its error is not lost behind a "stopped".
	own := inc.hasEnded()
	ownKind := EventChildExited
	if own && !isNormal(inc) {
		ownKind = EventChildFailed
	}
	ended, why, killErr := r.stopInc(c, inc)
	c.inc, c.since = nil, 0
	c.setState(ChildStopped)
	switch {
	case !ended:
		if killErr != nil {
			why = fmt.Errorf("%w; Kill: %w", why, killErr)
		}
		r.emit(Event{Kind: EventChildAbandoned, Child: c.spec.Name, Restarts: c.rd().restarts, Err: why})
	case own:
		c.setLastErr(inc.err)
		r.emit(Event{Kind: ownKind, Child: c.spec.Name, Restarts: c.rd().restarts, Err: inc.err})
	default:
		r.emit(Event{Kind: EventChildStopped, Child: c.spec.Name, Restarts: c.rd().restarts, Err: killErr})
	}
}

// awaitExit waits until inc has exited, or timeout fires (false). Exits
// arrive through the inbox, so it watches the inbox's signal without taking
// the messages, which the loop handles afterwards as usual; it re-arms the
// signal for them. This spares every incarnation a channel of its own.
func (r *run) awaitExit(inc *incarnation, timeout <-chan time.Time) bool {
	defer r.in.rearm()
	for !inc.hasEnded() {
		select {
		case <-r.in.signal:
		case <-timeout:
			return inc.hasEnded()
		}
	}
	return true
}

// shutdown stops every child, newest first, and ends the run with err.
func (r *run) shutdown(err error) {
	r.closeLane() // the lane's children join the others, to be stopped in order
	r.stopFrom(r.f.tail)
	r.ending, r.finalErr = true, err
}

// stopFrom stops c and the children before it, newest first, for the end
// of a run or a failed start. Being
// stopped is an exit (reason: shutdown), so a Temporary child's spec goes
// as after any other exit: when the supervisor is started again (its
// parent restarts it, or Start after Stop), it starts only the specs
// that outlive an exit, and a Temporary actor has stopped for good.
func (r *run) stopFrom(c *child) {
	for c != nil {
		prev := c.prev
		r.stopChild(c)
		if c.restart() == Temporary {
			r.remove(c)
		}
		c = prev
	}
	if r.s.parent != nil && len(r.gone) > 0 {
		// The parent's control goroutine may be waiting for this run to
		// end (a stop, a group restart, a start): the hooks run off this
		// goroutine, as for a Temporary exit, so that one that calls the
		// parent cannot wait for it. A top-level run disposes its specs
		// itself once it has ended (finish).
		r.s.disposals.add(r.gone)
		r.gone = r.gone[:0:0]
	}
}
