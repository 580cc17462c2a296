package supervisor

// Killing: how a stop ends an incarnation for real when the child can be
// killed (Killer), and how the supervisor makes sure that no incarnation
// it gave up waiting for goes unreported or overlaps its successor.

import (
	"fmt"
	"time"
)

// Killer is implemented by children that can be ended for real, not only
// asked to end: an OS process (SIGKILL), a remote incarnation that can be
// fenced. Go cannot kill a goroutine, so for other children cancelling
// their context is all a supervisor can do.
//
// The supervisor calls Kill at most once per incarnation, on its own
// goroutine, so Kill must not block: it starts the kill and returns; the
// incarnation then reports its exit as usual (Serve returns, or a
// Launcher's exit is called). With BrutalKill, Kill is called at once,
// before the incarnation's context is cancelled, so a child can tell a
// brutal stop from a graceful one and skip its graceful path. With
// Graceful(d), the context is cancelled first and Kill is called when d
// expires. With Infinity, Kill is never called. After Kill the supervisor
// waits up to KillTimeout for the exit; an incarnation that still has not
// ended is abandoned and reported with EventChildAbandoned.
//
// An exit after a stop the supervisor asked for is a normal exit, whatever
// error the kill makes Serve return.
type Killer interface {
	Kill()
}

// KillTimeout bounds every wait for an incarnation that was told to end
// for good: after Kill, and for a child without Kill that was stopped with
// BrutalKill (cancelled, not waited for) before its next incarnation starts
// and before its supervisor ends. An incarnation still running after it is
// abandoned, and reported: a kill should take effect within milliseconds,
// so one that has not after seconds is stuck (a process in uninterruptible
// sleep, a goroutine that ignores its context).
const KillTimeout = 5 * time.Second

// callKill calls Kill, turning a panic into a *PanicError so that a broken
// Kill neither crashes the supervisor nor goes unreported.
func callKill(k Killer) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = NewPanicError(v)
		}
	}()
	k.Kill()
	return nil
}

// stopInc ends the running incarnation of c per its ShutdownPolicy and
// reports whether it has ended, and why not when it has not (an error for
// the abandoned event), along with a panic of Kill, if any. A BrutalKill'd
// incarnation without Kill that has not ended yet is left lingering: it
// counts as stopped now, and is waited for (bounded) later.
func (r *run) stopInc(c *child, inc *incarnation) (ended bool, why, killErr error) {
	pol := c.shutdown()
	killer, _ := inc.inst.(Killer)
	inc.flags.Or(incCancelled)
	if pol == BrutalKill && killer != nil {
		killErr = callKill(killer)
	}
	inc.cancel()
	switch {
	case pol == Infinity:
		return r.awaitExit(inc, nil), nil, nil
	case pol == BrutalKill && killer == nil:
		if !inc.hasEnded() {
			r.linger(c, inc)
		}
		return true, nil, nil
	case pol == BrutalKill:
		if r.awaitFor(inc, KillTimeout) {
			return true, nil, killErr
		}
		return false, fmt.Errorf("still running %v after Kill (BrutalKill)", KillTimeout), killErr
	}
	grace := time.Duration(pol)
	if r.awaitFor(inc, grace) {
		return true, nil, nil
	}
	if killer == nil {
		return false, fmt.Errorf("still running %v after cancel", grace), nil
	}
	killErr = callKill(killer)
	if r.awaitFor(inc, KillTimeout) {
		return true, nil, killErr
	}
	return false, fmt.Errorf("still running %v after cancel and %v after Kill", grace, KillTimeout), killErr
}

// awaitFor waits up to d for inc to end.
func (r *run) awaitFor(inc *incarnation, d time.Duration) bool {
	if inc.hasEnded() {
		return true
	}
	t := r.resetTimer(d)
	ok := r.awaitExit(inc, t.C)
	t.Stop()
	return ok
}

// linger records a BrutalKill'd incarnation that may still run.
func (r *run) linger(c *child, inc *incarnation) {
	if r.lingering == nil {
		r.lingering = make(map[*child]*incarnation)
	}
	r.lingering[c] = inc
}

// settle waits (up to KillTimeout) for c's lingering incarnation, if any,
// before c starts again: two incarnations of a child never overlap unless
// the older one has been reported abandoned.
func (r *run) settle(c *child) {
	if len(r.lingering) == 0 {
		return
	}
	inc, ok := r.lingering[c]
	if !ok {
		return
	}
	delete(r.lingering, c)
	if !r.awaitFor(inc, KillTimeout) {
		r.abandonLingering(c)
	}
}

// settleAll waits for every lingering incarnation when the supervisor
// ends, all within one KillTimeout, and reports those still running: no
// goroutine of a child outlives its supervisor unreported.
func (r *run) settleAll() {
	if len(r.lingering) == 0 {
		return
	}
	deadline := time.Now().Add(KillTimeout)
	for c := r.f.tail; c != nil; c = c.prev { // newest first, as they were stopped
		r.settleBy(c, deadline)
	}
	for c := range r.lingering { // children removed meanwhile
		r.settleBy(c, deadline)
	}
}

func (r *run) settleBy(c *child, deadline time.Time) {
	inc, ok := r.lingering[c]
	if !ok {
		return
	}
	delete(r.lingering, c)
	if inc.hasEnded() {
		return
	}
	if d := time.Until(deadline); d <= 0 || !r.awaitFor(inc, d) {
		r.abandonLingering(c)
	}
}

func (r *run) abandonLingering(c *child) {
	r.emit(Event{Kind: EventChildAbandoned, Child: c.spec.Name, Restarts: c.rd().restarts,
		Err: fmt.Errorf("still running %v after cancel (BrutalKill, no Kill)", KillTimeout)})
}

// forget drops inc from the lingering ones once its exit has arrived.
func (r *run) forget(c *child, inc *incarnation) {
	if l, ok := r.lingering[c]; ok && l == inc {
		delete(r.lingering, c)
	}
}
