package supervisor

import (
	"fmt"
	"time"
)

// restartJob is a pending restart: the children to start again, in start
// order, after an optional backoff delay. A child leaves a job (c.rd().job no
// longer points to it) when it is terminated or taken over by a newer job.
type restartJob struct {
	group  []*child
	failed *child
	timer  *time.Timer
}

// restart handles a failure of c that calls for a restart: it counts the
// restart against the intensity, stops the siblings the strategy names and
// starts the group again, now or after the backoff delay.
// since is when the failed incarnation started (UnixNano; 0 if unknown).
func (r *run) restart(c *child, cause error, since int64, now time.Time) {
	if !r.intensity.add(now) {
		r.giveUp(c, cause)
		return
	}
	if r.s.strategy == OneForOne && !r.s.cfg.backoff.enabled() {
		// What a job of one child without a delay comes to (groupFor,
		// schedule, runJob), without the job: three allocations less
		// per restart in the common case.
		r.stopChild(c)
		c.setState(ChildRestarting)
		if err := r.startChild(c, true); err != nil {
			r.retry([]*child{c}, c, err)
		}
		return
	}
	group := r.groupFor(c)
	job := &restartJob{group: group, failed: c}
	for _, g := range group {
		g.rw().job = job
		g.setState(ChildRestarting)
	}
	r.schedule(job, r.backoffFor(c, since, now))
}

// giveUp ends the supervisor after too many restarts: escalation.
func (r *run) giveUp(c *child, cause error) {
	r.gaveUp = len(r.intensity.times) // the refused restart included: "more than max"
	err := fmt.Errorf("supervisor %s: %w: more than %d restarts in %v; last failure: child %q: %w",
		r.path, ErrIntensityExceeded, r.intensity.max, r.intensity.period, c.spec.Name, cause)
	r.emit(Event{Kind: EventIntensityExceeded, Child: c.spec.Name, Err: err, Restarts: c.rd().restarts})
	r.shutdown(err)
}

// groupFor stops the children that the strategy restarts with c, newest
// first (c too, in its place, if it still runs: a health restart), drops
// the temporary ones, and returns the children to start again in start
// order.
func (r *run) groupFor(c *child) []*child {
	var first *child
	switch r.s.strategy {
	case OneForOne:
		r.stopChild(c)
		return []*child{c}
	case OneForAll:
		first = r.f.head
	case RestForOne:
		first = c
	}
	for o := r.f.tail; o != nil; o = o.prev {
		r.stopChild(o)
		if o == first {
			break
		}
	}
	var group []*child
	for o := first; o != nil; {
		next := o.next
		if o.restart() == Temporary && o != c {
			r.remove(o)
		} else {
			group = append(group, o)
		}
		o = next
	}
	return group
}

// backoffFor is the delay before restarting c, from its consecutive
// failures; a child that ran ResetAfter without failing starts afresh.
func (r *run) backoffFor(c *child, since int64, now time.Time) time.Duration {
	b := r.s.cfg.backoff
	if !b.enabled() {
		return 0
	}
	if since != 0 && time.Duration(now.UnixNano()-since) >= b.resetAfter() {
		c.rw().consecutive = 0
	}
	c.rw().consecutive++
	return b.delay(int(c.rd().consecutive))
}

// schedule runs job after delay, or at once without one.
func (r *run) schedule(job *restartJob, delay time.Duration) {
	if delay <= 0 {
		r.runJob(job)
		return
	}
	r.jobs[job] = struct{}{}
	r.emit(Event{Kind: EventChildRestartScheduled, Child: job.failed.spec.Name, Delay: delay, Restarts: job.failed.rd().restarts})
	in := r.in
	job.timer = time.AfterFunc(delay, func() { in.push(msg{op: opRestartDue, job: job}) })
}

// runJob starts a group again in order. If one fails to start, the ones
// started by this attempt are stopped again and the whole group is retried:
// each retry counts toward the intensity and waits for the backoff.
func (r *run) runJob(job *restartJob) {
	delete(r.jobs, job)
	job.timer = nil
	var started []*child
	for i, c := range job.group {
		if c.rd().job != job {
			continue // terminated, or taken over by a newer job
		}
		c.rare.job = nil
		if err := r.startChild(c, true); err != nil {
			for j := len(started) - 1; j >= 0; j-- {
				r.stopChild(started[j])
			}
			group := append(started, c)
			for _, g := range job.group[i+1:] {
				if g.rd().job == job {
					group = append(group, g)
				}
			}
			r.retry(group, c, err)
			return
		}
		started = append(started, c)
	}
}

// retry schedules a failed restart again, counted toward the intensity.
func (r *run) retry(group []*child, failed *child, err error) {
	now := time.Now()
	if !r.intensity.add(now) {
		r.giveUp(failed, err)
		return
	}
	job := &restartJob{group: group, failed: failed}
	for _, g := range group {
		g.rw().job = job
		g.setState(ChildRestarting)
	}
	delay := r.backoffFor(failed, 0, now)
	if delay <= 0 {
		// Through the inbox, so that calls and other exits are served
		// between attempts.
		r.jobs[job] = struct{}{}
		r.in.push(msg{op: opRestartDue, job: job})
		return
	}
	r.schedule(job, delay)
}
