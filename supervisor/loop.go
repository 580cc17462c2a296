package supervisor

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// op names a call to the control loop.
type op int

const (
	opStartChild op = iota + 1
	opTerminate
	opRestart
	opDelete
	opWhich
	opCount
	opStop
	opInfo
	opExit       // an incarnation ended
	opRestartDue // a restart job's delay is over
	opHealthDue  // time to check a child's health
	opHealthDone // a health check finished (or timed out)
)

// msg is everything the control loop receives. One small flat struct
// keeps the hot messages (exits) free of interface boxing and cheap to
// queue; calls carry their arguments behind a pointer.
type msg struct {
	op    op
	inc   *incarnation
	job   *restartJob
	check *healthResult
	call  *call
}

// call is a request from the public API, answered on reply.
type call struct {
	op    op
	name  string
	specs []Spec
	one   [1]Spec     // backs specs for StartChild: one allocation per call
	made  Child       // what New returned for specs[0] on the caller's goroutine (startLane), or nil
	buf   []ChildInfo // room for a snapshot, allocated by the caller

	// The answer, handed over by a WaitGroup rather than a channel: it
	// lives inside the call, so a call costs one allocation.
	rep  reply
	done sync.WaitGroup
}

// answer hands the reply to the waiting caller.
func (c *call) answer(rep reply) {
	c.rep = rep
	c.done.Done()
}

type reply struct {
	gone   []*child // removed by the call: the caller runs their Dispose hooks
	err    error
	infos  []ChildInfo
	counts ChildCounts
	info   *Info
}

// run is one life of a supervisor, from Start to its end.
type run struct {
	s       *Supervisor
	in      *inbox
	ctx     context.Context // the ctx given to Start: its end stops the run
	base    context.Context // children's contexts derive from it, uncancelled
	started chan error
	done    chan struct{}

	f         *family
	intensity intensity
	timer     *time.Timer               // reused for start timeouts and graceful stops
	jobs      map[*restartJob]struct{}  // pending restarts, to stop their timers at the end
	checks    map[*healthCheck]struct{} // health checks whose goroutine still runs
	lingering map[*child]*incarnation   // BrutalKill'd incarnations that may still run (killer.go)
	gone      []*child                  // removed specs whose Dispose hooks are still to run
	ending    bool
	finalErr  error
	gaveUp    int // restarts in the window when it gave up (intensity); 0 if it did not
	startedAt time.Time
	path      string

	// The lane's reaper (lane.go): exits pushed by the children's
	// goroutines, and whether a reaper goroutine runs.
	dead     atomic.Pointer[deadExit]
	reaping  atomic.Bool
	entering atomic.Int32 // laneExits under way

	// A restart's held wake-ups (see holdWakes in dispatch.go). The
	// loop alone uses holding (its emits may hold a parked delivery
	// goroutine's wake-up), held (one did) and carrier (the actor the
	// restart launched, which may carry them); owes says that some
	// may still be owed, for whoever pays them: the restarted actor's
	// activation, or the loop's next turn.
	holding bool
	held    bool
	carrier eventCarrier
	owes    atomic.Bool
	// oweLimit pays what is still owed heldWakeLimit after a carried
	// restart (see holdWakes): a restarted actor whose first Receive
	// blocks does not hold its restart's events for as long. Armed by
	// the loop when it is not armed already (oweArmed), so a crash loop
	// resets it about once per heldWakeLimit, not once per restart.
	oweLimit *time.Timer
	oweArmed atomic.Bool

	ended *endedCtx // what children that stopped for good keep as their context (see incCtx.Ended)
}

func newRun(s *Supervisor, ctx context.Context) *run {
	base := context.WithoutCancel(ctx)
	return &run{
		s: s, in: newInbox(), ctx: ctx, base: base, ended: &endedCtx{base: base},
		started: make(chan error, 1), done: s.done, f: &s.children,
		intensity: intensity{max: s.cfg.maxRestarts, period: s.cfg.period},
		jobs:      make(map[*restartJob]struct{}),
		checks:    make(map[*healthCheck]struct{}),
		path:      s.path,
	}
}

func (r *run) main() {
	r.startedAt = time.Now()
	if err := r.startAll(); err != nil {
		r.finish(err)
		r.started <- err
		return
	}
	r.emit(Event{Kind: EventSupervisorStarted})
	r.openLane()
	r.started <- nil
	ctxDone := r.ctx.Done()
	for !r.ending {
		select {
		case <-r.in.signal:
			if r.owes.Load() {
				r.payHeld(false) // the restarted actor has not paid them yet
			}
			batch := r.in.take()
			for i := range batch {
				r.handle(batch[i])
				if r.ending {
					r.deferred(batch[i+1:])
					break
				}
			}
			r.in.recycle(batch)
		case <-ctxDone:
			r.shutdown(nil)
		}
	}
	r.finish(r.finalErr)
}

// deferred holds messages that arrived in the same batch as the end; they
// are answered by finish like any other late message.
func (r *run) deferred(rest []msg) {
	for _, m := range rest {
		r.in.mu.Lock()
		r.in.q = append(r.in.q, m)
		r.in.mu.Unlock()
	}
}

// finish ends the run: every child has stopped by now.
func (r *run) finish(err error) {
	s := r.s
	if r.oweLimit != nil {
		r.oweLimit.Stop()
	}
	if r.owes.Load() {
		r.payHeld(false) // an ancestor's dispatchers are not closed by this end (see holdWakes)
	}
	r.settleAll()
	r.awaitChecks()
	if r.timer != nil {
		r.timer.Stop()
	}
	for job := range r.jobs {
		if job.timer != nil {
			job.timer.Stop()
		}
	}
	inWindow := r.gaveUp
	if inWindow == 0 {
		inWindow = r.intensity.used(time.Now())
	}
	r.emit(Event{Kind: EventSupervisorStopped, Err: err, Restarts: inWindow})
	late := r.in.close()
	s.mu.Lock()
	var gone []*child
	if s.parent == nil || s.dispose {
		s.dispose = false
		gone = s.children.takeGone()
	}
	s.phase, s.err = ended, err
	s.openEvents(false) // the delivery goroutines exit once they have delivered the last events
	onEnd := s.onEnd
	s.onEnd = nil
	var answers []func()
	for _, m := range late {
		if m.call != nil {
			rep, deleted := s.children.offline(s, m.call)
			if deleted != nil {
				gone = append(gone, deleted)
			}
			c := m.call
			answers = append(answers, func() { c.answer(rep) })
		}
	}
	s.mu.Unlock()
	gone = append(r.gone, gone...)
	r.gone = nil
	disposeEach(gone) // the supervisor has ended: hooks that call it get offline answers
	for _, answer := range answers {
		answer()
	}
	close(r.done)
	if onEnd != nil {
		onEnd(err)
	}
}

func (r *run) handle(m msg) {
	switch m.op {
	case opExit:
		r.onExit(m.inc)
	case opRestartDue:
		r.runJob(m.job)
	case opHealthDue:
		r.checkHealth(m.inc)
	case opHealthDone:
		if m.check.returned {
			delete(r.checks, m.check.chk)
		}
		r.onHealth(m.check.chk, m.check.status)
	case opStop:
		r.shutdown(nil)
	default:
		rep := r.call(m.call)
		rep.gone, r.gone = r.gone, nil // the caller disposes them before returning
		m.call.answer(rep)
		return
	}
	if len(r.gone) > 0 {
		r.s.disposals.add(r.gone)
		r.gone = r.gone[:0:0]
	}
}

func (r *run) errf(name string, sentinel error) error {
	return fmt.Errorf("supervisor %s: child %q: %w", r.path, name, sentinel)
}

// call answers the public API while running.
func (r *run) call(m *call) reply {
	switch m.op {
	case opWhich:
		return reply{infos: r.f.infos(m.buf)}
	case opCount:
		return reply{counts: r.f.counts()}
	case opInfo:
		info := r.info(m.buf)
		return reply{info: &info}
	case opStartChild:
		made := m.made
		m.made = nil // taken: StartChild disposes it only if the loop never got it
		return reply{err: r.startChildren(m.specs, made)}
	}
	c := r.f.lookup(m.name)
	if c == nil {
		return reply{err: r.errf(m.name, ErrNotFound)}
	}
	switch m.op {
	case opTerminate:
		r.terminate(c)
		return reply{}
	case opRestart, opDelete:
		switch {
		case c.inc != nil:
			return reply{err: r.errf(m.name, ErrRunning)}
		case c.rd().job != nil:
			return reply{err: r.errf(m.name, ErrRestarting)}
		}
		if m.op == opDelete {
			r.remove(c)
			return reply{}
		}
		if c.rare != nil {
			c.rare.terminated = false
		}
		if err := r.startChild(c, false); err != nil {
			return reply{err: err}
		}
		return reply{}
	}
	return reply{err: fmt.Errorf("supervisor %s: unknown call %d", r.path, m.op)}
}

// startAll starts the recorded specs in order; on a failure it stops the
// ones it started, newest first.
func (r *run) startAll() error {
	for c := r.f.head; c != nil; c = c.next {
		if r.s.parent != nil && r.ctx.Err() != nil {
			// The parent gave up on this start (its StartTimeout): do not
			// start more children only to stop them again.
			r.stopFrom(c.prev)
			return fmt.Errorf("supervisor %s: start abandoned by %s before child %q: %w",
				r.path, r.s.parent.where(), c.spec.Name, r.ctx.Err())
		}
		if c.rare != nil {
			c.rare.terminated = false
		}
		if err := r.startChild(c, false); err != nil {
			r.stopFrom(c.prev)
			return err
		}
	}
	return nil
}

// startChildren adds specs while running: all or nothing. made, if not
// nil, is what New returned for the first spec already (see startLane).
func (r *run) startChildren(specs []Spec, made Child) error {
	cs, err := r.f.admit(r.s, specs)
	if err != nil {
		return err
	}
	for i, c := range cs {
		r.f.append(c)
		err := r.startChildWith(c, false, made)
		made = nil
		if err != nil {
			for j := i; j >= 0; j-- {
				if j < i {
					r.stopChild(cs[j])
				}
				r.f.remove(cs[j])
				r.emit(Event{Kind: EventChildRemoved, Child: cs[j].spec.Name})
				r.gone = append(r.gone, cs[j])
			}
			return err
		}
	}
	return nil
}

// remove drops a stopped child's spec for good.
func (r *run) remove(c *child) {
	// Emitted before the name is free: a lane start may take it at once,
	// and its started event must follow this one.
	r.emit(Event{Kind: EventChildRemoved, Child: c.spec.Name, Restarts: c.rd().restarts})
	r.f.remove(c)
	r.gone = append(r.gone, c) // disposed off this goroutine (dispose.go)
}
