package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/airssys/rt/health"
)

var healthyStatus = health.Healthy()

// healthPoll is a child's health-check state, owned by the loop.
type healthPoll struct {
	timer     *time.Timer  // next check, or the timeout of the one in flight
	inflight  *healthCheck // the check being decided; nil when none
	running   *healthCheck // a check whose CheckHealth has not returned, decided or not
	unhealthy int          // consecutive unhealthy results
	status    health.Status
}

// healthResult is what a check (or its timeout) reports to the loop.
type healthResult struct {
	chk      *healthCheck
	status   health.Status
	returned bool // from CheckHealth itself, not its timeout: its goroutine is ending
}

// healthCheck is one call of CheckHealth; the first of its result and its
// timeout to reach the loop decides it.
type healthCheck struct {
	inc      *incarnation
	done     chan struct{} // closed when the check's goroutine ends
	deadline time.Time
}

func (r *run) startPolling(c *child) {
	if c.spec.health().Interval <= 0 {
		return
	}
	if _, ok := c.inc.inst.(health.Checker); !ok {
		return
	}
	if c.rd().poll == nil {
		c.rw().poll = &healthPoll{}
	}
	c.rd().poll.unhealthy = 0
	r.armHealth(c.inc)
}

func (r *run) armHealth(inc *incarnation) {
	in := r.in
	inc.c.rd().poll.timer = time.AfterFunc(inc.c.spec.health().Interval, func() {
		in.push(msg{op: opHealthDue, inc: inc})
	})
}

func (r *run) stopPolling(c *child) {
	if c.rd().poll == nil {
		return
	}
	if c.rd().poll.timer != nil {
		c.rd().poll.timer.Stop()
		c.rd().poll.timer = nil
	}
	c.rd().poll.inflight = nil
}

// checkHealth calls CheckHealth on a goroutine of its own, bounded by the
// policy's timeout, so a hung check cannot stall the supervisor. A check
// that ignores its ctx and outlives its timeout is not joined by another:
// while it runs, each check due is not started and counts as unhealthy, so
// a child has at most one CheckHealth running at a time.
func (r *run) checkHealth(inc *incarnation) {
	c := inc.c
	if c.inc != inc || c.rd().poll == nil || c.rd().poll.inflight != nil {
		return
	}
	timeout := c.spec.health().Timeout
	if timeout == 0 {
		timeout = DefaultHealthTimeout
	}
	if prev := c.rd().poll.running; prev != nil {
		select { // has its goroutine ended?
		case <-prev.done:
			c.rd().poll.running = nil
		default:
		}
	}
	if c.rd().poll.running != nil {
		skipped := &healthCheck{inc: inc}
		c.rd().poll.inflight = skipped
		r.onHealth(skipped, health.Unhealthy(fmt.Sprintf(
			"health check not started: the previous one, timed out after %v, is still running", timeout)))
		return
	}
	chk := &healthCheck{inc: inc, done: make(chan struct{}), deadline: time.Now().Add(timeout)}
	c.rd().poll.inflight, c.rd().poll.running = chk, chk
	r.checks[chk] = struct{}{}
	in := r.in
	hctx, cancel := context.WithTimeout(&inc.incCtx, timeout)
	go func() {
		defer close(chk.done)
		st := safeCheck(inc.inst.(health.Checker), hctx)
		cancel()
		in.push(msg{op: opHealthDone, check: &healthResult{chk: chk, status: st, returned: true}})
	}()
	timedOut := &healthResult{chk: chk, status: health.Unhealthy(fmt.Sprintf("health check timed out after %v", timeout))}
	c.rd().poll.timer = time.AfterFunc(timeout, func() {
		in.push(msg{op: opHealthDone, check: timedOut})
	})
}

// onHealth applies a check's result: Unhealthy counts, Healthy resets the
// count, Degraded is reported only. At the threshold the child is restarted
// as if it had failed.
func (r *run) onHealth(chk *healthCheck, st health.Status) {
	inc := chk.inc
	c := inc.c
	if c.inc != inc || c.rd().poll == nil || c.rd().poll.inflight != chk {
		return // late: the incarnation ended, or the other half already decided
	}
	c.rd().poll.inflight = nil
	if c.rd().poll.timer != nil {
		c.rd().poll.timer.Stop()
	}
	if st.State != c.rd().poll.status.State {
		r.emit(Event{Kind: EventHealthChanged, Child: c.spec.Name, Health: st, Restarts: c.rd().restarts})
	}
	c.rd().poll.status = st
	switch st.State {
	case health.StateUnhealthy:
		c.rd().poll.unhealthy++
	case health.StateHealthy:
		c.rd().poll.unhealthy = 0
	}
	threshold := c.spec.health().UnhealthyThreshold
	if threshold == 0 {
		threshold = DefaultUnhealthyThreshold
	}
	if c.rd().poll.unhealthy < threshold {
		r.armHealth(inc)
		return
	}
	err := fmt.Errorf("%w: %d consecutive unhealthy checks, last: %s", ErrUnhealthy, c.rd().poll.unhealthy, st.Reason)
	r.emit(Event{Kind: EventHealthRestart, Child: c.spec.Name, Health: st, Err: err, Restarts: c.rd().restarts})
	// The child is still running: afterExit stops it where the strategy
	// says, so that the siblings that depend on it stop first.
	since := c.since
	c.setLastErr(err)
	r.afterExit(c, err, false, since, time.Now())
}

func safeCheck(ck health.Checker, ctx context.Context) (st health.Status) {
	defer func() {
		if v := recover(); v != nil {
			st = health.Unhealthy(fmt.Sprintf("health check panicked: %v\n%s", v, NewPanicError(v).Stack()))
		}
	}()
	return ck.CheckHealth(ctx)
}

// awaitChecks lets the checks still running when the supervisor ends
// return (their contexts are cancelled), each until its own timeout; one
// that outlives it is abandoned and reported, like a child that outlives
// its Graceful shutdown.
func (r *run) awaitChecks() {
	for chk := range r.checks {
		delete(r.checks, chk)
		if wait := time.Until(chk.deadline); wait > 0 {
			t := r.resetTimer(wait)
			select {
			case <-chk.done:
				t.Stop()
				continue
			case <-t.C:
			}
		} else {
			select {
			case <-chk.done:
				continue
			default:
			}
		}
		r.emit(Event{Kind: EventChildAbandoned, Child: chk.inc.c.spec.Name,
			Err: fmt.Errorf("health check still running after its timeout")})
	}
}
